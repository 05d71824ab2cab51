/**
 * From a CheckRequest (as Envoy sends it; attacker-controlled in every field) to the bounded,
 * normalised view the guards decide on. Anything out of bounds is a ChioError('MALFORMED'),
 * which the Request guard turns into a deny with a reason.
 *
 * Envoy sends header keys in lower case and `path` with the query string (SPEC §2). Headers
 * arrive either in `headers` (a map) or, with `encode_raw_headers`, in `header_map`.
 * A request without `attributes.request.http` is Istio's TCP ext_authz filter: valid input.
 */
import { ChioError } from '../errors.js';
import type { CheckRequest } from './wire.js';

/** Envoy's own default is 100 headers (max_headers_count); this leaves room and still bounds work. */
export const MAX_HEADERS = 512;
/** Total header bytes; Envoy's default max_request_headers_kb is 60. */
export const MAX_HEADER_BYTES = 96 * 1024;
/** Longest path, host or method we will look at. */
export const MAX_PATH_BYTES = 16 * 1024;
export const MAX_HOST_BYTES = 1024;
export const MAX_METHOD_BYTES = 32;

export interface CheckInput {
  kind: 'http' | 'tcp';
  requestId: string;
  method: string;
  host: string;
  /** As sent: path with query string. */
  rawPath: string;
  /** The path the policies match: query and fragment removed. */
  path: string;
  protocol: string;
  headers: ReadonlyMap<string, string>;
  sourcePrincipal: string;
  sourceAddress: string;
  destinationAddress: string;
}

/** Normalise and bound a CheckRequest; throws ChioError('MALFORMED') with a short reason. */
export function toCheckInput(req: CheckRequest | null | undefined): CheckInput {
  const attrs = req?.attributes;
  const http = attrs?.request?.http;
  const headers = http ? readHeaders(http) : new Map<string, string>();
  const rawPath = bounded(http?.path ?? '', MAX_PATH_BYTES, 'path');
  return {
    kind: http ? 'http' : 'tcp',
    requestId: bounded(http?.id ?? headers.get('x-request-id') ?? '', 256, 'request id'),
    method: bounded(http?.method ?? '', MAX_METHOD_BYTES, 'method'),
    host: bounded(http?.host ?? headers.get(':authority') ?? '', MAX_HOST_BYTES, 'host'),
    rawPath,
    path: rawPath.split(/[?#]/, 1)[0] ?? '',
    protocol: bounded(http?.protocol ?? '', 32, 'protocol'),
    headers,
    sourcePrincipal: bounded(attrs?.source?.principal ?? '', 1024, 'source principal'),
    sourceAddress: socketAddress(attrs?.source?.address),
    destinationAddress: socketAddress(attrs?.destination?.address),
  };
}

function readHeaders(http: NonNullable<NonNullable<NonNullable<CheckRequest['attributes']>['request']>['http']>): Map<string, string> {
  const out = new Map<string, string>();
  let count = 0;
  let bytes = 0;
  const add = (key: string, value: string) => {
    count += 1;
    bytes += key.length + value.length;
    if (count > MAX_HEADERS) throw new ChioError('MALFORMED', `more than ${MAX_HEADERS} headers`);
    if (bytes > MAX_HEADER_BYTES) throw new ChioError('MALFORMED', `headers larger than ${MAX_HEADER_BYTES} bytes`);
    const k = key.toLowerCase();
    // Repeated headers are joined with ',' as Envoy does in the `headers` map.
    const prev = out.get(k);
    out.set(k, prev === undefined ? value : `${prev},${value}`);
  };
  for (const [key, value] of Object.entries(http.headers ?? {})) add(key, String(value));
  for (const h of http.header_map?.headers ?? []) {
    const value = h.raw_value && h.raw_value.length > 0 ? new TextDecoder().decode(h.raw_value) : (h.value ?? '');
    add(h.key ?? '', value);
  }
  for (const [key, value] of out) {
    if (hasControl(key) || /[\0\r\n]/.test(value)) throw new ChioError('MALFORMED', 'a header has a control character');
  }
  return out;
}

function bounded(value: string, max: number, what: string): string {
  if (value.length > max) throw new ChioError('MALFORMED', `${what} longer than ${max} bytes`);
  if (hasControl(value)) throw new ChioError('MALFORMED', `${what} has a control character`);
  return value;
}

// NUL, other C0 controls and DEL never belong in a method, host, path or header name.
function hasControl(value: string): boolean {
  return /[\u0000-\u001f\u007f]/.test(value);
}

function socketAddress(address: { socket_address?: { address?: string; port_value?: number } | null } | null | undefined): string {
  const sa = address?.socket_address;
  if (!sa?.address) return '';
  const host = bounded(sa.address, 256, 'socket address');
  return sa.port_value ? `${host}:${sa.port_value}` : host;
}
