/**
 * The small HTTP server every Chio process runs: `/health` (alive), `/ready` (dependencies
 * usable, else 503 with the reason), `/metrics`, and any routes a service adds. node:http only;
 * request bodies are bounded and every handler error is a JSON 500 without detail. Every
 * answer carries `x-content-type-options: nosniff`: bodies are data (receipts, notes, tiles)
 * that a browser must never reinterpret as a page or a script.
 */
import { createHash } from 'node:crypto';
import { createServer, maxHeaderSize, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { registry } from './metrics.js';
import { ChioError, NO_SUCH_ROUTE, statusOf, type ChioErrorCode } from './errors/index.js';
import { toBase64Url } from './encoding.js';
import type { ListenerTls } from './tls.js';
import { isNatsUnavailable } from './nats/unavailable.js';
import { listenError } from './listen-error.js';
import { boundIdleConnections, MIN_READ_BYTES_PER_SECOND } from './http-idle.js';
import { LogThrottle } from './log-throttle.js';
import { answerClientErrors } from './http-client-error.js';
import { textForLog } from './text.js';

export type Readiness = () => string | undefined | Promise<string | undefined>;
export type Route = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean> | boolean;

export interface HttpServerOptions {
  bind: string;
  port: number;
  log: Logger;
  /** Returns undefined when ready, else the reason it is not. */
  ready: Readiness;
  routes?: Route[];
  /** The text of `/metrics`; this process's registry unless given (authz workers: their sum). */
  metrics?: () => Promise<string>;
  /** HTTPS instead of HTTP; with a client CA, only clients with a certificate it signed. */
  tls?: ListenerTls;
  /** IDLE_SOCKET_MS unless given. */
  idleSocketMs?: number;
  /** HEADERS_TIMEOUT_MS and REQUEST_TIMEOUT_MS unless given. */
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** MIN_READ_BYTES_PER_SECOND unless given (http-idle.ts). */
  minReadBytesPerSecond?: number;
  /** MAX_HTTP_CONNECTIONS unless given. */
  maxConnections?: number;
  /** The setting that chose `port` (`CHIO_LEDGER_PORT`, …): named when the port is taken. */
  portSetting?: string;
}

/**
 * A connection on which nothing moves this long is closed, unless the client is still taking its
 * answer at MIN_READ_BYTES_PER_SECOND (http-idle.ts). The request timeouts stop once a request
 * is read, so without this a client that never reads its answer held the socket and the
 * answer's buffers for ever (a review saw 1,500 such readers of entry bundles take a verifier
 * from 155 to 868 MB).
 */
export const IDLE_SOCKET_MS = 30_000;
/** How often Node checks the request timeouts; the bounds are late by up to this much. */
const CONNECTIONS_CHECKING_MS = 1_000;
/** A request's headers must have arrived this long after it began, and the whole request this long. */
export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 30_000;
/** Connections open at once; one past it is closed unanswered (net.Server's maxConnections). */
export const MAX_HTTP_CONNECTIONS = 1_024;
/**
 * Header fields a request may have. Node drops the fields past its maxHeadersCount without a
 * word, so a route would see a request other than the one sent (a header a proxy added last, a
 * second Authorization): Node counts one more, and a request that has it is refused with 431.
 */
export const MAX_HEADER_FIELDS = 100;

export interface RunningHttpServer {
  readonly port: number;
  stop(): Promise<void>;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/**
 * A JSON error answer: `{"error": message, "code": code}` with the HTTP status the status table
 * gives the code (errors/status.ts). `message` is sent as is: never pass internals. Not to be
 * stored by any cache: a 404 is cacheable by heuristics (RFC 9111 §4.2.2), and "no such
 * receipt" or "no checkpoint yet" is true only until the log grows.
 */
export function sendError(res: ServerResponse, code: ChioErrorCode, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, statusOf(code).http, { error: message, code }, { 'cache-control': 'no-store', ...headers });
}

/** `cache-control` of an answer that can never change (full tiles, archived policies, fixed-size proofs). */
export const CACHE_IMMUTABLE = 'public, max-age=31536000, immutable';
/** `cache-control` of an answer that may change: revalidate with the ETag every time. */
export const CACHE_REVALIDATE = 'no-cache';

/**
 * Answer `body` with a strong ETag (its SHA-256), or 304 when the request's If-None-Match
 * names it. `immutable` says the answer at this URL can never change.
 */
export function sendCacheable(req: IncomingMessage, res: ServerResponse, status: number, body: string | Uint8Array, contentType: string, immutable: boolean, headers: Record<string, string> = {}): void {
  const etag = `"${toBase64Url(createHash('sha256').update(body).digest().subarray(0, 18))}"`;
  const cache: Record<string, string> = { etag, 'cache-control': immutable ? CACHE_IMMUTABLE : CACHE_REVALIDATE, ...headers };
  if (status === 200 && matchesEtag(req.headers['if-none-match'], etag)) {
    // A 304 carries no body, so no Content-Encoding of one (RFC 9110 §15.4.5); the ETag and
    // Vary say which representation the client holds.
    const { 'content-encoding': _bodyEncoding, ...notModified } = cache;
    res.writeHead(304, notModified);
    res.end();
    return;
  }
  res.writeHead(status, { 'content-type': contentType, 'content-length': typeof body === 'string' ? Buffer.byteLength(body) : body.length, ...cache });
  res.end(body);
}

function matchesEtag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  return ifNoneMatch.trim() === '*' || ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

/**
 * The request body, at most `maxBytes` (attacker-controlled: a declared or streamed length
 * past it is refused with TOO_LARGE before more is read). `hold` is told each chunk's length
 * before the chunk is kept, and may throw to stop reading.
 */
export async function readBody(req: IncomingMessage, maxBytes: number, hold?: (bytes: number) => void): Promise<Uint8Array> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) throw new ChioError('TOO_LARGE', `the body is larger than ${maxBytes} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new ChioError('TOO_LARGE', `the body is larger than ${maxBytes} bytes`);
    hold?.(chunk.length);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export async function startHttpServer(opts: HttpServerOptions): Promise<RunningHttpServer> {
  // A 503 while NATS is away comes once per request, and the requests are anyone's to send: one
  // line each let a client choose how fast the log grew for as long as the outage lasted.
  const warnings = new LogThrottle(opts.log);
  const listener: RequestListener = (req, res) => {
    res.setHeader('x-content-type-options', 'nosniff');
    void handle(req, res, opts).catch((err) => {
      const url = loggedPath(req.url);
      // The client went away while its request was read: no one to answer, and no fault here
      // (logged as one, anyone could fill the error log and trip its alerts).
      if (err !== null && req.errored === err) return opts.log.debug({ err: String(err), url }, 'client aborted its request');
      if (err instanceof ChioError && err.code === 'TOO_LARGE' && !res.headersSent) {
        // The rest of the body is not read: close the connection rather than drain it.
        res.setHeader('connection', 'close');
        return sendError(res, 'TOO_LARGE', err.message);
      }
      if ((isNatsUnavailable(err) || (err instanceof ChioError && err.code === 'UNAVAILABLE')) && !res.headersSent) {
        warnings.warn({ err: String(err), url }, 'NATS unavailable; answered 503');
        return sendError(res, 'UNAVAILABLE', 'the store is unavailable; try again shortly', { 'retry-after': '1' });
      }
      opts.log.error({ err: String(err), url }, 'http handler failed');
      if (!res.headersSent) sendError(res, 'INTERNAL', 'internal error');
      else res.destroy();
    });
  };
  // Node enforces headersTimeout and requestTimeout only when it sweeps its connections, every
  // connectionsCheckingInterval (30 s by default): a drip-fed request then lived up to 40 s for
  // its headers and 60 s in all, not the 10 s and 30 s promised, holding its socket (and, on
  // POST /v1/verify, its body or the one-bundle slot) that much longer. Swept every second.
  const timing = { connectionsCheckingInterval: CONNECTIONS_CHECKING_MS };
  const server: Server = opts.tls ? createTlsServer({ ...tlsServerOptions(opts.tls), ...timing }, listener) : createServer(timing, listener);
  server.headersTimeout = opts.headersTimeoutMs ?? HEADERS_TIMEOUT_MS;
  server.requestTimeout = opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  server.maxHeadersCount = MAX_HEADER_FIELDS + 1;
  answerClientErrors(server, maxHeaderSize, opts.log);
  boundIdleConnections(server, opts.idleSocketMs ?? IDLE_SOCKET_MS, opts.minReadBytesPerSecond ?? MIN_READ_BYTES_PER_SECOND);
  server.maxConnections = opts.maxConnections ?? MAX_HTTP_CONNECTIONS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(listenError(err, opts.bind, opts.port, opts.portSetting)));
    server.listen(opts.port, opts.bind, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          // The count of 503s not yet said is said before the stop.
          warnings.flush();
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}

/**
 * A path in a log line is cut to this many characters. Anyone chooses it, up to the 16 KB of a
 * request's head: whole, each failed or aborted request put that much into the log. The start
 * of a path says which route it was, and the rest was the client's to choose.
 */
export const MAX_LOGGED_PATH_CHARS = 256;

/**
 * The path of a request target, for the log, cut to MAX_LOGGED_PATH_CHARS: its query may carry
 * a credential (?api_key=, ?access_token=) and an absolute-form target userinfo
 * (http://user:pass@host/), as a receipt records neither.
 */
function loggedPath(target: string | undefined): string {
  let path: string;
  try {
    path = requestUrl(target).pathname;
  } catch {
    return '(not a valid request target)';
  }
  return textForLog(path, MAX_LOGGED_PATH_CHARS);
}

/**
 * The URL of a request target. An origin-form target (RFC 9112 §3.2.1) is a path, and is
 * appended to the base rather than resolved against it: resolved, `//checkpoint` is a
 * network-path reference, `/` on a host named "checkpoint", and was answered with the page at
 * `/`. An absolute-form target (`http://host/…`) stands alone.
 */
function requestUrl(target: string | undefined): URL {
  const t = target ?? '/';
  return t.startsWith('/') ? new URL(`http://chio.invalid${t}`) : new URL(t, 'http://chio.invalid');
}

function tlsServerOptions(tls: ListenerTls) {
  return {
    cert: tls.cert,
    key: tls.key,
    // A handshake that stalls holds a socket; a real client finishes in milliseconds.
    handshakeTimeout: 10_000,
    ...(tls.clientCa ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
  };
}

/**
 * A dot segment (`.`, `..`, with `%2e` for any dot) or a backslash in a target's path, which the
 * URL parser would resolve: `/tile/../metrics` is /metrics to it, `/tile\\x` is /tile/x. A proxy
 * in front that lets a prefix through (`/tile/`) or refuses a path (`/metrics`) without
 * normalising reads them otherwise, so they are refused: every path has one spelling here.
 */
const UNRESOLVED_PATH = /(?:^|\/)(?:\.|%2e){1,2}(?:\/|$)|\\/i;

async function handle(req: IncomingMessage, res: ServerResponse, opts: HttpServerOptions): Promise<void> {
  if (req.rawHeaders.length > 2 * MAX_HEADER_FIELDS) {
    // Its body, if any, is not read: close the connection rather than drain it.
    res.setHeader('connection', 'close');
    return sendError(res, 'HEADERS_TOO_LARGE', `more than ${MAX_HEADER_FIELDS} header fields`);
  }
  if (UNRESOLVED_PATH.test((req.url ?? '/').split(/[?#]/, 1)[0]!)) return sendError(res, 'MALFORMED', 'a request path with a dot segment or a backslash is refused');
  let url: URL;
  try {
    url = requestUrl(req.url);
  } catch {
    return sendError(res, 'MALFORMED', 'not a valid request target');
  }
  // HEAD is GET without the body (RFC 9110 §9.3.2): a cache or monitor asks it of a tile or a
  // checkpoint, and a 404 would tell it the resource is missing. node:http leaves the body out
  // of a HEAD request's response (decided when the response was made), so routes see GET.
  if (req.method === 'HEAD') req.method = 'GET';
  if (req.method === 'GET' && url.pathname === '/health') return sendJson(res, 200, { status: 'ok' });
  if (req.method === 'GET' && url.pathname === '/ready') {
    const reason = await opts.ready();
    return reason === undefined ? sendJson(res, 200, { status: 'ready' }) : sendJson(res, statusOf('UNAVAILABLE').http, { status: 'not ready', reason });
  }
  if (req.method === 'GET' && url.pathname === '/metrics') {
    const text = await (opts.metrics ?? (() => registry.metrics()))();
    res.writeHead(200, { 'content-type': registry.contentType });
    res.end(text);
    return;
  }
  for (const route of opts.routes ?? []) if (await route(req, res, url)) return;
  sendError(res, 'NOT_FOUND', NO_SUCH_ROUTE);
}
