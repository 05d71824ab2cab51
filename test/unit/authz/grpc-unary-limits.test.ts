/**
 * What one client may hold of a unary gRPC server (src/authz/grpc-unary.ts): the bytes of
 * requests still arriving and of calls being handled, a call's time, a message slow to come,
 * idle connections and connections at once, and the calls open at once, in all and per client.
 */
import { connect, constants } from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import { GrpcStatus, frameMessage } from '../../../src/authz/grpc-protocol.js';
import { ECHO, utf8, handled, release, untilHeld, echoServer, serverAndSession, withServer, raw, stalledCall, statusOf, messageOf, resetEcho } from '../../support/grpc-echo.js';
import { delayProxy, GOAWAY } from '../../support/h2-delay-proxy.js';

afterEach(resetEcho);

describe('the bytes of requests still arriving', () => {
  it('are what has come, not what a prefix announces: a client that only announces holds nothing', async () => {
    await withServer({ maxHeldBytes: 1_500 }, async (session) => {
      // Three prefixes announcing 1,000 bytes each: 3,000 announced, 15 bytes sent.
      const announcers = Array.from({ length: 3 }, () => {
        const prefix = Buffer.alloc(5);
        prefix.writeUInt32BE(1_000, 1);
        const stream = session.request({ ':method': 'POST', ':path': ECHO, 'content-type': 'application/grpc' });
        stream.on('error', () => undefined);
        stream.write(prefix);
        return stream;
      });
      await new Promise((r) => setTimeout(r, 50));
      expect(statusOf(await raw(session, [frameMessage(utf8('through'))]))).toBe(0);
      for (const s of announcers) s.close(constants.NGHTTP2_CANCEL);
    });
  });

  it('are the bytes of a message sent a byte a frame, not a buffer object each', async () => {
    await withServer({ maxHeldBytes: 1_000 }, async (session) => {
      const frame = frameMessage(utf8('f'.repeat(300)));
      const a = await raw(session, Array.from(frame, (byte) => Uint8Array.of(byte)), { paced: true });
      expect(statusOf(a)).toBe(0);
      expect(a.data.subarray(5).toString()).toBe(`echo ${'f'.repeat(300)}`);
    });
  });

  it('are bounded in all: a message past the budget is refused as it comes, and taken again once room is made', async () => {
    // The first holds a buffer of its 1,000 bytes once 900 have come; another 1,000 do not fit.
    await withServer({ maxHeldBytes: 1_900 }, async (session) => {
      const big = frameMessage(utf8('b'.repeat(1_000)));
      const first = session.request({ ':method': 'POST', ':path': ECHO, 'content-type': 'application/grpc' });
      const firstDone = new Promise<void>((resolve) => first.on('close', () => resolve()));
      first.on('error', () => undefined);
      first.resume();
      first.write(big.subarray(0, 900));
      await new Promise((r) => setTimeout(r, 50));
      const second = await raw(session, [big]);
      expect(statusOf(second)).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
      expect(messageOf(second)).toMatch(/too many request bytes/);
      first.end(big.subarray(900));
      await firstDone;
      expect(statusOf(await raw(session, [big]))).toBe(0);
      expect(handled).toHaveLength(2);
    });
  });
});

