/**
 * Closing a unary gRPC server (src/authz/grpc-unary.ts): the calls in flight are answered, and
 * so are those the client sent before it read the first GOAWAY (RFC 9113 §6.8's two GOAWAYs,
 * a PING's round trip apart, over real HTTP/2); a request still arriving after that is refused
 * UNAVAILABLE, new connections are refused, and what is left is destroyed after the grace.
 */
import { connect } from 'node:http2';
import { createConnection } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { GrpcStatus, frameMessage } from '../../../src/authz/grpc-protocol.js';
import { utf8, handled, release, echoServer, untilHeld, serverAndSession, raw, statusOf, resetEcho } from '../../support/grpc-echo.js';
import { delayProxy, frameReader, lastStreamId, GOAWAY, PING, SETTINGS, type ServerFrame } from '../../support/h2-delay-proxy.js';

const EMPTY_SETTINGS = Buffer.from([0, 0, 0, SETTINGS, 0, 0, 0, 0, 0]);
const SETTINGS_ACK = Buffer.from([0, 0, 0, SETTINGS, 1, 0, 0, 0, 0]);
/** The last-stream-ids of the GOAWAYs among `frames`, each once, in the order first sent. */
const goaways = (frames: ServerFrame[]) => [...new Set(frames.filter((f) => f.type === GOAWAY).map(lastStreamId))];

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

  it('answers a whole request whose headers come as the stop begins, before the client has read the GOAWAY', async () => {
    const { server, session } = await serverAndSession();
    await new Promise((r) => session.once('remoteSettings', r));
    const late = raw(session, [frameMessage(utf8('late'))]);
    // In the same turn of the loop: the server reads the request only after it began to stop.
    // With one GOAWAY naming the last stream read, it was refused (REFUSED_STREAM) and Envoy
    // denied the request it was checking; the first GOAWAY now names no stream (RFC 9113 §6.8).
    const closing = server.close();
    expect(statusOf(await late)).toBe(0);
    await closing;
    expect(handled).toEqual(['late']);
    session.destroy();
  });

  it('answers a request sent while the GOAWAY was on its way to the client, then sends the final GOAWAY naming it', async () => {
    const server = echoServer();
    const port = await server.listen('127.0.0.1', 0);
    // The client reads what the server sends 50 ms late: a network's round trip.
    const proxy = await delayProxy(port, 50);
    const session = connect(`http://127.0.0.1:${proxy.port}`);
    session.on('error', () => undefined);
    expect(statusOf(await raw(session, [frameMessage(utf8('first'))]))).toBe(0);
    const closing = server.close();
    // Sent 10 ms after the stop began, 40 ms before the first GOAWAY reaches the client (timers
    // fire in the order they fall due, however late): Envoy opens streams until it reads it.
    await new Promise((r) => setTimeout(r, 10));
    expect(statusOf(await raw(session, [frameMessage(utf8('on its way'))]))).toBe(0);
    await closing;
    expect(handled).toEqual(['first', 'on its way']);
    // The notice first (2^31-1: no stream refused), then, a PING's round trip later, streams 1
    // and 3 processed (Node sends that one again as it ends the session).
    expect(goaways(proxy.frames)).toEqual([2 ** 31 - 1, 3]);
    proxy.close();
    session.destroy();
  });

  it('sends the final GOAWAY closeRoundTripMs after the notice to a client that never answers the PING, and resolves', async () => {
    const server = echoServer({ closeRoundTripMs: 200 }); // the close grace stays 30 s
    const port = await server.listen('127.0.0.1', 0);
    const mute = createConnection(port, '127.0.0.1');
    mute.on('error', () => undefined);
    const frames: ServerFrame[] = [];
    // An HTTP/2 client that acknowledges the server's SETTINGS and nothing else, PING included.
    mute.on('data', frameReader((frame) => {
      frames.push(frame);
      if (frame.type === SETTINGS && frames.length === 1) mute.write(SETTINGS_ACK);
    }));
    mute.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), EMPTY_SETTINGS]));
    while (frames.length === 0) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 50)); // its SETTINGS ACK read
    const closing = server.close().then(() => 'closed');
    const outcome = await Promise.race([closing, new Promise((r) => setTimeout(() => r('still closing after 5 s'), 5_000))]);
    mute.destroy();
    await closing;
    expect(outcome).toBe('closed');
    expect(frames.map((f) => f.type)).toContain(PING);
    expect(goaways(frames)).toEqual([2 ** 31 - 1, 0]);
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
