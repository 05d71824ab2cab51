/**
 * The small HTTP server every Chio process runs: `/health` (alive), `/ready` (dependencies
 * usable, else 503 with the reason), `/metrics`, and any routes a service adds. node:http only;
 * request bodies are bounded and every handler error is a JSON 500 without detail.
 */
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { registry } from './metrics.js';
import { statusOf, type ChioErrorCode } from './errors/index.js';
import type { ListenerTls } from './tls.js';

export type Readiness = () => string | undefined | Promise<string | undefined>;
export type Route = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean> | boolean;

export interface HttpServerOptions {
  bind: string;
  port: number;
  log: Logger;
  /** Returns undefined when ready, else the reason it is not. */
  ready: Readiness;
  routes?: Route[];
  /** HTTPS instead of HTTP; with a client CA, only clients with a certificate it signed. */
  tls?: ListenerTls;
}

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
 * gives the code (errors/status.ts). `message` is sent as is: never pass internals.
 */
export function sendError(res: ServerResponse, code: ChioErrorCode, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, statusOf(code).http, { error: message, code }, headers);
}

export async function startHttpServer(opts: HttpServerOptions): Promise<RunningHttpServer> {
  const listener: RequestListener = (req, res) => {
    void handle(req, res, opts).catch((err) => {
      opts.log.error({ err: String(err), url: req.url }, 'http handler failed');
      if (!res.headersSent) sendError(res, 'INTERNAL', 'internal error');
      else res.destroy();
    });
  };
  const server: Server = opts.tls ? createTlsServer(tlsServerOptions(opts.tls), listener) : createServer(listener);
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.maxHeadersCount = 100;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.bind, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
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

async function handle(req: IncomingMessage, res: ServerResponse, opts: HttpServerOptions): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://chio.invalid');
  if (req.method === 'GET' && url.pathname === '/health') return sendJson(res, 200, { status: 'ok' });
  if (req.method === 'GET' && url.pathname === '/ready') {
    const reason = await opts.ready();
    return reason === undefined ? sendJson(res, 200, { status: 'ready' }) : sendJson(res, statusOf('UNAVAILABLE').http, { status: 'not ready', reason });
  }
  if (req.method === 'GET' && url.pathname === '/metrics') {
    const text = await registry.metrics();
    res.writeHead(200, { 'content-type': registry.contentType });
    res.end(text);
    return;
  }
  for (const route of opts.routes ?? []) if (await route(req, res, url)) return;
  sendError(res, 'NOT_FOUND', 'not found');
}
