/** `chio check`: one CheckRequest over gRPC, as Envoy would send it; prints the answer. */
import * as grpc from '@grpc/grpc-js';
import { loadChioProtos } from '../authz/proto.js';
import type { CheckRequest, CheckResponse, HeaderValueOption } from '../authz/wire.js';
import { ChioError } from '../errors/index.js';
import { DEFAULT_GRPC_PORT } from '../config.js';
import { readPrivateFile, readPublicFile } from '../setting-file.js';
import { forTerminal } from './terminal.js';

export interface CheckAnswer {
  verdict: 'allow' | 'deny';
  grpcCode: number;
  httpStatus: number;
  headers: Record<string, string>;
  receiptId?: string;
  body?: string;
  /** Request headers Chio told Envoy to remove before upstream (allow only). */
  removedHeaders?: string[];
  /** Headers Chio told Envoy to add to the client's response (allow only). */
  responseHeaders?: Record<string, string>;
  /** Query parameters Chio told Envoy to set before upstream (an allow that sets any). */
  queryParametersToSet?: Record<string, string>;
  /** Query parameters Chio told Envoy to remove before upstream (an allow that removes any). */
  queryParametersToRemove?: string[];
}

/** PEM files for a TLS listener (CHIO_TLS_*): the CA to trust, and a client certificate for mutual TLS. */
export interface CheckTlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
}

/** Plain text without files; TLS with `ca` (else the system's roots), a client certificate with cert and key. */
export function checkClientCredentials(files: CheckTlsFiles = {}): grpc.ChannelCredentials {
  if (files.ca === undefined && files.cert === undefined && files.key === undefined) return grpc.credentials.createInsecure();
  if ((files.cert === undefined) !== (files.key === undefined)) throw new ChioError('CONFIG_INVALID', '--tls-cert and --tls-key go together');
  return grpc.credentials.createSsl(
    files.ca !== undefined ? readPublicFile(files.ca, '--tls-ca') : null,
    files.key !== undefined ? readPrivateFile(files.key, '--tls-key') : null,
    files.cert !== undefined ? readPublicFile(files.cert, '--tls-cert') : null,
  );
}

/** Send one Check to `addr` (host:port) and summarise the answer. */
export async function sendCheck(addr: string, request: CheckRequest, timeoutMs = 5_000, credentials = grpc.credentials.createInsecure()): Promise<CheckAnswer> {
  const { authorizationClient } = loadChioProtos();
  const client = new authorizationClient(addr, credentials);
  try {
    const res = await new Promise<CheckResponse>((resolve, reject) =>
      client.Check(request, { deadline: Date.now() + timeoutMs }, (err: grpc.ServiceError | null, r: CheckResponse) => (err ? reject(err) : resolve(r))),
    );
    return summarise(res);
  } finally {
    client.close();
  }
}

/**
 * What `chio check` says when its Check got no answer: where it tried and what to look at.
 * grpc-js says `14 UNAVAILABLE: No connection established. Last error: … Resolution note: `,
 * which names neither the option to change nor the port Chio answers on. An answer (allow or
 * deny) never comes here; other errors are passed on as they are.
 */
export function checkFailure(err: unknown, addr: string): unknown {
  if (!isServiceError(err)) return err;
  const detail = err.details.replace(/\s*Resolution note:\s*$/, '').replace(/\.$/, '');
  const where = `--addr ${addr}`;
  const port = `Chio's authz gRPC port (CHIO_GRPC_PORT, ${DEFAULT_GRPC_PORT} unless set; \`chio up\` prints the --addr to use)`;
  switch (err.code) {
    case grpc.status.UNAVAILABLE:
      return new ChioError('UNAVAILABLE', `cannot reach ${where} (${detail}): is Chio running, is that ${port}, and, when it serves TLS, is --tls-ca given?`, { cause: err });
    case grpc.status.UNIMPLEMENTED:
      return new ChioError('UNAVAILABLE', `${where} answered, but not as Envoy's ext_authz service (${detail}): give ${port}, not an HTTP port`, { cause: err });
    case grpc.status.DEADLINE_EXCEEDED:
      return new ChioError('UNAVAILABLE', `no answer from ${where} within the Check's deadline (${detail}): is that ${port}?`, { cause: err });
    default:
      return err;
  }
}

function isServiceError(err: unknown): err is grpc.ServiceError {
  return err instanceof Error && typeof (err as Partial<grpc.ServiceError>).code === 'number' && typeof (err as Partial<grpc.ServiceError>).details === 'string';
}

export function summarise(res: CheckResponse): CheckAnswer {
  const headerList: HeaderValueOption[] = res.ok_response?.headers ?? res.denied_response?.headers ?? [];
  const headers = Object.fromEntries(headerList.map((h) => [h.header.key, h.header.value]));
  const code = res.status?.code ?? 2;
  const ok = res.ok_response;
  return {
    verdict: code === 0 ? 'allow' : 'deny',
    grpcCode: code,
    httpStatus: code === 0 ? 200 : (res.denied_response?.status?.code ?? 403),
    headers,
    ...(headers['x-chio-receipt-id'] ? { receiptId: headers['x-chio-receipt-id'] } : {}),
    ...(res.denied_response?.body ? { body: res.denied_response.body } : {}),
    ...(ok ? { removedHeaders: ok.headers_to_remove ?? [] } : {}),
    ...(ok ? { responseHeaders: Object.fromEntries((ok.response_headers_to_add ?? []).map((h) => [h.header.key, h.header.value])) } : {}),
    ...(ok?.query_parameters_to_set?.length ? { queryParametersToSet: Object.fromEntries(ok.query_parameters_to_set.map((p) => [p.key, p.value])) } : {}),
    ...(ok?.query_parameters_to_remove?.length ? { queryParametersToRemove: ok.query_parameters_to_remove } : {}),
  };
}

export function formatCheckAnswer(a: CheckAnswer): string {
  const lines = [`${a.verdict.toUpperCase()} (grpc ${a.grpcCode}, http ${a.httpStatus})`];
  for (const [k, v] of Object.entries(a.headers)) lines.push(`  ${k}: ${v}`);
  for (const k of a.removedHeaders ?? []) lines.push(`  - request header ${k}`);
  for (const [k, v] of Object.entries(a.responseHeaders ?? {})) lines.push(`  + response header ${k}: ${v}`);
  for (const [k, v] of Object.entries(a.queryParametersToSet ?? {})) lines.push(`  + query parameter ${k}=${v}`);
  for (const k of a.queryParametersToRemove ?? []) lines.push(`  - query parameter ${k}`);
  if (a.receiptId) lines.push(`receipt id: ${a.receiptId}`);
  // What the server and its policies said, escaped line by line (terminal.ts).
  return lines.map(forTerminal).join('\n');
}
