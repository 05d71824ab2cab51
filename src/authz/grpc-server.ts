/**
 * The gRPC face of authz: `envoy.service.auth.v3.Authorization/Check` and
 * `grpc.health.v1.Health/Check` on one port. Check never fails at the transport: every
 * outcome, errors included, is a CheckResponse (a deny unless the pipeline allowed).
 *
 * Served by ./grpc-unary.ts on node:http2 rather than by grpc-js's server, which cost a
 * fifth of authz's CPU per Check. A CheckResponse is written by ./check-response-codec.ts;
 * requests, and the health messages, are read by the protobufjs codecs @grpc/proto-loader
 * builds from proto/ (./proto.ts).
 */
import { AUTHORIZATION_SERVICE, loadChioProtos } from './proto.js';
import type { Logger } from 'pino';
import { createUnaryServer } from './grpc-unary.js';
import { GrpcCallError, GrpcStatus } from './grpc-protocol.js';
import { encodeCheckResponse } from './check-response-codec.js';
import { measureMessage, type MessageShape } from './message-cost.js';
import type { CheckHandler } from './check-handler.js';
import type { CheckRequest, CheckResponse } from './wire.js';
import type { ListenerTls } from '../tls.js';
import { listenError } from '../listen-error.js';

/** Largest CheckRequest accepted at the transport; guards bound the fields inside it. */
export const MAX_CHECK_REQUEST_BYTES = 4 * 1024 * 1024;

/**
 * Most objects decoding one CheckRequest may build (messages, map entries, repeated values:
 * ./message-cost.ts), counted before it is decoded; past it the Check is RESOURCE_EXHAUSTED.
 * A Check from Envoy builds some tens (its default is at most 100 headers; the guards take
 * 512). Without it, 4 MiB of empty headers decoded to 640 MB.
 */
export const MAX_CHECK_REQUEST_ELEMENTS = 16_384;

/**
 * Most fields decoding one CheckRequest may read, at every depth: a Check from Envoy has some
 * hundreds. Fields that build nothing (one string field written a million times) still cost a
 * step each, to the walk and to the decoder.
 */
export const MAX_CHECK_REQUEST_FIELDS = 65_536;

/**
 * What one of those objects holds once decoded, counted with the message against the bytes a
 * server holds at once: measured at most about 250 (an empty HeaderValue with its defaults).
 */
export const DECODED_ELEMENT_BYTES = 256;

/**
 * HTTP/2 limits advertised to every client (SETTINGS). Unset, the server advertised unlimited
 * concurrent streams and header lists: one connection could open streams or send metadata
 * until memory ran out. Envoy opens more connections when a server caps streams, so the cap
 * costs a mesh nothing. A CheckRequest travels in the message, not in gRPC metadata, so a
 * small header list is plenty.
 */
export const MAX_CONCURRENT_STREAMS = 1024;
export const MAX_HEADER_LIST_BYTES = 16 * 1024;

/** grpc.health.v1.HealthCheckResponse.ServingStatus */
const SERVING = 1;
const NOT_SERVING = 2;

export interface GrpcServerOptions {
  bind: string;
  port: number;
  handler: CheckHandler;
  /** Undefined when ready to serve, else why not. */
  ready: () => string | undefined;
  /** TLS instead of plain text; with a client CA, only clients with a certificate it signed. */
  tls?: ListenerTls;
  /** Where the listening socket's errors (a failed accept) are said. */
  log?: Logger;
  /** The setting that chose `port` (`CHIO_GRPC_PORT`): named when the port is taken. */
  portSetting?: string;
}

export interface RunningGrpcServer {
  readonly port: number;
  /** Stop accepting calls and wait for the ones in flight to be answered. */
  stop(): Promise<void>;
}

export async function startGrpcServer(opts: GrpcServerOptions): Promise<RunningGrpcServer> {
  const { authorizationService, healthService, checkRequestShape } = loadChioProtos();
  const check = authorizationService.Check!;
  const health = healthService.Check!;
  const server = createUnaryServer({
    maxRequestBytes: MAX_CHECK_REQUEST_BYTES,
    maxConcurrentStreams: MAX_CONCURRENT_STREAMS,
    maxHeaderListBytes: MAX_HEADER_LIST_BYTES,
    ...(opts.tls ? { tls: opts.tls } : {}),
    onError: (err) => opts.log?.error({ err: String(err) }, 'gRPC listener error'),
    methods: {
      [check.path]: {
        weigh: (bytes) => weighCheckRequest(bytes, checkRequestShape),
        decode: (bytes) => check.requestDeserialize(bytes) as CheckRequest,
        encode: encodeCheckResponse,
        handle: (req: CheckRequest, call) => opts.handler.check(req, call.deadline, call),
      },
      [health.path]: {
        decode: (bytes) => health.requestDeserialize(bytes) as { service?: string },
        encode: (res: { status: number }) => health.responseSerialize(res),
        handle: (req: { service?: string }) => {
          const service = req.service ?? '';
          if (service !== '' && service !== AUTHORIZATION_SERVICE) throw new GrpcCallError(GrpcStatus.NOT_FOUND, `unknown service ${service}`);
          return { status: opts.ready() === undefined ? SERVING : NOT_SERVING };
        },
      },
    },
  });
  const port = await server.listen(opts.bind, opts.port).catch((err: unknown) => {
    throw listenError(err, opts.bind, opts.port, opts.portSetting);
  });
  return { port, stop: () => server.close() };
}

/** Bytes a CheckRequest will hold once decoded, beyond its own; throws when it must not be decoded. */
function weighCheckRequest(bytes: Buffer, shape: MessageShape): number {
  const cost = measureMessage(bytes, shape, { maxElements: MAX_CHECK_REQUEST_ELEMENTS, maxFields: MAX_CHECK_REQUEST_FIELDS });
  if (cost.ok) return cost.elements * DECODED_ELEMENT_BYTES;
  if (cost.reason === 'malformed') throw new GrpcCallError(GrpcStatus.INTERNAL, 'Error deserializing request');
  if (cost.reason === 'too-many-fields') throw new GrpcCallError(GrpcStatus.RESOURCE_EXHAUSTED, `the request has more than ${MAX_CHECK_REQUEST_FIELDS} fields`);
  throw new GrpcCallError(GrpcStatus.RESOURCE_EXHAUSTED, `the request would decode to more than ${MAX_CHECK_REQUEST_ELEMENTS} messages, map entries and repeated values`);
}
