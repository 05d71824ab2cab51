import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TimeoutError, NoRespondersError } from '@nats-io/transport-node';
import { MAX_LOGGED_PATH_CHARS, readBody, startHttpServer, type RunningHttpServer } from '../../src/http.js';
import { codeOfHttpStatus, statusOf } from '../../src/errors/index.js';
import { createLogger } from '../../src/log.js';
import { captureLog } from '../support/log-capture.js';

// A route that throws what a failed NATS read throws, and one that throws a plain fault.
let http: RunningHttpServer;
beforeAll(async () => {
  http = await startHttpServer({
    bind: '127.0.0.1', port: 0, log: createLogger('silent'), ready: () => undefined,
    routes: [
      (_req, _res, url) => {
        if (url.pathname === '/timeout') throw new TimeoutError();
        if (url.pathname === '/no-responders') throw new NoRespondersError('$JS.API.STREAM.MSG.GET.X');
        if (url.pathname === '/electing') throw Object.assign(new Error('jetstream is not enabled'), { name: 'JetStreamNotEnabled' });
        if (url.pathname === '/fault') throw new TypeError('x is undefined');
        return false;
      },
    ],
  });
});
afterAll(() => http.stop());

const get = (path: string) => fetch(`http://127.0.0.1:${http.port}${path}`);

/** The whole answer to `GET <target>` sent as written: fetch would normalise the target first. */
const rawGet = (port: number, target: string) =>
  new Promise<string>((resolve) => {
    let answer = '';
    const socket = connect(port, '127.0.0.1', () => socket.write(`GET ${target} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`));
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    socket.on('close', () => resolve(answer));
  });

describe('an HTTP handler that fails', () => {
  it('answers 503 with Retry-After when NATS cannot answer now (timeout, no responders, leader election)', async () => {
    for (const path of ['/timeout', '/no-responders', '/electing']) {
      const res = await get(path);
      expect(res.status, path).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(await res.json()).toEqual({ error: 'the store is unavailable; try again shortly', code: 'UNAVAILABLE' });
    }
  });

  it('answers 500 without the message for any other fault', async () => {
    const res = await get('/fault');
    expect(res.status).toBe(500);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.json()).toEqual({ error: 'internal error', code: 'INTERNAL' });
  });
});

describe('a client that goes away while its body is read', () => {
  it('is no handler failure: nothing is logged as an error', async () => {
    const lines: { level: number; msg: string }[] = [];
    const destination = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(JSON.parse(chunk.toString())), done()) });
    const server = await startHttpServer({
      bind: '127.0.0.1', port: 0, log: createLogger('debug', 'chio', { destination: destination as never }), ready: () => undefined,
      routes: [async (req, res, url) => (url.pathname === '/upload' ? (await readBody(req, 1024), res.end(), true) : false)],
    });
    try {
      await new Promise<void>((resolve) => {
        const socket = connect(server.port, '127.0.0.1', () => {
          socket.write('POST /upload HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nabc', () => setTimeout(() => socket.destroy(), 100));
        });
        socket.on('close', () => resolve());
      });
      await expect.poll(() => lines.some((l) => l.msg === 'client aborted its request'), { timeout: 2_000 }).toBe(true);
      expect(lines.filter((l) => l.level >= 50)).toEqual([]);
    } finally {
      await server.stop();
    }
  });
});

describe('the log line of a failed request', () => {
  it('names the path, never the query string: it may carry a credential (?api_key=, ?access_token=)', async () => {
    const lines: Record<string, unknown>[] = [];
    const destination = new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(JSON.parse(chunk.toString())), done()) });
    const server = await startHttpServer({
      bind: '127.0.0.1', port: 0, log: createLogger('debug', 'chio', { destination: destination as never }), ready: () => undefined,
      routes: [
        (_req, _res, url) => {
          if (url.pathname === '/timeout') throw new TimeoutError();
          if (url.pathname === '/fault') throw new TypeError('x is undefined');
          return false;
        },
      ],
    });
    try {
      for (const path of ['/fault', '/timeout']) await fetch(`http://127.0.0.1:${server.port}${path}?api_key=s3cr3t-8675309&access_token=s3cr3t-8675309`);
      await expect.poll(() => lines.length, { timeout: 2_000 }).toBe(2);
      expect(lines.map((l) => l.url)).toEqual(['/fault', '/timeout']);
      expect(JSON.stringify(lines)).not.toContain('8675309');
    } finally {
      await server.stop();
    }
  });
});

