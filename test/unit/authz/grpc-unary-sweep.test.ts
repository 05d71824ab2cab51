/**
 * The sweep that ends late calls (src/authz/grpc-unary.ts) under a client that opened thousands
 * of calls together and sends none of their messages: they all pass the read timeout in the same
 * sweep. Ended in one turn of the loop, they held it for seconds, and no other client's Check
 * was read meanwhile; they are ended a slice at a time, and a call that comes meanwhile is
 * answered between slices. Shown by order, not by time: on one connection, frames leave in the
 * order they were written.
 */
import { connect, type ClientHttp2Session } from 'node:http2';
import { describe, expect, it } from 'vitest';
import { createUnaryServer } from '../../../src/authz/grpc-unary.js';
import { GrpcStatus, frameMessage } from '../../../src/authz/grpc-protocol.js';

const ECHO = '/test.Echo/Echo';
const SLOW_CALLS = 3_000;
const HEADERS = { ':method': 'POST', ':path': ECHO, 'content-type': 'application/grpc', te: 'trailers' };

function echo(session: ClientHttp2Session, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stream = session.request(HEADERS);
    const parts: Buffer[] = [];
    stream.on('data', (d: Buffer) => parts.push(d));
    stream.on('error', reject);
    stream.on('close', () => resolve(Buffer.concat(parts).subarray(5).toString()));
    stream.end(frameMessage(new TextEncoder().encode(text)));
  });
}

describe('calls that pass their read timeout together', () => {
  it('are ended a slice at a time: a call that comes meanwhile is answered before the last of them', async () => {
    const server = createUnaryServer({
      maxRequestBytes: 1024, maxConcurrentStreams: 2 * SLOW_CALLS, maxHeaderListBytes: 8 * 1024,
      readTimeoutMs: 300, maxOpenCallsPerPeer: 2 * SLOW_CALLS,
      methods: { [ECHO]: { decode: (b: Buffer) => b.toString(), encode: (s: string) => Buffer.from(s), handle: (s: string) => `echo ${s}` } },
    });
    const port = await server.listen('127.0.0.1', 0);
    const session = connect(`http://127.0.0.1:${port}`);
    session.on('error', () => undefined);
    try {
      await echo(session, 'first'); // the server's SETTINGS (its stream limit) are in
      let refused = 0;
      let refusedBeforeAnswer = -1;
      let sent: Promise<string> | undefined;
      const allRefused = new Promise<void>((done) => {
        for (let i = 0; i < SLOW_CALLS; i++) {
          const stream = session.request(HEADERS, { endStream: false });
          stream.on('error', () => undefined);
          stream.on('response', (h) => {
            expect(Number(h['grpc-status'])).toBe(GrpcStatus.DEADLINE_EXCEEDED);
            // Sent as soon as the sweep has begun: the server reads it only once it has ended
            // what it ends in the turn it is in.
            sent ??= echo(session, 'meanwhile').then((answer) => {
              refusedBeforeAnswer = refused;
              return answer;
            });
            if (++refused === SLOW_CALLS) done();
          });
        }
      });
      await allRefused;
      expect(await sent).toBe('echo meanwhile');
      expect(refusedBeforeAnswer).toBeLessThan(SLOW_CALLS);
    } finally {
      session.destroy();
      await server.close();
    }
  }, 30_000);
});