describe('what a call holds', () => {
  it('counts what decoding its message builds, from before it is decoded until it is answered', async () => {
    await withServer({ maxHeldBytes: 1_600 }, async (session) => {
      const held = raw(session, [frameMessage(utf8('heavy hold'))]);
      await untilHeld();
      // Released however this ends, so that a failure does not wait out the close grace.
      setTimeout(() => release.forEach((r) => r()), 5_000).unref();
      // 'heavy hold' holds 10 + 1,000 bytes while its handler runs: another 1,005 do not fit, 5 do.
      const refused = await raw(session, [frameMessage(utf8('heavy'))]);
      expect(statusOf(refused)).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
      expect(messageOf(refused)).toMatch(/holds too many request bytes/);
      expect(statusOf(await raw(session, [frameMessage(utf8('light'))]))).toBe(0);
      release.shift()!();
      expect(statusOf(await held)).toBe(0);
      expect(statusOf(await raw(session, [frameMessage(utf8('heavy'))]))).toBe(0);
      expect(handled).toEqual(['heavy hold', 'light', 'heavy']);
    });
  });

  it('is given back once the call is answered, though a client that reads nothing keeps its stream open', async () => {
    const { server, port, session } = await serverAndSession({ maxHeldBytes: 1_600 });
    // A window of zero: the answer's HEADERS come, its DATA and trailers never leave the server.
    const stalled = connect(`http://127.0.0.1:${port}`, { settings: { initialWindowSize: 0 } });
    stalled.on('error', () => undefined);
    try {
      const stream = stalled.request({ ':method': 'POST', ':path': ECHO, 'content-type': 'application/grpc' });
      stream.on('error', () => undefined);
      const answered = new Promise((resolve) => stream.once('response', resolve));
      stream.end(frameMessage(utf8('heavy')));
      await answered;
      // Held until that stream closed (the call timeout, 60 s), its 1,005 bytes left no room for another.
      expect(statusOf(await raw(session, [frameMessage(utf8('heavy'))]))).toBe(0);
      expect(handled).toEqual(['heavy', 'heavy']);
    } finally {
      stalled.destroy();
      session.close();
      await server.close();
    }
  });

  it('stays held while its handler runs, though its client resets the call: the decoded request lives on in the handler', async () => {
    await withServer({ maxHeldBytes: 1_600 }, async (session) => {
      const stream = session.request({ ':method': 'POST', ':path': ECHO, 'content-type': 'application/grpc' });
      stream.on('error', () => undefined);
      stream.end(frameMessage(utf8('heavy hold')));
      await untilHeld();
      setTimeout(() => release.forEach((r) => r()), 5_000).unref();
      // Reset at once, as a client sending one costly request after another would: its handler runs on.
      stream.close(constants.NGHTTP2_CANCEL);
      await new Promise((r) => stream.once('close', r));
      await new Promise((r) => setTimeout(r, 20));
      const refused = await raw(session, [frameMessage(utf8('heavy'))]);
      expect(statusOf(refused)).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
      // Given back once its handler is done with it.
      release.shift()!();
      await new Promise((r) => setTimeout(r, 20));
      expect(statusOf(await raw(session, [frameMessage(utf8('heavy'))]))).toBe(0);
      expect(handled).toEqual(['heavy hold', 'heavy']);
    });
  });

  it('is refused with the status its method gives when its message may not be decoded, and never handled', async () => {
    const { server, session } = await serverAndSession();
    try {
      const a = await raw(session, [frameMessage(utf8('too costly'))]);
      expect(statusOf(a)).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
      expect(messageOf(a)).toBe('would build too much');
      expect(handled).toEqual([]);
    } finally {
      session.close();
      await server.close();
    }
  });
});

describe('a call that outlives its time', () => {
  it('is reset once the call timeout passes', async () => {
    await withServer({ callTimeoutMs: 200 }, async (session) => {
      const stream = session.request({ ':method': 'POST', ':path': ECHO, 'content-type': 'application/grpc' });
      stream.on('error', () => undefined);
      stream.end(frameMessage(utf8('hold')));
      await new Promise((r) => stream.once('close', r));
      expect(stream.rstCode).toBe(constants.NGHTTP2_CANCEL);
    });
  });
});

describe('a request whose message is slow to come', () => {
  it('is answered DEADLINE_EXCEEDED and reset once the read timeout passes, and never handled', async () => {
    await withServer({ readTimeoutMs: 200 }, async (session) => {
      const started = performance.now();
      const a = await raw(session, [frameMessage(utf8('never finished')).subarray(0, 9)], { end: false });
      expect(statusOf(a)).toBe(GrpcStatus.DEADLINE_EXCEEDED);
      expect(performance.now() - started).toBeGreaterThanOrEqual(150);
      expect(handled).toEqual([]);
    });
  });
});

