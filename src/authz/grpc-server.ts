/**
 * The gRPC face of authz: `envoy.service.auth.v3.Authorization/Check` and
 * `grpc.health.v1.Health/Check` on one port. Check never fails at the transport: every
 * outcome, errors included, is a CheckResponse (a deny unless the pipeline allowed).
 */
import * as grpc from '@grpc/grpc-js';
import { loadChioProtos } from './proto.js';
import type { CheckHandler } from './check-handler.js';
import type { CheckRequest, CheckResponse } from './wire.js';
import type { ListenerTls } from '../tls.js';

/** Largest CheckRequest accepted at the transport; guards bound the fields inside it. */
export const MAX_CHECK_REQUEST_BYTES = 4 * 1024 * 1024;

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
}

export interface RunningGrpcServer {
  readonly port: number;
  /** Stop accepting calls and wait for the ones in flight to be answered. */
  stop(): Promise<void>;
}

/**
 * grpc-js has no option for the header list size, but passes its `commonServerOptions` to
 * http2.createServer when binding; add maxHeaderListSize to the settings it built from
 * grpc.max_concurrent_streams. A unit test reads the SETTINGS a client receives, so a grpc-js
 * upgrade that moves this field fails loudly instead of silently dropping the limit.
 */
function limitHeaderList(server: grpc.Server): void {
  const internal = server as unknown as { commonServerOptions?: { settings?: Record<string, number> } };
  if (!internal.commonServerOptions) throw new Error('chio: grpc-js no longer exposes commonServerOptions; header list limit not set');
  internal.commonServerOptions.settings = { ...internal.commonServerOptions.settings, maxHeaderListSize: MAX_HEADER_LIST_BYTES };
}

function serverCredentials(tls: ListenerTls | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  // The last argument makes a client certificate mandatory (checked against clientCa).
  return grpc.ServerCredentials.createSsl(tls.clientCa ?? null, [{ private_key: tls.key, cert_chain: tls.cert }], tls.clientCa !== undefined);
}

export async function startGrpcServer(opts: GrpcServerOptions): Promise<RunningGrpcServer> {
  const { authorizationService, healthService } = loadChioProtos();
  const server = new grpc.Server({
    'grpc.max_receive_message_length': MAX_CHECK_REQUEST_BYTES,
    'grpc.max_send_message_length': 1024 * 1024,
    'grpc.max_concurrent_streams': MAX_CONCURRENT_STREAMS,
  });
  limitHeaderList(server);
  server.addService(authorizationService, {
    Check: (call: grpc.ServerUnaryCall<CheckRequest, CheckResponse>, callback: grpc.sendUnaryData<CheckResponse>) => {
      opts.handler.check(call.request).then((res) => callback(null, res), (err) => callback(err));
    },
  });
  server.addService(healthService, {
    Check: (call: grpc.ServerUnaryCall<{ service?: string }, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      const service = call.request.service ?? '';
      if (service !== '' && service !== 'envoy.service.auth.v3.Authorization') {
        callback({ code: grpc.status.NOT_FOUND, details: `unknown service ${service}` });
        return;
      }
      callback(null, { status: opts.ready() === undefined ? SERVING : NOT_SERVING });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${opts.bind}:${opts.port}`, serverCredentials(opts.tls), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  return {
    port,
    stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
