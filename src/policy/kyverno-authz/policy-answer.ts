/**
 * A CEL policy's CheckResponse in Chio's terms: what an allow adds to or removes from the
 * request and the response, or what a deny answers with. Everything a policy returns is
 * checked here, once, before it can reach the wire: header names are HTTP tokens, values are
 * printable and bounded, Chio's own `x-chio-*` headers and pseudo-headers are not a policy's
 * to set or remove, query parameters are written percent-encoded (QUERY_TEXT), a denied status
 * is 300–599, metadata is bounded JSON.
 * An allow that breaks a rule is an evaluation error (the policy's failurePolicy applies). A
 * deny stays a deny: its status is 403 when out of range, its body is cut, headers and metadata
 * that break a rule are left out. Were it an error, a policy under failurePolicy Ignore would
 * be skipped, and a client could have a deny that echoes its own header dropped that way.
 */
import { UnsignedInt } from '@marcbachmann/cel-js/evaluator';
import { toBase64 } from '../../encoding.js';
import type { JsonObject, JsonValue } from '../kyverno/kyverno-input.js';
import { oversized } from './cel-bounds.js';
import { CheckResponse, OkHttpResponse, type HeaderOption, type QueryParameterOption } from './envoy-library.js';

/** Headers an allow may add to the request, remove from it, and add to the response, each; a deny's headers past it are left out. */
export const MAX_POLICY_HEADERS = 64;
export const MAX_HEADER_VALUE_CHARS = 8 * 1024;
export const MAX_BODY_CHARS = 64 * 1024;
/** Query parameters an allow may set, and remove, each; a key or value is at most MAX_QUERY_TEXT_CHARS. */
export const MAX_POLICY_QUERY_PARAMETERS = 64;
export const MAX_QUERY_TEXT_CHARS = 2 * 1024;
const METADATA_DEPTH = 16;

export type PolicyAnswer =
  | {
      verdict: 'allow';
      headers: HeaderOption[];
      headersToRemove: string[];
      responseHeaders: HeaderOption[];
      queryParametersToSet: QueryParameterOption[];
      queryParametersToRemove: string[];
      metadata?: JsonObject;
      message?: string;
    }
  | { verdict: 'deny'; status: number; headers: HeaderOption[]; body: string; metadata?: JsonObject; message?: string };

/** Thrown for a response that breaks a rule; the evaluator names the field. */
export class AnswerInvalid extends Error {}

const TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]{1,256}$/;

/** Convert what a validation returned (not null) into an answer; throws AnswerInvalid. */
export function toPolicyAnswer(value: unknown, field: string): PolicyAnswer {
  if (!(value instanceof CheckResponse)) throw new AnswerInvalid(`${field} returned ${typeName(value)}, not envoy …Response() or null`);
  const message = value.message ? { message: value.message.slice(0, 1024) } : {};
  const http = value.http;
  if (http instanceof OkHttpResponse) {
    const metadata = value.metadata === undefined ? undefined : toMetadata(value.metadata);
    return {
      verdict: 'allow',
      headers: headersOf(atMost(http.headers, MAX_POLICY_HEADERS, 'headers to add')),
      headersToRemove: atMost(http.headersToRemove, MAX_POLICY_HEADERS, 'headers to remove').map((name) => headerName(name)),
      responseHeaders: headersOf(atMost(http.responseHeadersToAdd, MAX_POLICY_HEADERS, 'response headers to add')),
      queryParametersToSet: atMost(http.queryParametersToSet, MAX_POLICY_QUERY_PARAMETERS, 'query parameters to set').map(queryParameter),
      queryParametersToRemove: atMost(http.queryParametersToRemove, MAX_POLICY_QUERY_PARAMETERS, 'query parameters to remove').map((key) => queryText(key, 'key')),
      ...(metadata ? { metadata } : {}),
      ...message,
    };
  }
  const status = Number(http.status);
  const metadata = value.metadata === undefined ? undefined : unlessInvalid(() => toMetadata(value.metadata));
  return {
    verdict: 'deny',
    status: Number.isInteger(status) && status >= 300 && status <= 599 ? status : 403,
    headers: http.headers.slice(0, MAX_POLICY_HEADERS).flatMap((h) => unlessInvalid(() => headersOf([h])) ?? []),
    body: http.body.slice(0, MAX_BODY_CHARS),
    ...(metadata ? { metadata } : {}),
    ...message,
  };
}

