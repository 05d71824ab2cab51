/**
 * A call's time as its client sets it (src/authz/grpc-unary.ts): the client's deadline runs
 * from when its headers may have arrived, not from when a stalled loop read them, and a client
 * that goes before its answer is told to the handler.
 */
import { constants } from 'node:http2';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { frameMessage } from '../../../src/authz/grpc-protocol.js';
import { ECHO, utf8, handled, release, untilHeld, serverAndSession, withServer, raw, resetEcho } from '../../support/grpc-echo.js';

afterEach(resetEcho);

describe('a client deadline', () => {
  // A client in a process of its own, so that it sends while this process's loop is stalled:
  // connects, says so, and on a line from stdin sends 'deadline' with grpc-timeout 3S (on a
  // connection it opens then, with NEW_CONNECTION), then prints when it sent and what it was
  // answered.
  const CLIENT = `
    const http2 = require('node:http2');
    const url = 'http://127.0.0.1:' + process.env.PORT;
    let session = http2.connect(url);
    session.on('connect', () => console.log('connected'));
    const frameOf = (text) => {
      const frame = Buffer.alloc(5 + text.length);
      frame.writeUInt32BE(text.length, 1);
      frame.write(text, 5);
      return frame;
    };
    process.stdin.once('data', () => {
      if (process.env.NEW_CONNECTION) {
        // Work on the open connection first, as a busy Envoy sends: the server does it (40 ms
        // of CPU, and a tick of its loop passes) between accepting the new connection and
        // reading it.
        session.request({ ':method': 'POST', ':path': '${ECHO}', 'content-type': 'application/grpc' }).on('error', () => {}).end(frameOf('spin'));
        session = http2.connect(url);
      }
      const sentAt = Date.now();
      const stream = session.request({ ':method': 'POST', ':path': '${ECHO}', 'content-type': 'application/grpc', 'grpc-timeout': '3S' });
      const frame = Buffer.alloc(13);
      frame.writeUInt32BE(8, 1);
      frame.write('deadline', 5);
      stream.end(frame);
      const parts = [];
      stream.on('data', (d) => parts.push(d));
      stream.on('close', () => {
        console.log(JSON.stringify({ sentAt, answer: Buffer.concat(parts).subarray(5).toString() }));
        session.close();
      });
    });`;

  it.each([
    ['an open connection', {}],
    ['a connection opened during the stall', { NEW_CONNECTION: '1' }],
  ])('runs from when the headers may have arrived, not from when a stalled event loop got to them: on %s', async (_name, env) => {
    const { server, port, session } = await serverAndSession();
    const client = spawn(process.execPath, ['-e', CLIENT], { env: { ...process.env, ...env, PORT: String(port) }, stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      const lines = createInterface({ input: client.stdout! })[Symbol.asyncIterator]();
      expect((await lines.next()).value).toBe('connected');
      client.stdin!.write('go\n');
      // The loop stalls 1.5 s (a long GC, say) while the request waits in the socket.
      const until = Date.now() + 1_500;
      while (Date.now() < until);
      const { sentAt, answer } = JSON.parse((await lines.next()).value as string) as { sentAt: number; answer: string };
      // Stamped when the loop got to it, the deadline would be about sentAt + 4,500.
      expect(Number(answer) - sentAt).toBeLessThan(3_300);
      expect(Number(answer) - sentAt).toBeGreaterThan(2_500);
    } finally {
      client.kill();
      session.close();
      await server.close();
    }
  });
});

describe('a client that goes before its answer', () => {
  it('is told to the handler when it goes, and not when it stays to be answered', async () => {
    await withServer({}, async (session) => {
      const stream = session.request({ ':method': 'POST', ':path': ECHO, 'content-type': 'application/grpc' });
      stream.on('error', () => undefined);
      stream.end(frameMessage(utf8('watch')));
      await untilHeld();
      stream.close(constants.NGHTTP2_CANCEL);
      while (!handled.includes('gone')) await new Promise((r) => setTimeout(r, 5));
      release.shift()!();
      expect(handled).toEqual(['watch', 'gone']);
      handled.length = 0;
      const stays = raw(session, [frameMessage(utf8('watch'))]);
      await untilHeld();
      release.shift()!();
      expect((await stays).data.subarray(5).toString()).toBe('gone: false');
      await new Promise((r) => setTimeout(r, 20));
      expect(handled).toEqual(['watch']);
    });
  });
});