describe('the path a log line names', () => {
  // Anyone chooses it, up to the 16 KB a request's head may hold: whole, each failed or
  // aborted request wrote that much into the log.
  it('is cut to MAX_LOGGED_PATH_CHARS, on a handler failure, a 503 and an aborted request', async () => {
    const captured = captureLog('debug');
    const server = await startHttpServer({
      bind: '127.0.0.1', port: 0, log: captured.log, ready: () => undefined,
      routes: [
        async (req, res, url) => {
          if (url.pathname.startsWith('/fault/')) throw new TypeError('x is undefined');
          if (url.pathname.startsWith('/timeout/')) throw new TimeoutError();
          if (url.pathname.startsWith('/upload/')) return (await readBody(req, 1024), res.end(), true);
          return false;
        },
      ],
    });
    const long = 'a'.repeat(12_000);
    try {
      for (const path of [`/fault/${long}`, `/timeout/${long}`]) await (await fetch(`http://127.0.0.1:${server.port}${path}`)).arrayBuffer();
      await new Promise<void>((resolve) => {
        const socket = connect(server.port, '127.0.0.1', () => {
          socket.write(`POST /upload/${long} HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nabc`, () => setTimeout(() => socket.destroy(), 100));
        });
        socket.on('close', () => resolve());
      });
      const lines = () => captured.lines.map((l) => JSON.parse(l) as { msg: string; url?: string });
      await expect.poll(() => lines().filter((l) => l.url !== undefined).length, { timeout: 2_000 }).toBe(3);
      const logged = lines().filter((l) => l.url !== undefined);
      expect(logged.map((l) => l.msg)).toEqual(['http handler failed', 'NATS unavailable; answered 503', 'client aborted its request']);
      for (const [i, prefix] of ['/fault/', '/timeout/', '/upload/'].entries()) {
        expect(logged[i]!.url!.startsWith(`${prefix}aaa`), logged[i]!.url!.slice(0, 40)).toBe(true);
        expect(logged[i]!.url!.length, logged[i]!.msg).toBeLessThanOrEqual(MAX_LOGGED_PATH_CHARS + 40);
        // Said to be cut, with the length it had.
        expect(logged[i]!.url).toContain(String(prefix.length + long.length));
      }
      for (const line of captured.lines) expect(line.length).toBeLessThan(1_000);
    } finally {
      await server.stop();
    }
  });
});

describe('a request target that begins with two slashes', () => {
  // An origin-form target is a path: `//checkpoint` (a tlog-tiles prefix with a trailing slash,
  // joined with "/checkpoint") is not `/` on a host named "checkpoint".
  it('is that path, not an authority: GET //checkpoint is 404, not the page at /', async () => {
    const server = await startHttpServer({
      bind: '127.0.0.1', port: 0, log: createLogger('silent'), ready: () => undefined,
      routes: [(_req, res, url) => (url.pathname === '/' ? (res.end('the page at /'), true) : false)],
    });
    const status = async (target: string) => (await rawGet(server.port, target)).split(' ')[1] ?? '';
    try {
      expect(await status('/')).toBe('200');
      for (const target of ['//checkpoint', '//', '//health', '//x/health']) expect(await status(target), target).toBe('404');
    } finally {
      await server.stop();
    }
  });
});

describe('a request path with a dot segment or a backslash', () => {
  // The URL parser removes dot segments (`.` and `..`, `%2e` too) and reads `\` as `/`: resolved,
  // `/tile/../metrics` was answered as /metrics, past a proxy that lets `/tile/` through, or
  // refuses `/metrics`, without normalising the path as this server did.
  it('is refused, 400, not answered as the path it resolves to', async () => {
    const server = await startHttpServer({
      bind: '127.0.0.1', port: 0, log: createLogger('silent'), ready: () => undefined,
      routes: [(_req, res, url) => (url.pathname === '/a.b/..c/.d' ? (res.end('dots inside a name'), true) : false)],
    });
    const answer = (target: string) => rawGet(server.port, target);
    try {
      expect((await answer('/metrics')).split(' ')[1]).toBe('200');
      expect((await answer('/a.b/..c/.d?x=/../')).split(' ')[1]).toBe('200');
      for (const target of ['/tile/../metrics', '/tile/%2e%2E/metrics', '/tile/.%2e/metrics', '/./metrics', '/%2e/metrics', '/tile\\..\\metrics', '/metrics\\', '/tile/..', 'http://x/tile/../metrics']) {
        const text = await answer(target);
        expect(text.split(' ')[1], target).toBe('400');
        expect(text).toContain('"code":"MALFORMED"');
      }
    } finally {
      await server.stop();
    }
  });
});

describe('codeOfHttpStatus (the CLI reading a Chio HTTP answer)', () => {
  it('reads back the code of each client error status the HTTP ports answer', () => {
    for (const code of ['PENDING', 'MALFORMED', 'NOT_FOUND', 'TOO_LARGE', 'HEADERS_TOO_LARGE', 'REQUEST_TIMEOUT', 'TIMEOUT'] as const) {
      expect(codeOfHttpStatus(statusOf(code).http), code).toBe(code);
    }
    expect(codeOfHttpStatus(503)).toBe('UNAVAILABLE');
  });
});
