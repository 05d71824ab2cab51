/**
 * Unary gRPC over node:http2, and nothing else: what Envoy's ext_authz filter and a gRPC health
 * probe send (one request message, one response message) served with Node's own HTTP/2.
 *
 * Why not grpc-js's server: every Check crosses it, and it cost about as much CPU per Check as
 * the whole of a bare Check server's work does without it (bench/, issue #8): interceptor
 * chains, stream objects, metadata objects, channelz. The protocol of a unary call is small
 * and fixed (gRPC over HTTP/2, "PROTOCOL-HTTP2"):
 *
 *   request   HEADERS  :method POST, :path /<service>/<method>, content-type application/grpc…
 *             DATA     one Length-Prefixed-Message: compressed flag (1 byte), length (4 bytes
 *                      big-endian), the protobuf message; END_STREAM
 *   response  HEADERS  :status 200, content-type application/grpc
 *             DATA     one Length-Prefixed-Message
 *             TRAILERS grpc-status, grpc-message (percent-encoded)
 *   error     one HEADERS frame with :status 200 and grpc-status ("Trailers-Only")
 *
 * Every request is hostile: its message is bounded before it is buffered (RESOURCE_EXHAUSTED
 * past `maxRequestBytes`, the stream then reset), a compressed message is refused (Chio
 * advertises only `identity`, and Envoy's gRPC client does not compress), a malformed one is
 * INTERNAL as grpc-js says it, a request whose message has not arrived in full within
 * `readTimeoutMs` of its headers is answered DEADLINE_EXCEEDED and reset (a slow client holds
 * no stream and no buffer for long), and an error of a stream or a session closes that stream
 * or session, never the process.
 */
