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
 * INTERNAL as grpc-js says it, and an error of a stream or a session closes that stream or
 * session, never the process. Time and memory are bounded too, where grpc-js bounded neither:
 *
 *   - a request whose message has not arrived within `readTimeoutMs` of its headers is
 *     answered DEADLINE_EXCEEDED and reset: a slow client holds no stream and no buffer long;
 *   - a message larger than `maxRequestBytes` is refused from its length prefix alone;
 *   - the calls open may hold `maxHeldBytes` in all, past which a call is RESOURCE_EXHAUSTED:
 *     a call holds the buffer its message fills (./grpc-message.ts says how it grows) and what
 *     its method says decoding it builds (`UnaryMethod.weigh`), until it is answered (or, when
 *     not handed to its handler yet, its stream closes), since the decoded request lives until then;
 *   - a call still open `callTimeoutMs` after its headers (a client that does not read its
 *     answer) is reset, and `close()` destroys what is left `closeGraceMs` after it began;
 *   - a connection with no call open for `idleTimeoutMs` is told to go away (in two GOAWAYs, as
 *     close() does, so that a request already on its way is still answered), and at most
 *     `maxConnections` are open at once (Node's net.Server closes any past that at once): an
 *     idle or half-opened connection no longer holds its socket and its HTTP/2 session for ever;
 *   - at most `maxOpenCalls` calls are open at once over all connections, past which a call is
 *     RESOURCE_EXHAUSTED from its headers: a stream costs the server some 9 KB before any of
 *     its message comes, and the connections times the streams each may open (10,000 × 1,024)
 *     were some 90 GB of streams that sent nothing but headers; and one peer (IP address) may
 *     have at most `maxOpenCallsPerPeer` of them, so that it cannot take them all (peer-calls.ts).
 *
 * The client's own deadline (`grpc-timeout`; Envoy sends its ext_authz timeout as one) is handed
 * to the handler, so that the answer can leave while the client still waits for it; a
 * malformed one is INTERNAL, as grpc-go answers it, and zero is none, as Envoy means it. It
 * runs from when the headers may have arrived, not from when a stalled loop got to them
 * (./loop-clock.ts).
 *
 * The timers are one sweep a second over the calls open, not a timer per call; the calls it
 * finds late are ended a slice (`SWEEP_SLICE`) per turn of the loop, so that the calls of
 * other clients are read and answered in between.
 */
import * as http2 from 'node:http2';
import type { Http2Session, IncomingHttpHeaders, ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { PeerCalls } from './peer-calls.js';
import { startLoopClock, type LoopClock } from './loop-clock.js';
import { GrpcCallError, GrpcStatus, parseGrpcTimeout } from './grpc-protocol.js';
import { answerError, answerMessage, answerStatus, respondOnce } from './grpc-answer.js';
import { readRequestMessage, type Call, type Reading, type Refuse } from './grpc-message.js';
import { DEFAULT_CLOSE_ROUND_TRIP_MS, goAway } from './grpc-goaway.js';

/** How long a request's message may take to arrive after its headers, unless told otherwise; Envoy sends both at once. */
export const DEFAULT_READ_TIMEOUT_MS = 10_000;

/** What a handler is told of its call besides the request. */
export interface UnaryCall {
  /** When the client stops waiting (its grpc-timeout after the headers may have come), in ms since the epoch; undefined when it named none, or zero. */
  readonly deadline: number | undefined;
  /** True once the client has gone (reset or closed the call) before it was answered: an answer now reaches no one. */
  gone(): boolean;
  /** Call `listener` once, if the client goes before the call is answered. */
  onGone(listener: () => void): void;
}

export interface UnaryMethod<Req = never, Res = never> {
  /**
   * Bytes the request decoded from `bytes` will hold beyond them, counted before it is decoded;
   * throws a GrpcCallError when it must not be decoded (too costly, or malformed). None unless given.
   */
  weigh?(bytes: Buffer): number;
  /** The request from its protobuf bytes; throws when they are not one. */
  decode(bytes: Buffer): Req;
  /** The response's protobuf bytes. */
  encode(response: Res): Uint8Array;
  /** The response; a GrpcCallError answers with its status, any other error with INTERNAL. */
  handle(request: Req, call: UnaryCall): Res | Promise<Res>;
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
  /** DEFAULT_MAX_HELD_BYTES unless given. */
  maxHeldBytes?: number;
  /** DEFAULT_READ_TIMEOUT_MS unless given. */
  readTimeoutMs?: number;
  /** DEFAULT_CALL_TIMEOUT_MS unless given. */
  callTimeoutMs?: number;
  /** DEFAULT_CLOSE_GRACE_MS unless given. */
  closeGraceMs?: number;
  /** DEFAULT_CLOSE_ROUND_TRIP_MS unless given (./grpc-goaway.ts), and never more than closeGraceMs. */
  closeRoundTripMs?: number;
  /** DEFAULT_IDLE_TIMEOUT_MS unless given. */
  idleTimeoutMs?: number;
  /** DEFAULT_MAX_CONNECTIONS unless given. */
  maxConnections?: number;
  /** DEFAULT_MAX_OPEN_CALLS unless given. */
  maxOpenCalls?: number;
  /** A quarter of maxOpenCalls unless given. */
  maxOpenCallsPerPeer?: number;
  /** Told of a listening socket's errors (a failed accept, say), which would otherwise end the process. */
  onError?: (err: Error) => void;
}

export interface UnaryServer {
  /** Listen on `bind:port` (0: any free port); resolves with the port. */
  listen(bind: string, port: number): Promise<number>;
  /**
   * Stop accepting connections and tell every client to go away in two GOAWAYs a PING's round
   * trip apart (./grpc-goaway.ts; TLS connections in one): what a client sent before it read the
   * first is served as usual. Then refuse (UNAVAILABLE) the requests still arriving, and resolve
   * when the calls in flight are answered, or when `closeGraceMs` has passed and the connections
   * left are destroyed.
   */
  close(): Promise<void>;
}

/** Bytes the calls open may hold in all (messages and what decoding them builds): 16 of the largest CheckRequests. */
export const DEFAULT_MAX_HELD_BYTES = 64 * 1024 * 1024;
/** A call's life from its headers to its last byte out: far above any Check's deadline. */
export const DEFAULT_CALL_TIMEOUT_MS = 60_000;
export const DEFAULT_CLOSE_GRACE_MS = 30_000;
/**
 * How long a connection may stay without a call: grpc-go's MAX_CONNECTION_IDLE, which Envoy's
 * HTTP/2 pool meets by opening a new connection for its next Check.
 */
export const DEFAULT_IDLE_TIMEOUT_MS = 5 * 60_000;
/**
 * Connections open at once. Envoy opens one per worker thread per Chio replica (two for an
 * Istio sidecar by default), so this is some thousands of sidecars per replica; each
 * connection costs its socket and HTTP/2 session buffers.
 */
export const DEFAULT_MAX_CONNECTIONS = 10_000;
/**
 * Calls open at once over all connections: some 75 MB of streams. A Check is open for some
 * milliseconds, so a replica answering thousands a second has tens open.
 */
export const DEFAULT_MAX_OPEN_CALLS = 8_192;
/** One client (IP address) may hold this fraction of them: 1/4, 2,048 of the default (peer-calls.ts). */
export const PEER_SHARE_OF_OPEN_CALLS = 4;

/**
 * Late calls the sweep ends in one turn of the loop. A client that opens thousands of calls
 * together and sends none of their messages has them all pass the read timeout in one sweep:
 * ended in one turn, 6,000 of them (their answers, resets and closes) held the loop 1.65 s, in
 * which no other client's Check was read; a slice at a time, no turn took more than 50 ms.
 */
export const SWEEP_SLICE = 128;

const GRPC_CONTENT_TYPE = /^application\/grpc(?:$|[+;])/;
const { NGHTTP2_NO_ERROR, NGHTTP2_CANCEL } = http2.constants;


/** A connection's calls open now, since when it had none, and its socket when plain text (for close()'s first GOAWAY). */
interface Connection {
  open: number;
  idleSince: number;
  socket: Socket | undefined;
  /** Told to go away for being idle: its GOAWAYs are on their way, not to be sent again each sweep. */
  goingAway: boolean;
}

/** The server's calls as a stream's serving sees them: one begun per stream, and how its message is read. */
interface Calls extends Reading {
  start(stream: ServerHttp2Stream): Call;
  /** Give back what `call` holds: its answer is on its way, and its request is no longer needed. */
  answered(call: Call): void;
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
  server.maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  const limits = {
    maxHeldBytes: opts.maxHeldBytes ?? DEFAULT_MAX_HELD_BYTES,
    readTimeoutMs: opts.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS,
    callTimeoutMs: opts.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
    idleTimeoutMs: opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    maxOpenCalls: opts.maxOpenCalls ?? DEFAULT_MAX_OPEN_CALLS,
  };
  const graceMs = opts.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS;
  const roundTripMs = Math.min(opts.closeRoundTripMs ?? DEFAULT_CLOSE_ROUND_TRIP_MS, graceMs);
  const peers = new PeerCalls(opts.maxOpenCallsPerPeer ?? Math.max(1, Math.floor(limits.maxOpenCalls / PEER_SHARE_OF_OPEN_CALLS)));
  const sessions = new Map<Http2Session, Connection>();
  // Every accepted socket, destroyed at the end of close()'s grace: destroying a session only
  // half-closes its socket, which then waits for the peer's FIN, and a peer that never sends it
  // (frozen, partitioned, hostile) held server.close() — and so the stop of authz — for ever.
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  // The plain-text socket of the session being set up: Node makes a plain-text session in its
  // own 'connection' listener, which emits 'session' at once. Ours, put before it, hands the
  // socket over; 'session' checks it is that connection's.
  let accepted: Socket | undefined;
  if (!opts.tls) server.prependListener('connection', (socket: Socket) => (accepted = socket));
  const calls = new Map<ServerHttp2Stream, Call>();
  let held = 0;
  let closing = false;

  const release = (call: Call) => {
    call.reading = false;
    held -= call.held;
    call.held = 0;
  };
  const refuse: Refuse = (stream, code, details, headers) => {
    const call = calls.get(stream);
    if (call) release(call);
    stream.removeAllListeners('data');
    stream.removeAllListeners('end');
    answerStatus(stream, code, details, headers);
    // Nothing more is read: the rest of an oversized, broken or late message would only cost memory.
    stream.close(NGHTTP2_NO_ERROR);
  };
  const reading: Calls = {
    start(stream) {
      const call: Call = { since: performance.now(), reading: true, held: 0 };
      calls.set(stream, call);
      stream.once('close', () => {
        if (!call.handling) release(call);
        calls.delete(stream);
      });
      return call;
    },
    answered: release,
    announce(_call, bytes) {
      if (bytes > opts.maxRequestBytes) return `Received message larger than max (${bytes} vs. ${opts.maxRequestBytes})`;
      return undefined;
    },
    hold(call, bytes) {
      if (held + bytes > limits.maxHeldBytes) return 'the server holds too many request bytes at once';
      held += bytes;
      call.held += bytes;
      return undefined;
    },
    refuse,
  };
  const readLate = (call: Call, now: number) => call.reading && now - call.since > limits.readTimeoutMs;
  const callLate = (call: Call, now: number) => now - call.since > limits.callTimeoutMs;
  // Ended SWEEP_SLICE at a time, a slice a turn of the loop. Each call is judged again against
  // the sweep's `now`: it may have been answered since, and a call only ever stops reading.
  let ending: NodeJS.Immediate | undefined;
  const endSlices = (late: ServerHttp2Stream[], from: number, now: number) => {
    for (const stream of late.slice(from, from + SWEEP_SLICE)) {
      const call = calls.get(stream);
      if (call && readLate(call, now)) refuse(stream, GrpcStatus.DEADLINE_EXCEEDED, `the request message did not arrive within ${limits.readTimeoutMs} ms`);
      else if (call && callLate(call, now)) stream.close(NGHTTP2_CANCEL);
    }
    ending = from + SWEEP_SLICE < late.length ? setImmediate(endSlices, late, from + SWEEP_SLICE, now) : undefined;
  };
  const sweep = setInterval(() => {
    if (ending) return;
    const now = performance.now();
    const late: ServerHttp2Stream[] = [];
    for (const [stream, call] of calls) if (readLate(call, now) || callLate(call, now)) late.push(stream);
    endSlices(late, 0, now);
    for (const [session, connection] of sessions) {
      // In two GOAWAYs, as close() does: a Check sent before the client read the first is answered.
      if (connection.open === 0 && now - connection.idleSince > limits.idleTimeoutMs && !session.closed && !connection.goingAway) {
        connection.goingAway = true;
        void goAway(session, connection.socket, roundTripMs);
      }
    }
  }, Math.min(1_000, limits.readTimeoutMs, limits.callTimeoutMs, limits.idleTimeoutMs));
  sweep.unref();
  const loop = startLoopClock();

  server.on('session', (session: ServerHttp2Session) => {
    if (closing) {
      session.destroy();
      return;
    }
    const socket = accepted && accepted.remotePort === session.socket.remotePort && accepted.remoteAddress === session.socket.remoteAddress ? accepted : undefined;
    accepted = undefined;
    sessions.set(session, { open: 0, idleSince: performance.now(), socket, goingAway: false });
    session.on('close', () => sessions.delete(session));
    // A broken connection ends that connection only; Node would otherwise throw it.
    session.on('error', () => session.destroy());
  });
  server.on('sessionError', () => undefined);
  // A TLS handshake gone wrong (a plain-text client, an unknown certificate) is that client's problem.
  server.on('tlsClientError', () => undefined);
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    const connection = sessions.get(stream.session!);
    if (connection) {
      connection.open++;
      stream.once('close', () => {
        if (--connection.open === 0) connection.idleSince = performance.now();
      });
    }
    const peer = stream.session?.socket?.remoteAddress ?? '';
    const full = calls.size >= limits.maxOpenCalls ? 'the server has too many calls open' : peers.take(peer) ? undefined : 'this client has too many calls open';
    if (full !== undefined) {
      answerStatus(stream, GrpcStatus.RESOURCE_EXHAUSTED, full);
      stream.close(NGHTTP2_NO_ERROR);
      return;
    }
    stream.once('close', () => peers.give(peer));
    serveStream(stream, headers, opts, reading, loop);
  });

  return {
    listen: (bind, port) =>
      new Promise<number>((resolve, reject) => {
        const failed = (err: Error) => {
          clearInterval(sweep);
          loop.stop();
          reject(err);
        };
        server.once('error', failed);
        server.listen(port, bind, () => {
          server.off('error', failed);
          server.on('error', (err: Error) => opts.onError?.(err));
          resolve((server.address() as AddressInfo).port);
        });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        closing = true;
        clearInterval(sweep);
        clearImmediate(ending);
        loop.stop();
        const grace = setTimeout(() => {
          for (const session of sessions.keys()) session.destroy();
          for (const socket of sockets) socket.destroy();
        }, graceMs);
        // 'close' comes once every session has ended; session.close() (goAway's final GOAWAY) lets its streams finish.
        server.close(() => {
          clearTimeout(grace);
          resolve();
        });
        // Once no client may open a stream any more: a message still arriving then is not waited for.
        void Promise.all([...sessions].map(([session, connection]) => goAway(session, connection.socket, roundTripMs))).then(() => {
          for (const [stream, call] of calls) if (call.reading) refuse(stream, GrpcStatus.UNAVAILABLE, 'the server is shutting down');
        });
      }),
  };
}

function serveStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, opts: UnaryServerOptions, reading: Calls, loop: LoopClock): void {
  stream.on('error', () => undefined);
  if (headers[':method'] !== 'POST' || !GRPC_CONTENT_TYPE.test(String(headers['content-type'] ?? ''))) {
    // Not gRPC: HTTP's own answer, as grpc-js gives it; whatever else the client sends is not read.
    respondOnce(stream, { ':status': 415 });
    stream.close(NGHTTP2_NO_ERROR);
    return;
  }
  const path = String(headers[':path']);
  const method = opts.methods[path];
  if (!method) {
    answerStatus(stream, GrpcStatus.UNIMPLEMENTED, `The server does not implement the method ${path}`);
    stream.close(NGHTTP2_NO_ERROR);
    return;
  }
  const timeoutMs = parseGrpcTimeout(headers['grpc-timeout']);
  if (Number.isNaN(timeoutMs)) {
    answerStatus(stream, GrpcStatus.INTERNAL, 'malformed grpc-timeout');
    stream.close(NGHTTP2_NO_ERROR);
    return;
  }
  // Zero is Envoy's "no timeout": a provider configured with `timeout: 0s` sends `0m`, and
  // Envoy's own router reads a zero grpc-timeout as infinite. Taken as "already expired" (as
  // grpc-go would), every Check of such a mesh would be a deny 503.
  const context: UnaryCall = {
    deadline: timeoutMs === undefined || timeoutMs === 0 ? undefined : Math.round(Date.now() - loop.waitedMs()) + timeoutMs,
    gone: () => (stream.closed || stream.destroyed) && !stream.headersSent,
    onGone: (listener) => {
      // Already gone: 'close' will not come again.
      if (stream.closed || stream.destroyed) {
        if (!stream.headersSent) listener();
      } else
        stream.once('close', () => {
          if (!stream.headersSent) listener();
        });
    },
  };
  const call = reading.start(stream);
  readRequestMessage(stream, headers['grpc-encoding'], call, reading, (bytes) => {
    let request: unknown;
    try {
      const refused = reading.hold(call, method.weigh?.(bytes) ?? 0);
      if (refused) return answerStatus(stream, GrpcStatus.RESOURCE_EXHAUSTED, refused);
      request = method.decode(bytes);
    } catch (err) {
      if (err instanceof GrpcCallError) return answerError(stream, err);
      return answerStatus(stream, GrpcStatus.INTERNAL, 'Error deserializing request');
    }
    let answer: unknown;
    try {
      answer = method.handle(request as never, context);
    } catch (err) {
      return answerError(stream, err);
    }
    // Given back once answered, not once the stream closes: a client that reads nothing (a flow
    // control window of zero) keeps the stream open until the call timeout, and a few such
    // calls held the whole budget for a minute, refusing every other Check.
    if (answer instanceof Promise) {
      call.handling = true;
      answer
        .then((res) => answerMessage(stream, method, res), (err) => answerError(stream, err))
        .catch(() => stream.close(NGHTTP2_CANCEL))
        .finally(() => reading.answered(call));
    } else {
      answerMessage(stream, method, answer);
      reading.answered(call);
    }
  });
}
