/**
 * Closing a unary gRPC server (src/authz/grpc-unary.ts): the calls in flight are answered, a
 * request still arriving is refused UNAVAILABLE, one not yet read is refused by HTTP/2
 * (REFUSED_STREAM), new connections are refused, and what is left is destroyed after the grace.
 */
import { connect, constants } from 'node:http2';
import { createConnection } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { GrpcStatus, frameMessage } from '../../../src/authz/grpc-protocol.js';
import { utf8, handled, release, echoServer, untilHeld, serverAndSession, raw, statusOf, resetEcho } from '../../support/grpc-echo.js';

afterEach(resetEcho);

describe('closing a unary gRPC server', () => {
  it('destroys the connections still open once the grace period is over', async () => {
    const { server, session } = await serverAndSession({ closeGraceMs: 200 });
    const held = raw(session, [frameMessage(utf8('hold'))]).then(() => 'answered', () => 'cut');
    await untilHeld();
    const started = performance.now();
    await server.close();
    expect(performance.now() - started).toBeGreaterThanOrEqual(150);
    expect(await held).toBe('cut');
    session.destroy();
  });

  it('resolves by the grace period though a client never closes its end of the connection', async () => {
    // A peer that sends nothing and never closes (frozen, or behind a partition that drops
    // packets): destroying its HTTP/2 session only half-closes the socket, and the server's
    // close waited for the peer's FIN, for ever, holding up the whole stop of authz.
    const server = echoServer({ closeGraceMs: 200 });
    const port = await server.listen('127.0.0.1', 0);
    const silent = createConnection(port, '127.0.0.1');
    silent.on('error', () => undefined);
    silent.on('end', () => undefined); // never answered with an end of its own
    silent.allowHalfOpen = true;
    await new Promise((r) => silent.once('connect', r));
    const closing = server.close().then(() => 'closed');
    const outcome = await Promise.race([closing, new Promise((r) => setTimeout(() => r('still closing after 3 s'), 3_000))]);
    silent.destroy();
    await closing;
    expect(outcome).toBe('closed');
  });

  it('refuses, UNAVAILABLE, a request still arriving, and resolves without waiting for it', async () => {
    const { server, session } = await serverAndSession();
    const slow = raw(session, [Uint8Array.of(0, 0, 0)], { end: false });
    // The server has the slow call once a call sent after it on the same connection is answered
    // (frames of one connection are read in order). A fixed wait was outlasted on a loaded
    // machine: close() then began before the server had read the headers, and the stream was
    // refused unprocessed (the next test), not answered.
    expect(statusOf(await raw(session, [frameMessage(utf8('sent after it'))]))).toBe(0);
    await server.close();
    expect(statusOf(await slow)).toBe(GrpcStatus.UNAVAILABLE);
    expect(handled).toEqual(['sent after it']);
    session.destroy();
  });

  it('refuses a whole request whose headers come after it began: REFUSED_STREAM, unprocessed, so the client may send it elsewhere', async () => {
    const { server, session } = await serverAndSession();
    // The server's SETTINGS have come: its end of the connection is open, so the request is
    // refused by the GOAWAY, not with the connection.
    await new Promise((r) => session.once('remoteSettings', r));
    const late = raw(session, [frameMessage(utf8('late'))]);
    // In the same turn of the loop: the server reads the request only after its GOAWAY is sent.
    const closing = server.close();
    await expect(late).rejects.toThrow(`no answer (rst ${constants.NGHTTP2_REFUSED_STREAM})`);
    await closing;
    expect(handled).toEqual([]);
    session.destroy();
  });

  it('answers the calls in flight, then resolves; new connections are refused', async () => {
    const { server, port, session } = await serverAndSession();
    const held = raw(session, [frameMessage(utf8('hold'))]);
    await untilHeld();
    let closed = false;
    const closing = server.close().then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(closed, 'close waits for the call in flight').toBe(false);
    release.shift()!();
    const a = await held;
    expect(statusOf(a)).toBe(0);
    expect(a.data.subarray(5).toString()).toBe('echo hold');
    await closing;
    const refused = await new Promise<boolean>((resolve) => {
      const s = connect(`http://127.0.0.1:${port}`);
      s.on('error', () => resolve(true));
      s.on('connect', () => {
        s.close();
        resolve(false);
      });
    });
    expect(refused).toBe(true);
    session.destroy();
  });
});
