/**
 * An echo method served by src/authz/grpc-unary.ts, and the raw HTTP/2 requests the
 * test/unit/authz/grpc-unary-*.test.ts files send it: what they share, written once.
 */
import { connect, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import { createUnaryServer, type UnaryServer, type UnaryServerOptions } from '../../src/authz/grpc-unary.js';
import { GrpcCallError, GrpcStatus } from '../../src/authz/grpc-protocol.js';

export const ECHO = '/test.Echo/Echo';
export const MAX = 1024;
export const utf8 = (s: string) => new TextEncoder().encode(s);
export const text = (b: Uint8Array) => new TextDecoder('utf-8', { fatal: true }).decode(b);

/**
 * What the echo method was asked, to see that an answer never reached a handler. Emptied in
 * place (resetEcho), never replaced: every test file holds this one array.
 */
export const handled: string[] = [];
/** Held calls: released by the test. */
export const release: Array<() => void> = [];

export function echoServer(limits: Partial<UnaryServerOptions> = {}): UnaryServer {
  return createUnaryServer({
    ...limits,
    maxRequestBytes: MAX,
    maxConcurrentStreams: 16,
    maxHeaderListBytes: 8 * 1024,
    methods: {
      [ECHO]: {
        // 'heavy…' says its decoding holds 1,000 bytes; 'too costly' may not be decoded.
        weigh: (bytes) => {
          const req = text(bytes);
          if (req === 'too costly') throw new GrpcCallError(GrpcStatus.RESOURCE_EXHAUSTED, 'would build too much');
          return req.startsWith('heavy') ? 1_000 : 0;
        },
        decode: text,
        encode: utf8,
        handle: async (req: string, call) => {
          handled.push(req);
          if (req === 'deadline') return String(call.deadline ?? 'none');
          if (req === 'spin') for (const until = Date.now() + 40; Date.now() < until; );
          if (req === 'hold' || req === 'heavy hold') await new Promise<void>((r) => release.push(r));
          if (req === 'watch') {
            call.onGone(() => handled.push('gone'));
            await new Promise<void>((r) => release.push(r));
            return `gone: ${call.gone()}`;
          }
          if (req === 'refuse') throw new GrpcCallError(GrpcStatus.NOT_FOUND, 'no such thing: é%');
          if (req === 'crash') throw new Error('secret internals');
          if (req === 'long') throw new GrpcCallError(GrpcStatus.NOT_FOUND, 'ÿ'.repeat(1_000_000));
          return `echo ${req}`;
        },
      },
    },
  });
}

/** Resolves once a call sent 'hold' is in the handler, waiting for release. */
export async function untilHeld(): Promise<void> {
  while (release.length === 0) await new Promise((r) => setTimeout(r, 5));
}

/** A server of its own with these limits, and one connection to it whose errors (a close) are expected. */
export async function serverAndSession(limits: Partial<UnaryServerOptions> = {}): Promise<{ server: UnaryServer; port: number; session: ClientHttp2Session }> {
  const server = echoServer(limits);
  const port = await server.listen('127.0.0.1', 0);
  const session = connect(`http://127.0.0.1:${port}`);
  session.on('error', () => undefined);
  return { server, port, session };
}

/** Run `test` against a server of its own with these limits, on one connection, then close both. */
export async function withServer(limits: Partial<UnaryServerOptions>, test: (session: ClientHttp2Session) => Promise<void>): Promise<void> {
  const { server, session } = await serverAndSession(limits);
  try {
    await test(session);
  } finally {
    session.close();
    await server.close();
  }
}

export interface RawAnswer {
  headers: IncomingHttpHeaders;
  trailers: IncomingHttpHeaders;
  data: Buffer;
  /** RST_STREAM code when the server reset the stream, else 0. */
  rst: number;
}

/** One HTTP/2 request on `session`: `chunks` written in order, the stream ended unless `end` is false. */
export function raw(session: ClientHttp2Session, chunks: Uint8Array[], opts: { path?: string; contentType?: string; method?: string; end?: boolean; headers?: Record<string, string>; paced?: boolean } = {}): Promise<RawAnswer> {
  const stream = session.request({ ':method': opts.method ?? 'POST', ':path': opts.path ?? ECHO, 'content-type': opts.contentType ?? 'application/grpc', te: 'trailers', ...opts.headers });
  const answer: RawAnswer = { headers: {}, trailers: {}, data: Buffer.alloc(0), rst: 0 };
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    stream.on('response', (h) => (answer.headers = h));
    stream.on('trailers', (t) => (answer.trailers = t));
    stream.on('data', (d: Buffer) => parts.push(d));
    stream.on('error', () => undefined);
    stream.on('close', () => {
      answer.data = Buffer.concat(parts);
      answer.rst = stream.rstCode ?? 0;
      if (answer.headers[':status'] === undefined) reject(new Error(`no answer (rst ${answer.rst})`));
      else resolve(answer);
    });
    const end = () => {
      if (opts.end !== false) stream.end();
    };
    if (!opts.paced) {
      for (const c of chunks) stream.write(c);
      return end();
    }
    // One chunk per turn of the loop, so that each leaves in a DATA frame of its own (writes in
    // one turn are sent in one frame).
    void (async () => {
      for (const c of chunks) {
        stream.write(c);
        await new Promise((r) => setTimeout(r, 1));
      }
      end();
    })();
  });
}

/** A call on `session` that sends its headers and one byte of its message, and no more: it stays open. */
export function stalledCall(session: ClientHttp2Session): ClientHttp2Stream {
  const stream = session.request({ ':method': 'POST', ':path': ECHO, 'content-type': 'application/grpc' });
  stream.on('error', () => undefined);
  stream.write(Uint8Array.of(0));
  return stream;
}

/** grpc-status of a raw answer, from the trailers or a Trailers-Only answer's headers. */
export const statusOf = (a: RawAnswer) => Number(a.trailers['grpc-status'] ?? a.headers['grpc-status']);
export const messageOf = (a: RawAnswer) => decodeURIComponent(String(a.trailers['grpc-message'] ?? a.headers['grpc-message'] ?? ''));

/** After each test: what was handled forgotten, and every call still held released. */
export function resetEcho(): void {
  handled.length = 0;
  for (const r of release.splice(0)) r();
}
