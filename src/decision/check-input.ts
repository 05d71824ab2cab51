/**
 * From a CheckRequest (as Envoy sends it; attacker-controlled in every field) to the bounded,
 * normalised view the guards decide on. Anything out of bounds is a ChioError('REQUEST_MALFORMED'),
 * which the Request guard turns into a deny with a reason.
 *
 * Envoy sends header keys in lower case and `path` with the query string (SPEC §2). Headers
 * arrive either in `headers` (a map) or, with `encode_raw_headers`, in `header_map`.
 * A request without `attributes.request.http` is Istio's TCP ext_authz filter: valid input.
 */
import { isIP } from 'node:net';
import { ChioError } from '../errors/index.js';
import type { CheckRequest } from '../authz/wire.js';
import { normalizeTarget, type NormalisedTarget } from './path.js';
import { normalizeHost } from './host.js';

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
  /** Normalised (host.ts): lower case, ASCII, no trailing dot, no empty port. */
  host: string;
  /** As sent: path with query string. */
  rawPath: string;
  /** The path the policies match: normalised (path.ts); '' for a TCP check. */
  path: string;
  /** The target split: normal path, raw path, query, cut `;params` (path.ts). */
  target: NormalisedTarget;
  protocol: string;
  headers: ReadonlyMap<string, string>;
  sourcePrincipal: string;
  sourceAddress: string;
  destinationAddress: string;
}

/** A TCP check has no HTTP target. */
const NO_TARGET: NormalisedTarget = { path: '', rawPath: '', query: '', suffix: '', params: '' };

/** Normalise and bound a CheckRequest; throws ChioError('REQUEST_MALFORMED') with a short reason. */
export function toCheckInput(req: CheckRequest | null | undefined): CheckInput {
  const attrs = req?.attributes;
  const http = attrs?.request?.http;
  // The path and host first: a bad one is named as such though :path and :authority repeat them in the headers.
  const rawPath = bounded(http?.path ?? '', MAX_PATH_BYTES, 'path');
  const sentHost = bounded(http?.host ?? '', MAX_HOST_BYTES, 'host');
  const headers = http ? readHeaders(http) : new Map<string, string>();
  const target = http ? normalizeTarget(rawPath) : NO_TARGET;
  // Envoy fills `host` from :authority; proto3 leaves it '' (not absent) when unset.
  const rawHost = sentHost || bounded(headers.get(':authority') || '', MAX_HOST_BYTES, 'host');
  return {
    kind: http ? 'http' : 'tcp',
    // proto3 decodes an unset id as '' (not absent): the header is the fallback then too.
    requestId: bounded(http?.id || headers.get('x-request-id') || '', 256, 'request id'),
    method: methodOf(bounded(http?.method ?? '', MAX_METHOD_BYTES, 'method')),
    host: normalizeHost(rawHost),
    rawPath,
    path: target.path,
    target,
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
    bytes += Buffer.byteLength(key) + Buffer.byteLength(value);
    if (count > MAX_HEADERS) throw new ChioError('REQUEST_MALFORMED', `more than ${MAX_HEADERS} headers`);
    if (bytes > MAX_HEADER_BYTES) throw new ChioError('REQUEST_MALFORMED', `headers larger than ${MAX_HEADER_BYTES} bytes`);
    // A name is an HTTP token (Envoy refuses any other): lower-cased as ASCII, no name can
    // become another one (toLowerCase turns the Kelvin sign K into k).
    if (key !== '' && !hasControl(key) && !HEADER_NAME.test(key)) throw new ChioError('REQUEST_MALFORMED', 'a header name is not an HTTP token');
    const k = key.toLowerCase();
    // Repeated headers are joined with ',' as Envoy does in the `headers` map.
    const prev = out.get(k);
    out.set(k, prev === undefined ? value : `${prev},${value}`);
  };
  const headerMap = http.headers ?? {};
  // Count before iterating: a map of 10,000 headers is refused without touching each one.
  if (Object.keys(headerMap).length > MAX_HEADERS) throw new ChioError('REQUEST_MALFORMED', `more than ${MAX_HEADERS} headers`);
  for (const [key, value] of Object.entries(headerMap)) add(key, String(value));
  const headerList = http.header_map?.headers ?? [];
  if (headerList.length > MAX_HEADERS) throw new ChioError('REQUEST_MALFORMED', `more than ${MAX_HEADERS} headers`);
  for (const h of headerList) add(h.key ?? '', h.raw_value && h.raw_value.length > 0 ? decodeUtf8(h.raw_value) : (h.value ?? ''));
  for (const [key, value] of out) {
    if (key === '' || hasControl(key) || FIELD_VALUE_CONTROL.test(value)) throw new ChioError('REQUEST_MALFORMED', 'a header has an empty name or a control character');
    if (!isUtf8Text(key) || !isUtf8Text(value)) throw new ChioError('REQUEST_MALFORMED', 'a header is not valid UTF-8');
  }
  return out;
}