import * as http2 from 'node:http2';
import type { IncomingHttpHeaders, ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';

/** The gRPC status codes this server answers with (grpc/status.h). */
export const GrpcStatus = {
  OK: 0,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

/** How long a request's message may take to arrive after its headers, unless told otherwise; Envoy sends both at once. */
export const DEFAULT_READ_TIMEOUT_MS = 10_000;

/** Thrown by a handler to answer with a gRPC status instead of a message. */
export class GrpcCallError extends Error {
  constructor(
    readonly code: number,
    readonly details: string,
  ) {
    super(details);
  }
}

export interface UnaryMethod<Req = never, Res = never> {
  /** The request from its protobuf bytes; throws when they are not one. */
  decode(bytes: Uint8Array): Req;
  /** The response's protobuf bytes. */
  encode(response: Res): Uint8Array;
  /** The response; a GrpcCallError answers with its status, any other error with INTERNAL. */
  handle(request: Req): Res | Promise<Res>;
}

export interface UnaryServerOptions {
  /** The methods served, by HTTP/2 `:path` (`/package.Service/Method`). */
  methods: Record<string, UnaryMethod<any, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Largest request message accepted, in bytes (after the 5-byte prefix). */
  maxRequestBytes: number;
  /** SETTINGS advertised to every client. */
  maxConcurrentStreams: number;
  maxHeaderListBytes: number;
  tls?: { key: Buffer; cert: Buffer; clientCa?: Buffer };
  /** DEFAULT_READ_TIMEOUT_MS unless given. */
  readTimeoutMs?: number;
}

export interface UnaryServer {
  /** Listen on `bind:port` (0: any free port); resolves with the port. */
  listen(bind: string, port: number): Promise<number>;
  /**
   * Stop accepting connections, tell every client to go away (GOAWAY), refuse (UNAVAILABLE) the
   * requests still arriving, and resolve when the calls in flight are answered.
   */
  close(): Promise<void>;
}

const PREFIX_BYTES = 5;
const GRPC_CONTENT_TYPE = /^application\/grpc(?:$|[+;])/;
const { NGHTTP2_NO_ERROR, NGHTTP2_CANCEL } = http2.constants;

const RESPONSE_HEADERS = Object.freeze({
  ':status': 200,
  'content-type': 'application/grpc+proto',
  'grpc-accept-encoding': 'identity',
});
const OK_TRAILERS = Object.freeze({ 'grpc-status': '0' });

/** grpc-message is percent-encoded: only visible ASCII but '%' travels as is. */
export function encodeGrpcMessage(text: string): string {
  return text.replace(/[^\x20-\x24\x26-\x7e]/gu, (c) =>
    Array.from(new TextEncoder().encode(c), (b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}

/** A Length-Prefixed-Message of `message`, uncompressed. */
export function frameMessage(message: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(PREFIX_BYTES + message.length);
  frame[0] = 0;
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, PREFIX_BYTES);
  return frame;
}

export function createUnaryServer(opts: UnaryServerOptions): UnaryServer {
  const settings = { maxConcurrentStreams: opts.maxConcurrentStreams, maxHeaderListSize: opts.maxHeaderListBytes };
  const server = opts.tls
    ? http2.createSecureServer({
        key: opts.tls.key,
        cert: opts.tls.cert,
        ...(opts.tls.clientCa ? { ca: opts.tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
        ALPNProtocols: ['h2'],
        settings,
      })
    : http2.createServer({ settings });
  const sessions = new Set<ServerHttp2Session>();
  let closing = false;
  const readTimeoutMs = opts.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS;
  // Requests whose message is still arriving, with when their headers came. One sweep a
  // second finds the slow ones: no timer per Check.
  const reading = new Map<ServerHttp2Stream, number>();
  const sweep = setInterval(() => {
    const now = performance.now();
    for (const [stream, since] of reading) if (now - since > readTimeoutMs) refuse(stream, GrpcStatus.DEADLINE_EXCEEDED, `the request message did not arrive within ${readTimeoutMs} ms`);
  }, Math.min(1_000, readTimeoutMs));
  sweep.unref();
  const refuse = (stream: ServerHttp2Stream, code: number, details: string) => {
    reading.delete(stream);
    stream.removeAllListeners('data');
    stream.removeAllListeners('end');
    answerStatus(stream, code, details);
    // Nothing more is read: the rest of an oversized, broken or late message would only cost memory.
    stream.close(NGHTTP2_NO_ERROR);
  };

  server.on('session', (session: ServerHttp2Session) => {
    if (closing) {
      session.close();
      return;
    }
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
    // A broken connection ends that connection only; Node would otherwise throw it.
    session.on('error', () => session.destroy());
  });
  server.on('sessionError', () => undefined);
  // A TLS handshake gone wrong (a plain-text client, an unknown certificate) is that client's problem.
  server.on('tlsClientError', () => undefined);
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => serveStream(stream, headers, opts, reading, refuse));

  return {
    listen: (bind, port) =>
      new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, bind, () => {
          server.off('error', reject);
          resolve((server.address() as AddressInfo).port);
        });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        closing = true;
        clearInterval(sweep);
        // 'close' comes once every session has ended; session.close() lets its streams finish.
        server.close(() => resolve());
        for (const session of sessions) session.close();
        for (const stream of [...reading.keys()]) refuse(stream, GrpcStatus.UNAVAILABLE, 'the server is shutting down');
      }),
  };
}

type Refuse = (stream: ServerHttp2Stream, code: number, details: string) => void;

function serveStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, opts: UnaryServerOptions, reading: Map<ServerHttp2Stream, number>, refuse: Refuse): void {
  stream.on('error', () => undefined);
  if (headers[':method'] !== 'POST' || !GRPC_CONTENT_TYPE.test(String(headers['content-type'] ?? ''))) {
    // Not gRPC: HTTP's own answer, as grpc-js gives it; whatever else the client sends is not read.
    respondOnce(stream, { ':status': 415 });
    stream.close(NGHTTP2_NO_ERROR);
    return;
  }
  const method = opts.methods[String(headers[':path'])];
  if (!method) {
    answerStatus(stream, GrpcStatus.UNIMPLEMENTED, `The server does not implement the method ${String(headers[':path'])}`);
    stream.close(NGHTTP2_NO_ERROR);
    return;
  }
  reading.set(stream, performance.now());
  stream.once('close', () => reading.delete(stream));
  let expected = -1;
  let received = 0;
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (expected < 0) {
      chunks.push(chunk);
      if (received < PREFIX_BYTES) return;
      const prefix = chunks.length === 1 ? chunk : Buffer.concat(chunks);
      chunks.length = 0;
      if (prefix[0] !== 0) return refuse(stream, GrpcStatus.UNIMPLEMENTED, 'compressed messages are not accepted (grpc-accept-encoding: identity)');
      expected = prefix.readUInt32BE(1);
      if (expected > opts.maxRequestBytes) return refuse(stream, GrpcStatus.RESOURCE_EXHAUSTED, `Received message larger than max (${expected} vs. ${opts.maxRequestBytes})`);
      chunks.push(prefix.subarray(PREFIX_BYTES));
    } else chunks.push(chunk);
    if (received > PREFIX_BYTES + expected) return refuse(stream, GrpcStatus.INTERNAL, 'more than one request message in a unary call');
  });
  stream.once('end', () => {
    reading.delete(stream);
    if (expected < 0) return answerStatus(stream, GrpcStatus.INTERNAL, 'no request message in a unary call');
    if (received < PREFIX_BYTES + expected) return answerStatus(stream, GrpcStatus.INTERNAL, 'the request message was cut short');
    const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    chunks.length = 0;
    let request: unknown;
    try {
      request = method.decode(body);
    } catch {
      return answerStatus(stream, GrpcStatus.INTERNAL, 'Error deserializing request');
    }
    let answer: unknown;
    try {
      answer = method.handle(request as never);
    } catch (err) {
      return answerError(stream, err);
    }
    if (answer instanceof Promise) answer.then((res) => answerMessage(stream, method, res), (err) => answerError(stream, err));
    else answerMessage(stream, method, answer);
  });
}

function answerMessage(stream: ServerHttp2Stream, method: UnaryMethod<any, any>, response: unknown): void { // eslint-disable-line @typescript-eslint/no-explicit-any
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  let frame: Buffer;
  try {
    frame = frameMessage(method.encode(response as never));
  } catch {
    return answerStatus(stream, GrpcStatus.INTERNAL, 'Error serializing response');
  }
  stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
  stream.once('wantTrailers', () => stream.sendTrailers(OK_TRAILERS));
  stream.end(frame);
}

function answerError(stream: ServerHttp2Stream, err: unknown): void {
  if (err instanceof GrpcCallError) answerStatus(stream, err.code, err.details);
  else answerStatus(stream, GrpcStatus.INTERNAL, 'internal error');
}

/** A Trailers-Only answer: one HEADERS frame with the status, ending the stream. */
function answerStatus(stream: ServerHttp2Stream, code: number, details: string): void {
  respondOnce(stream, { ':status': 200, 'content-type': 'application/grpc+proto', 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(details) });
}

function respondOnce(stream: ServerHttp2Stream, headers: http2.OutgoingHttpHeaders): void {
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  try {
    stream.respond(headers, { endStream: true });
  } catch {
    stream.close(NGHTTP2_CANCEL);
  }
}
