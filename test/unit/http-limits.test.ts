/**
 * What a connection may hold of an HTTP server (src/http.ts): a client that stops reading its
 * answer is cut off once nothing has moved for the idle time, and connections past the limit
 * are closed unanswered.
 */
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startHttpServer, type RunningHttpServer } from '../../src/http.js';
import { createLogger } from '../../src/log.js';

const BIG = Buffer.alloc(16 * 1024 * 1024, 'x');
let http: RunningHttpServer | undefined;
const sockets: Socket[] = [];

async function serve(limits: { idleSocketMs?: number; maxConnections?: number }): Promise<number> {
  http = await startHttpServer({
    bind: '127.0.0.1', port: 0, log: createLogger('silent'), ready: () => undefined, ...limits,
    routes: [
      (_req, res, url) => {
        if (url.pathname !== '/big') return false;
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BIG.length });
        res.end(BIG);
        return true;
      },
    ],
  });
  return http.port;
}

/** A raw connection that sends `request` and reads nothing; resolves when it is open. */
function rawClient(port: number, request: string): Promise<Socket> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(request);
      resolve(socket);
    });
    socket.on('error', () => undefined);
    sockets.push(socket);
  });
}

const closed = (socket: Socket) => new Promise<void>((r) => (socket.closed ? r() : socket.once('close', () => r())));

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await http?.stop();
  http = undefined;
});

describe('an HTTP client that stops reading its answer', () => {
  it('is disconnected once nothing has moved for the idle time', async () => {
    const port = await serve({ idleSocketMs: 300 });
    const socket = await rawClient(port, 'GET /big HTTP/1.1\r\nhost: x\r\n\r\n');
    socket.pause();
    await new Promise((r) => setTimeout(r, 1_000));
    // Reading again: what the kernel buffered before the server gave up, then the end.
    let received = 0;
    const all = new Promise<void>((r) => socket.on('data', (d: Buffer) => (received += d.length) > BIG.length && r()));
    socket.resume();
    await Promise.race([closed(socket), all]);
    expect(received).toBeLessThan(BIG.length);
  });

  it('keeps a connection whose answer is still being read', async () => {
    const port = await serve({ idleSocketMs: 300 });
    const res = await fetch(`http://127.0.0.1:${port}/big`);
    const reader = res.body!.getReader();
    let bytes = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.length;
      // Slower than the whole answer could arrive in the idle time, but never idle that long.
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(bytes).toBe(BIG.length);
  });
});

describe('connections past the limit', () => {
  it('are closed unanswered, and taken again once one closes', async () => {
    const port = await serve({ maxConnections: 1 });
    const first = await rawClient(port, '');
    const second = await rawClient(port, 'GET /health HTTP/1.1\r\nhost: x\r\n\r\n');
    let answered = '';
    second.on('data', (d: Buffer) => (answered += d.toString()));
    await closed(second);
    expect(answered).toBe('');
    first.destroy();
    await new Promise((r) => setTimeout(r, 100));
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
  });
});

describe('a client that sends its request slowly (slowloris)', () => {
  // Node checks these timeouts only every connectionsCheckingInterval (30 s by default), so
  // without a shorter interval a drip-fed request lived up to 40 s (headers) and 60 s (body).
  const answeredWithin = async (port: number, first: string, drip: string, ms: number) => {
    const socket = await rawClient(port, first);
    const timer = setInterval(() => socket.writable && socket.write(drip), 1_000);
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    const started = Date.now();
    await Promise.race([closed(socket), new Promise((r) => setTimeout(r, ms))]);
    clearInterval(timer);
    return { answer, seconds: (Date.now() - started) / 1000, closed: socket.closed };
  };

  it('is answered 408 and disconnected once its headers have taken 10 s, not later', async () => {
    const port = await serve({});
    const r = await answeredWithin(port, 'GET /health HTTP/1.1\r\nhost: x\r\n', 'x-a: b\r\n', 14_000);
    expect(r.closed).toBe(true);
    expect(r.answer).toMatch(/^HTTP\/1\.1 408/);
    expect(r.seconds).toBeLessThan(12.5);
  }, 20_000);
});