describe('a connection without calls', () => {
  it('is told to go away (GOAWAY) once idle for the idle timeout, and not while a call is open', async () => {
    await withServer({ idleTimeoutMs: 200 }, async (session) => {
      let goaway = -1;
      session.on('goaway', (code) => (goaway = code));
      const held = raw(session, [frameMessage(utf8('hold'))]);
      await untilHeld();
      await new Promise((r) => setTimeout(r, 500));
      expect(goaway).toBe(-1);
      release.shift()!();
      expect(statusOf(await held)).toBe(0);
      const idleFrom = performance.now();
      await new Promise((r) => session.once('close', r));
      expect(goaway).toBe(constants.NGHTTP2_NO_ERROR);
      expect(performance.now() - idleFrom).toBeGreaterThanOrEqual(150);
    });
  });

  it('answers a request sent while its idle GOAWAY was on the way to the client, as a stop does', async () => {
    const server = echoServer({ idleTimeoutMs: 100 });
    const port = await server.listen('127.0.0.1', 0);
    // The client reads what the server sends 50 ms late: a request can leave after the idle
    // sweep's GOAWAY did and before the client has read it.
    const proxy = await delayProxy(port, 50);
    const session = connect(`http://127.0.0.1:${proxy.port}`);
    session.on('error', () => undefined);
    try {
      expect(statusOf(await raw(session, [frameMessage(utf8('first'))]))).toBe(0);
      while (!proxy.frames.some((f) => f.type === GOAWAY)) await new Promise((r) => setTimeout(r, 1));
      expect(statusOf(await raw(session, [frameMessage(utf8('on its way'))]))).toBe(0);
      expect(handled).toEqual(['first', 'on its way']);
    } finally {
      proxy.close();
      session.destroy();
      await server.close();
    }
  });

  it('counts against the connections open at once; one past the limit is closed unanswered', async () => {
    const { server, port, session } = await serverAndSession({ maxConnections: 1 });
    try {
      expect(statusOf(await raw(session, [frameMessage(utf8('first'))]))).toBe(0);
      const second = connect(`http://127.0.0.1:${port}`);
      second.on('error', () => undefined);
      await expect(raw(second, [frameMessage(utf8('second'))])).rejects.toThrow(/no answer/);
      second.destroy();
      expect(handled).toEqual(['first']);
      session.close();
      await new Promise((r) => setTimeout(r, 100));
      const third = connect(`http://127.0.0.1:${port}`);
      third.on('error', () => undefined);
      expect(statusOf(await raw(third, [frameMessage(utf8('third'))]))).toBe(0);
      third.close();
    } finally {
      session.close();
      await server.close();
    }
  });
});

describe('the calls open at once', () => {
  it('are bounded over all connections: one past the limit is refused RESOURCE_EXHAUSTED, and taken once one closes', async () => {
    // Each costs the server some 9 KB from its headers, message or not: 1,024 streams on each
    // of 10,000 connections would have been some 90 GB.
    const { server, port, session } = await serverAndSession({ maxOpenCalls: 2 });
    const other = connect(`http://127.0.0.1:${port}`).on('error', () => undefined);
    try {
      const stalled = [session, other].map(stalledCall);
      await new Promise((r) => setTimeout(r, 50));
      const refused = await raw(other, [frameMessage(utf8('third'))]);
      expect(statusOf(refused)).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
      expect(messageOf(refused)).toMatch(/too many calls open/);
      stalled[0]!.close(constants.NGHTTP2_CANCEL);
      await new Promise((r) => setTimeout(r, 50));
      expect(statusOf(await raw(other, [frameMessage(utf8('fourth'))]))).toBe(0);
      expect(handled).toEqual(['fourth']);
      stalled[1]!.close(constants.NGHTTP2_CANCEL);
    } finally {
      other.close();
      session.close();
      await server.close();
    }
  });
});

describe("each client's share of the calls open", () => {
  it('is bounded: one client past its share is refused, while another is served', async () => {
    // One meshed pod holding every open call with streams that send nothing but headers had
    // every other sidecar's Check refused until the read timeout, again and again.
    const { server, port, session } = await serverAndSession({ maxOpenCalls: 100, maxOpenCallsPerPeer: 2 });
    const again = connect(`http://127.0.0.1:${port}`).on('error', () => undefined);
    // Another address of the loopback network: another client.
    const other = connect(`http://127.0.0.1:${port}`, { localAddress: '127.0.0.2' } as never).on('error', () => undefined);
    try {
      // All on one connection, so that the server has both stalled calls before the third
      // (frames of one connection arrive in order): no sleep to hope it does.
      const stalled = [again, again].map(stalledCall);
      const refused = await raw(again, [frameMessage(utf8('third'))]);
      expect(statusOf(refused)).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
      expect(messageOf(refused)).toMatch(/this client has too many calls open/);
      expect(statusOf(await raw(other, [frameMessage(utf8('other'))]))).toBe(0);
      stalled[0]!.close(constants.NGHTTP2_CANCEL);
      // The server counts the cancelled call closed when its stream's 'close' comes: asked until
      // then (a refused call is not handled), not after a fixed wait a loaded machine outlasts.
      let fourth = GrpcStatus.RESOURCE_EXHAUSTED as number;
      for (let i = 0; i < 200 && fourth === GrpcStatus.RESOURCE_EXHAUSTED; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 10));
        fourth = statusOf(await raw(again, [frameMessage(utf8('fourth'))]));
      }
      expect(fourth).toBe(0);
      expect(handled).toEqual(['other', 'fourth']);
      stalled[1]!.close(constants.NGHTTP2_CANCEL);
    } finally {
      again.close();
      other.close();
      session.close();
      await server.close();
    }
  });
});