/**
 * What RFC 9110 §5.5 keeps out of a field value: every C0 control but HTAB, and DEL (Envoy's
 * codecs refuse them too). Taken in, `authorization: Bearer<VT><token>` was no Bearer token to
 * Chio, so unchecked, while an upstream that splits on any whitespace (Python's split()) reads
 * the token from it.
 */
const FIELD_VALUE_CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;

/** RFC 9110 token characters, after the ':' of an HTTP/2 pseudo-header: every header name a request may carry. */
export const HEADER_NAME = /^:?[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** RFC 9110 token characters without the lower-case letters. */
const METHOD = /^[!#$%&'*+.^_`|~0-9A-Z-]+$/;

/**
 * The method, an upper-case HTTP token. HTTP/2 carries any token as :method, and upstreams
 * disagree on `delete`: Django and Flask upper-case it to DELETE, Go and Tomcat do not. Neither
 * case-sensitive matching (a DENY of DELETE misses it) nor case-insensitive (an ALLOW of GET
 * lets `get` reach a handler that reads it as not GET) is right for both, so it is refused.
 */
function methodOf(method: string): string {
  if (method !== '' && !METHOD.test(method)) throw new ChioError('REQUEST_MALFORMED', 'method is not an upper-case HTTP token');
  return method;
}

function bounded(value: string, max: number, what: string): string {
  if (typeof value !== 'string') throw new ChioError('REQUEST_MALFORMED', `${what} is not a string`);
  // UTF-8 bytes, as the reason says: a UTF-16 length let 16,384 × 'é' (32 KiB) pass as a 16 KiB path.
  if (value.length > max || (value.length * 3 > max && Buffer.byteLength(value) > max)) throw new ChioError('REQUEST_MALFORMED', `${what} longer than ${max} bytes`);
  if (hasControl(value)) throw new ChioError('REQUEST_MALFORMED', `${what} has a control character`);
  if (!isUtf8Text(value)) throw new ChioError('REQUEST_MALFORMED', `${what} is not valid UTF-8`);
  return value;
}

// Invalid UTF-8 on the wire decodes to U+FFFD or lone surrogates: neither is a real request.
function isUtf8Text(value: string): boolean {
  return value.isWellFormed() && !value.includes('\uFFFD');
}

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ChioError('REQUEST_MALFORMED', 'a header is not valid UTF-8');
  }
}

// NUL, other C0 controls and DEL never belong in a method, host, path or header name.
function hasControl(value: string): boolean {
  return /[\u0000-\u001f\u007f]/.test(value);
}

function socketAddress(address: { socket_address?: { address?: string; port_value?: number } | null } | null | undefined): string {
  const sa = address?.socket_address;
  if (!sa?.address) return '';
  const host = bounded(sa.address, 256, 'socket address');
  // An IPv6 address in brackets, with or without its port: `2001:db8::1:5` with no port (0, as
  // a PROXY-protocol address may come) was read back as the address 2001:db8::1, port 5.
  const ip = isIP(host) === 6 ? `[${host}]` : host;
  return sa.port_value ? `${ip}:${sa.port_value}` : ip;
}
