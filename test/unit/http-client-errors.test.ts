/**
 * Requests Node's HTTP parser refuses before a route sees them (src/http-client-error.ts): heads
 * over 16 KiB, a request line or chunked body that is not HTTP, chunk extensions too long, a
 * request that does not arrive in time. Each is answered as every other Chio HTTP error is, a
 * small JSON error with nosniff, and the connection closed; nothing the client sent is echoed,
 * and an answer already under way is never written into.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readBody, sendJson, startHttpServer, type RunningHttpServer } from '../../src/http.js';
import { createLogger } from '../../src/log.js';
import { rawExchange, type RawAnswer } from '../support/raw-http.js';

let http: RunningHttpServer | undefined;
afterEach(async () => {
  await http?.stop();
  http = undefined;
});

const BIG = Buffer.alloc(4 * 1024 * 1024, 'x');
/** A marker a reflected answer would carry back; a browser reading it as a page would run it. */
const MARKER = '<script>chio-marker</script>';

async function serve(timeouts: { headersTimeoutMs?: number; requestTimeoutMs?: number } = {}): Promise<number> {
  http = await startHttpServer({
    bind: '127.0.0.1', port: 0, log: createLogger('silent'), ready: () => undefined, ...timeouts,
    routes: [
      async (req, res, url) => {
        if (url.pathname === '/echo-length') {
          const body = await readBody(req, 1024 * 1024);
          sendJson(res, 200, { bytes: body.length });
          return true;
        }
        if (url.pathname === '/big') {
          res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BIG.length });
          res.end(BIG);
          return true;
        }
        if (url.pathname === '/half') {
          // The head and half the body now, the rest later: an answer under way, nothing queued.
          res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 10 });
          res.write('abcde');
          setTimeout(() => res.end('fghij'), 200);
          return true;
        }
        if (url.pathname === '/slow') {
          await new Promise((r) => setTimeout(r, 200));
          sendJson(res, 200, { slow: true });
          return true;
        }
        return false;
      },
    ],
  });
  return http.port;
}

/** The answer is one JSON error with `status` and `code`, nosniff, and the connection closed. */
function expectJsonError(answer: RawAnswer, status: number, code: string): void {
  expect(answer.head).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
  expect(answer.head).toMatch(/\r\nx-content-type-options: nosniff(\r\n|$)/i);
  expect(answer.head).toMatch(/\r\ncontent-type: application\/json(\r\n|$)/i);
  expect(answer.head).toMatch(/\r\nconnection: close(\r\n|$)/i);
  expect(answer.head).toMatch(/\r\ncache-control: no-store(\r\n|$)/i);
  const body = JSON.parse(answer.body) as { error: unknown; code: unknown };
  expect(body.code).toBe(code);
  expect(typeof body.error).toBe('string');
  expect(answer.text).not.toContain('chio-marker');
  expect(answer.reset).toBe(false);
}

describe('a request whose head is over 16 KiB', () => {
  it('is answered 431 HEADERS_TOO_LARGE as JSON, like one with too many fields', async () => {
    const port = await serve();
    const answer = await rawExchange(port, `GET /health HTTP/1.1\r\nhost: x\r\nx-big: ${MARKER}${'a'.repeat(20_000)}\r\n\r\n`);
    expectJsonError(answer, 431, 'HEADERS_TOO_LARGE');
  });

  it('is answered so when the request target alone is that long', async () => {
    const port = await serve();
    expectJsonError(await rawExchange(port, `GET /${MARKER}${'a'.repeat(20_000)} HTTP/1.1\r\nhost: x\r\n\r\n`), 431, 'HEADERS_TOO_LARGE');
  });
});

describe('a request that is not HTTP', () => {
  it('is answered 400 MALFORMED for a bad request line, without echoing it', async () => {
    const port = await serve();
    expectJsonError(await rawExchange(port, `${MARKER} / HTTP/1.1\r\n\r\n`), 400, 'MALFORMED');
    expectJsonError(await rawExchange(port, `GET /health ${MARKER}\r\n\r\n`), 400, 'MALFORMED');
  });

  it('is answered 400 MALFORMED for a chunked body that is not chunked', async () => {
    const port = await serve();
    const answer = await rawExchange(port, `POST /echo-length HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n${MARKER}\r\n`);
    expectJsonError(answer, 400, 'MALFORMED');
  });

  it('is answered 413 TOO_LARGE for chunk extensions over 16 KiB', async () => {
    const port = await serve();
    const answer = await rawExchange(port, `POST /echo-length HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n1;${'a'.repeat(20_000)}\r\n`);
    expectJsonError(answer, 413, 'TOO_LARGE');
  });
});

describe('a request that does not arrive in time', () => {
  it('is answered 408 REQUEST_TIMEOUT as JSON when its headers are late', async () => {
    const port = await serve({ headersTimeoutMs: 500 });
    expectJsonError(await rawExchange(port, 'GET /health HTTP/1.1\r\nhost: x\r\n'), 408, 'REQUEST_TIMEOUT');
  });

  it('is answered so when its body is late', async () => {
    const port = await serve({ headersTimeoutMs: 500, requestTimeoutMs: 1_000 });
    const answer = await rawExchange(port, 'POST /echo-length HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nab');
    expectJsonError(answer, 408, 'REQUEST_TIMEOUT');
  });
});

describe('a malformed request behind another on the same connection', () => {
  it('is not written into an answer already under way: the connection is closed', async () => {
    const port = await serve();
    for (const path of ['/big', '/half']) {
      const answer = await rawExchange(port, `GET ${path} HTTP/1.1\r\nhost: x\r\n\r\n`, { then: 'GARBAGE\r\n\r\n' });
      expect(answer.head, path).toMatch(/^HTTP\/1\.1 200 /);
      expect(answer.text.match(/HTTP\/1\.1 /g), path).toHaveLength(1);
    }
  });

  it('is answered when the answer before it has not begun, and the late answer is dropped quietly', async () => {
    const port = await serve();
    const answer = await rawExchange(port, 'GET /slow HTTP/1.1\r\nhost: x\r\n\r\nGARBAGE\r\n\r\n');
    expectJsonError(answer, 400, 'MALFORMED');
    expect(answer.text).not.toContain('slow');
    // The route answers after the connection is gone: nothing may throw (vitest fails on it).
    await new Promise((r) => setTimeout(r, 300));
  });
});
