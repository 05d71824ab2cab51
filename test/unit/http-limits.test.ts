/**
 * What a connection may hold of an HTTP server (src/http.ts): a client that reads its answer
 * slowly gets all of it, one that stops reading is cut off once it is behind the minimum read
 * rate, connections past the limit are closed unanswered, and a request with more header fields
 * than are counted is refused, not trimmed.
 */
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startHttpServer, type RunningHttpServer } from '../../src/http.js';
import { createLogger } from '../../src/log.js';

const BIG = Buffer.alloc(16 * 1024 * 1024, 'x');
let http: RunningHttpServer | undefined;
const sockets: Socket[] = [];

async function serve(limits: { idleSocketMs?: number; minReadBytesPerSecond?: number; maxConnections?: number; headersTimeoutMs?: number; requestTimeoutMs?: number }): Promise<number> {
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

const GET_BIG = 'GET /big HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n';

/** The bytes of the answer's body `socket` receives before the server closes it. */
function bodyBytes(socket: Socket): Promise<number> {
  let head = '';
  let body = 0;
  socket.on('data', (d: Buffer) => {
    if (head.endsWith('\r\n\r\n')) return void (body += d.length);
    const text = head + d.toString('latin1');
    const end = text.indexOf('\r\n\r\n');
    if (end < 0) return void (head = text);
    head = text.slice(0, end + 4);
    body += text.length - head.length;
  });
  return new Promise((resolve) => socket.once('close', () => resolve(body)));
}

describe('an HTTP client that reads its answer slowly', () => {
  it('gets all of it, though it pauses longer than the idle time between sips', async () => {
    // Each pause lets the kernel's buffers fill, so the server's own write queue does not move
    // for two idle times while the client is still taking the answer (about 3 MB/s overall).
    const idleSocketMs = 300;
    const port = await serve({ idleSocketMs });
    const socket = await rawClient(port, GET_BIG);
    const body = bodyBytes(socket);
    let sip = 0;
    socket.on('data', (d: Buffer) => {
      if ((sip += d.length) < 2 * 1024 * 1024) return;
      sip = 0;
      socket.pause();
      setTimeout(() => socket.resume(), 2 * idleSocketMs);
    });
    expect(await body).toBe(BIG.length);
  }, 20_000);

  it('keeps a connection whose answer is read without pauses', async () => {
    const port = await serve({ idleSocketMs: 300 });
    const res = await fetch(`http://127.0.0.1:${port}/big`);
    const reader = res.body!.getReader();
    let bytes = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.length;
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(bytes).toBe(BIG.length);
  });
});

describe('an HTTP client that stops reading its answer', () => {
  it('is disconnected once it is further behind than the minimum read rate allows', async () => {
    // 16 MiB at 32 MiB/s may take 0.5 s, and the idle time on top; the client reads nothing
    // for 3 s, then finds what the kernel held when the server gave up, and the end.
    const port = await serve({ idleSocketMs: 300, minReadBytesPerSecond: 32 * 1024 * 1024 });
    const socket = await rawClient(port, GET_BIG);
    socket.pause();
    await new Promise((r) => setTimeout(r, 3_000));
    const body = bodyBytes(socket);
    socket.resume();
    expect(await body).toBeLessThan(BIG.length);
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
    const timer = setInterval(() => socket.writable && socket.write(drip), 200);
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    const started = Date.now();
    await Promise.race([closed(socket), new Promise((r) => setTimeout(r, ms))]);
    clearInterval(timer);
    return { answer, seconds: (Date.now() - started) / 1000, closed: socket.closed };
  };

  // The same as with the default 10 s (HEADERS_TIMEOUT_MS), ten times sooner: a headers timeout
  // of 1 s, swept every second, answers by about 2 s; Node's own 30 s sweep would not by 8 s.
  it('is answered 408 and disconnected once its headers have taken the headers timeout, not at the next 30 s sweep', async () => {
    const port = await serve({ headersTimeoutMs: 1_000, requestTimeoutMs: 2_000 });
    const r = await answeredWithin(port, 'GET /health HTTP/1.1\r\nhost: x\r\n', 'x-a: b\r\n', 8_000);
    expect(r.closed).toBe(true);
    expect(r.answer).toMatch(/^HTTP\/1\.1 408/);
    // Dripped header lines kept it open to the timeout: not answered for anything else sooner.
    expect(r.seconds).toBeGreaterThanOrEqual(0.9);
  }, 15_000);
});

describe('a request with more header fields than are counted', () => {
  /** The raw answer to `GET /health` with `count` header fields in all. */
  const answerWithFields = async (port: number, count: number) => {
    const fields = Array.from({ length: count - 2 }, (_, i) => `x-field-${i}: ${i}\r\n`).join('');
    const socket = await rawClient(port, `GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n${fields}\r\n`);
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    await closed(socket);
    const [head, body] = answer.split('\r\n\r\n');
    return { head: head!, body: body! };
  };

  it('is refused with 431 and a JSON error, not answered with the extra fields dropped', async () => {
    const port = await serve({});
    const { head, body } = await answerWithFields(port, 101);
    expect(head).toMatch(/^HTTP\/1\.1 431 /);
    expect(head).toMatch(/\r\nx-content-type-options: nosniff\r\n/i);
    expect(head).toMatch(/\r\nconnection: close\r\n/i);
    expect(JSON.parse(body)).toEqual({ error: 'more than 100 header fields', code: 'HEADERS_TOO_LARGE' });
  });

  it('is answered when it has exactly 100', async () => {
    const port = await serve({});
    const { head, body } = await answerWithFields(port, 100);
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    expect(JSON.parse(body)).toEqual({ status: 'ok' });
  });
});