/** `make()`, or undefined where it breaks a rule (a deny's part left out, see above). */
function unlessInvalid<T>(make: () => T): T | undefined {
  try {
    return make();
  } catch (err) {
    if (err instanceof AnswerInvalid) return undefined;
    throw err;
  }
}

function headersOf(list: readonly HeaderOption[]): HeaderOption[] {
  return list.map((h) => {
    if (h.value.length > MAX_HEADER_VALUE_CHARS || !/^[\x20-\x7e\t]*$/.test(h.value)) throw new AnswerInvalid(`header ${JSON.stringify(h.key)}: a value must be printable ASCII of at most ${MAX_HEADER_VALUE_CHARS} characters`);
    return { key: headerName(h.key), value: h.value, ...(h.keepEmptyValue ? { keepEmptyValue: true } : {}) };
  });
}

/**
 * A query parameter's key or value as Envoy sets it: already percent-encoded, since Envoy
 * writes it into the path as it is (and, validating mutations, refuses one that is not
 * encoded). Unencoded, a value copied from the request could carry `&` or `#` and set
 * parameters or a fragment the policy never wrote. So only RFC 3986 unreserved characters,
 * the sub-delimiters that do not separate parameters, `:`, `@`, `/`, `?`, and `%XX` escapes;
 * `=` in a value only.
 */
const QUERY_TEXT = { key: /^(?:[A-Za-z0-9\-._~!$'()*,;:@/?]|%[0-9A-Fa-f]{2})+$/, value: /^(?:[A-Za-z0-9\-._~!$'()*,;:@/?=]|%[0-9A-Fa-f]{2})*$/ };

function queryText(text: string, part: 'key' | 'value'): string {
  if (text.length > MAX_QUERY_TEXT_CHARS || !QUERY_TEXT[part].test(text)) {
    throw new AnswerInvalid(`query parameter ${part} ${JSON.stringify(text.slice(0, 64))} must be percent-encoded (no &, #, + or space; = only in a value), of at most ${MAX_QUERY_TEXT_CHARS} characters`);
  }
  return text;
}

function queryParameter(p: QueryParameterOption): QueryParameterOption {
  return { key: queryText(p.key, 'key'), value: queryText(p.value, 'value') };
}

/** `list`, checked before any of it is read: a list an allow built past its bound is refused whole. */
function atMost<T>(list: readonly T[], max: number, what: string): readonly T[] {
  if (list.length > max) throw new AnswerInvalid(`more than ${max} ${what}`);
  return list;
}

function headerName(raw: string): string {
  const name = raw.toLowerCase();
  if (!TOKEN.test(name)) throw new AnswerInvalid(`${JSON.stringify(raw.slice(0, 64))} is not a header name`);
  if (name.startsWith('x-chio-')) throw new AnswerInvalid(`header ${name}: x-chio-* headers are Chio's own`);
  return name;
}

function toMetadata(value: unknown): JsonObject {
  const tooLarge = oversized(value);
  if (tooLarge) throw new AnswerInvalid(`metadata is ${tooLarge}`);
  const json = toJson(value, 0);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new AnswerInvalid('metadata must be a map');
  return json;
}

function toJson(value: unknown, depth: number): JsonValue {
  if (depth > METADATA_DEPTH) throw new AnswerInvalid(`metadata nested deeper than ${METADATA_DEPTH} levels`);
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'bigint') return Number(value);
  if (value instanceof UnsignedInt) return Number(value.valueOf());
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return toBase64(value);
  if (Array.isArray(value)) return value.map((v) => toJson(v, depth + 1));
  const entries = value instanceof Map ? [...value.entries()] : typeof value === 'object' ? Object.entries(value) : undefined;
  if (entries === undefined) throw new AnswerInvalid(`metadata cannot hold ${typeName(value)}`);
  const out = Object.create(null) as JsonObject;
  for (const [k, v] of entries) out[String(k)] = toJson(v, depth + 1);
  return out;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'a map';
  return typeof value;
}
