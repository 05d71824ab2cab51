/**
 * The document a ValidatingPolicy sees (SPEC §4 item 4): the CheckRequest's `attributes`
 * (envoy.service.auth.v3.AttributeContext) in protobuf JSON form. This is what
 * kyverno-envoy-plugin hands to kyverno-json (kyverno/kyverno-envoy-plugin pkg/request/request.go:
 * protojson.Marshal(req.GetAttributes()), then json.Unmarshal), and what its Istio tutorial
 * shows: policies address `request.http.host`, `source.address.socketAddress.portValue`,
 * `metadataContext` at the top level.
 *
 * We receive messages as @grpc/proto-loader decodes them (proto.ts: keepCase, longs as
 * strings, defaults, oneofs), so this walks the AttributeContext schema and applies the
 * proto3 JSON mapping:
 *   - field names become lowerCamelCase JSON names; keys of map fields are data and stay as
 *     sent (`headers`, `labels`, `context_extensions`, `filter_metadata`);
 *   - fields at their zero value ("", 0, false, empty map or list, unset message) are omitted,
 *     as protojson does; a set but empty message is `{}`;
 *   - int64 (`size`) is a decimal string, bytes (`raw_body`, `raw_value`) standard base64,
 *     Timestamp an RFC 3339 string with 0, 3, 6 or 9 fractional digits, the SocketAddress
 *     protocol enum its name, google.protobuf.Struct plain JSON;
 *   - proto-loader's virtual oneof fields (`port_specifier: 'port_value'`) and fields outside
 *     the schema are dropped; `typed_filter_metadata` (google.protobuf.Any) is dropped too: its
 *     JSON form needs the embedded message's schema.
 *
 * Example: `{attributes: {request: {http: {method: 'GET', header_map: null, size: '0'}}}}`
 * becomes `{request: {http: {method: 'GET'}}}`.
 *
 * Every object produced has no prototype, so a header named `__proto__` or `constructor` is
 * plain data. Struct metadata is bounded in depth and size; past a bound the request is
 * refused with ChioError('MALFORMED').
 */
import { UnsignedInt } from '@marcbachmann/cel-js/evaluator';
import { toBase64 } from '../../encoding.js';
import { ChioError } from '../../errors/index.js';
import type { CheckRequest } from '../../authz/wire.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Entries accepted in one map or list field (headers, labels, metadata namespaces, objects and lists). */
export const MAX_MAP_ENTRIES = 1024;
/** Deepest google.protobuf.Struct / Value nesting accepted in metadata. */
export const MAX_STRUCT_DEPTH = 32;
/** Values accepted across all Struct metadata of one request. */
export const MAX_STRUCT_VALUES = 10_000;

type Kind = 'string' | 'bool' | 'uint32' | 'int64' | 'bytes' | 'timestamp' | 'stringMap' | 'structMap' | 'protocol' | Schema | [Schema];
interface Schema {
  [protoName: string]: Kind;
}

const SOCKET_ADDRESS: Schema = {
  protocol: 'protocol',
  address: 'string',
  port_value: 'uint32',
  named_port: 'string',
  resolver_name: 'string',
  ipv4_compat: 'bool',
  network_namespace_filepath: 'string',
};
const ADDRESS: Schema = {
  socket_address: SOCKET_ADDRESS,
  pipe: { path: 'string', mode: 'uint32' },
  envoy_internal_address: { server_listener_name: 'string', endpoint_id: 'string' },
};
const PEER: Schema = { address: ADDRESS, service: 'string', labels: 'stringMap', principal: 'string', certificate: 'string' };
const HTTP_REQUEST: Schema = {
  id: 'string',
  method: 'string',
  headers: 'stringMap',
  header_map: { headers: [{ key: 'string', value: 'string', raw_value: 'bytes' }] },
  path: 'string',
  host: 'string',
  scheme: 'string',
  query: 'string',
  fragment: 'string',
  size: 'int64',
  protocol: 'string',
  body: 'string',
  raw_body: 'bytes',
};
const METADATA: Schema = { filter_metadata: 'structMap' };
const ATTRIBUTE_CONTEXT: Schema = {
  source: PEER,
  destination: PEER,
  request: { time: 'timestamp', http: HTTP_REQUEST },
  context_extensions: 'stringMap',
  metadata_context: METADATA,
  route_metadata_context: METADATA,
  tls_session: { sni: 'string' },
};

/**
 * What `object.<path>` is in the CEL form (toCelCheckRequest): a message (every field set, an
 * unset one at its zero value), a map (keys present or not: headers, labels, metadata), a uint
 * (a uint32 field: `port_value`, `mode`), some other value, or undefined for a path the
 * CheckRequest does not have.
 */
export function celPathKind(path: readonly string[]): 'message' | 'map' | 'uint' | 'value' | undefined {
  let kind: Kind = { attributes: ATTRIBUTE_CONTEXT };
  for (const name of path) {
    if (kind === 'stringMap' || kind === 'structMap') return 'map'; // a key, or inside Struct metadata
    if (typeof kind !== 'object' || Array.isArray(kind) || !Object.hasOwn(kind, name)) return undefined;
    kind = (kind as Schema)[name]!;
  }
  if (kind === 'stringMap' || kind === 'structMap') return 'map';
  if (kind === 'uint32') return 'uint';
  return typeof kind === 'object' && !Array.isArray(kind) ? 'message' : 'value';
}

const PROTOCOL_NAMES = ['TCP', 'UDP'];
const MAX_UINT32 = 0xffff_ffff;

/** Timestamp range of the proto3 JSON mapping: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z. */
const MIN_SECONDS = -62_135_596_800;
const MAX_SECONDS = 253_402_300_799;

/**
 * What every policy kind decides on instead of the raw spelling (SPEC §4): the normalised path
 * (with the query, which Envoy's `path` carries too) and the normalised host. The raw values
 * stay readable where a policy asks for them explicitly: `request.http.headers[":path"]` and
 * `[":authority"]` are as Envoy sent them.
 *
 * And the headers, one map however Envoy sent them: with `encode_raw_headers` Envoy leaves
 * `headers` empty and sends `header_map` instead, and a policy keyed on `headers` (a DENY of
 * `x-debug: 1`, say) would see no header at all and let the request through. `headers` is the
 * request guard's map (names lower-cased, repeated headers joined with ','), as Envoy fills it
 * without that option; `header_map` stays as sent.
 */
export interface NormalisedHttp {
  path: string;
  host: string;
  headers: ReadonlyMap<string, string>;
}

/**
 * The protobuf JSON form of `req.attributes` (`{}` when absent), with `request.http.path`,
 * `host` and `headers` replaced by `normal` when given. Throws ChioError('MALFORMED').
 */
export function toKyvernoInput(req: CheckRequest | null | undefined, normal?: NormalisedHttp): JsonObject {
  const counter = { values: 0 };
  const input = toMessage((req as { attributes?: unknown } | null | undefined)?.attributes, ATTRIBUTE_CONTEXT, counter) ?? object([]);
  const http = (input.request as JsonObject | undefined)?.http as JsonObject | undefined;
  if (http && normal) {
    // protojson leaves zero values out: an empty normal form is absent, like an empty field.
    setOrDelete(http, 'path', normal.path);
    setOrDelete(http, 'host', normal.host);
    if (normal.headers.size > 0) http.headers = object([...normal.headers]);
    else delete http.headers;
  }
  return input;
}

/**
 * The CheckRequest as kyverno-authz's CEL sees it (`object`, SPEC §4 item 5): a protobuf message,
 * so fields go by their proto names (`object.attributes.source.address.socket_address`), an
 * unset field reads as its zero value (a missing header map is `{}`, a missing path `""`),
 * int64 and the protocol enum are CEL ints (BigInt), uint32 (`port_value`, a pipe's `mode`) CEL
 * uints, as cel-go types them from the proto: kyverno-authz's `port_value in [22u, 23u]` must
 * match here, where an int would equal no uint in a list. Bytes are bytes, a Timestamp is a
 * timestamp and Struct metadata plain JSON. `request.http.path`, `host` and `headers` are the normalised ones,
 * as for every policy kind. Bounds and errors as toKyvernoInput.
 *
 * Each message (the root too) is a CelMessage, maps and Struct values plain objects: the CEL
 * environment knows a CelMessage as a type of its own, on which a presence test fails (see
 * CelMessage).
 */
export function toCelCheckRequest(req: CheckRequest | null | undefined, normal?: NormalisedHttp): CelObject {
  const counter = { values: 0 };
  const attributes = toCelMessage((req as { attributes?: unknown } | null | undefined)?.attributes, ATTRIBUTE_CONTEXT, counter);
  const http = (attributes.request as CelObject).http as CelObject;
  if (normal) {
    http.path = normal.path;
    http.host = normal.host;
    http.headers = object([...normal.headers]) as CelObject;
  }
  const out = new CelMessage();
  out.attributes = attributes;
  return out;
}

export type CelValue = null | boolean | number | bigint | UnsignedInt | string | Uint8Array | Date | CelValue[] | { [key: string]: CelValue };
export type CelObject = { [key: string]: CelValue };

/**
 * A protobuf message of `object`, as distinct from a map. In kyverno-authz a presence test on a
 * message field (`has(m.f)`, `m.?f`, `m[?"f"]`, `"f" in m`) says whether the field is set; here
 * every field is set (an unset one at its zero value), so such a test would always be true and
 * `src.?principal.hasValue() ? allow : deny` would allow a request without a principal. The CEL
 * environment registers this class as a type of its own (envoy-library.ts) and every presence
 * test on one is an evaluation error that denies (PresenceOnMessage, cel-bounds.ts); reading a
 * field (`m.f`, `m["f"]`) works as on a map. Its prototype chain is empty, so no field name
 * reaches a JavaScript property (`toString`, `__proto__`).
 */
export class CelMessage {
  [field: string]: CelValue;
}
Object.setPrototypeOf(CelMessage.prototype, null);

function toCelMessage(value: unknown, schema: Schema, counter: Counter): CelMessage {
  const record = isRecord(value) ? value : {};
  const out = new CelMessage();
  for (const [name, kind] of Object.entries(schema)) {
    out[name] = toCelField(Object.hasOwn(record, name) ? record[name] : undefined, kind, counter);
  }
  return out;
}

function toCelField(value: unknown, kind: Kind, counter: Counter): CelValue {
  if (Array.isArray(kind)) {
    const list = Array.isArray(value) ? value : [];
    if (list.length > MAX_MAP_ENTRIES) throw new ChioError('MALFORMED', `a list of more than ${MAX_MAP_ENTRIES} entries`);
    return list.map((item) => toCelMessage(item, kind[0], counter));
  }
  if (typeof kind === 'object') return toCelMessage(value, kind, counter);
  switch (kind) {
    case 'string':
      return typeof value === 'string' ? value : '';
    case 'bool':
      return value === true;
    case 'uint32':
      return new UnsignedInt(typeof value === 'number' && Number.isInteger(value) && value > 0 && value <= MAX_UINT32 ? value : 0);
    case 'protocol':
      return BigInt(typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : 0);
    case 'int64':
      return BigInt(toInt64(value) ?? 0);
    case 'bytes':
      return value instanceof Uint8Array ? value : new Uint8Array(0);
    case 'timestamp': {
      const text = toTimestamp(value);
      return new Date(text ?? 0);
    }
    case 'stringMap':
      return toMap(value, (v) => (typeof v === 'string' ? v : undefined)) ?? (object([]) as CelObject);
    case 'structMap':
      return toMap(value, (v) => toStruct(v, 0, counter)) ?? (object([]) as CelObject);
  }
}

function setOrDelete(message: JsonObject, field: string, value: string): void {
  if (value === '') delete message[field];
  else message[field] = value;
}

interface Counter {
  values: number;
}

function toMessage(value: unknown, schema: Schema, counter: Counter): JsonObject | undefined {
  if (!isRecord(value)) return undefined;
  const entries: Array<[string, JsonValue]> = [];
  for (const [name, kind] of Object.entries(schema)) {
    // Attacker-controlled: each field is read by its own name and checked for its type.
    const field = Object.hasOwn(value, name) ? value[name] : undefined;
    const json = toField(field, kind, counter);
    if (json !== undefined) entries.push([jsonName(name), json]);
  }
  return object(entries);
}

function toField(value: unknown, kind: Kind, counter: Counter): JsonValue | undefined {
  if (Array.isArray(kind)) return toList(value, kind[0], counter);
  if (typeof kind === 'object') return toMessage(value, kind, counter);
  switch (kind) {
    case 'string':
      return typeof value === 'string' && value !== '' ? value : undefined;
    case 'bool':
      return value === true ? true : undefined;
    case 'uint32':
      return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined;
    case 'int64':
      return toInt64(value);
    case 'bytes':
      return value instanceof Uint8Array && value.length > 0 ? toBase64(value) : undefined;
    case 'timestamp':
      return toTimestamp(value);
    case 'protocol':
      return typeof value === 'number' && value > 0 ? (PROTOCOL_NAMES[value] ?? value) : undefined;
    case 'stringMap':
      return toMap(value, (v) => (typeof v === 'string' ? v : undefined));
    case 'structMap':
      return toMap(value, (v) => toStruct(v, 0, counter));
  }
}

function toList(value: unknown, schema: Schema, counter: Counter): JsonValue[] | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  if (value.length > MAX_MAP_ENTRIES) throw new ChioError('MALFORMED', `a list of more than ${MAX_MAP_ENTRIES} entries`);
  return value.map((item) => toMessage(item, schema, counter) ?? object([]));
}

function toMap(value: unknown, convert: (v: unknown) => JsonValue | undefined): JsonObject | undefined {
  if (!isRecord(value)) return undefined;
  const keys = Object.keys(value);
  // Count before converting: a map of 100,000 entries is refused without touching each one.
  if (keys.length > MAX_MAP_ENTRIES) throw new ChioError('MALFORMED', `a map of more than ${MAX_MAP_ENTRIES} entries`);
  if (keys.length === 0) return undefined;
  const entries: Array<[string, JsonValue]> = [];
  for (const key of keys) {
    const json = convert(value[key]);
    if (json !== undefined) entries.push([key, json]);
  }
  return object(entries);
}

function toInt64(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value === 0 ? undefined : String(value);
  if (typeof value === 'string' && /^-?\d{1,20}$/.test(value)) return /^-?0+$/.test(value) ? undefined : value;
  return undefined;
}

function toTimestamp(value: unknown): string | undefined {
  if (!isRecord(value)) return undefined;
  const seconds = Number(value.seconds ?? 0);
  const nanos = Number(value.nanos ?? 0);
  if (!Number.isInteger(seconds) || seconds < MIN_SECONDS || seconds > MAX_SECONDS || !Number.isInteger(nanos) || nanos < 0 || nanos > 999_999_999) {
    throw new ChioError('MALFORMED', 'request time is not a valid timestamp');
  }
  const base = new Date(seconds * 1000).toISOString().slice(0, 19);
  if (nanos === 0) return `${base}Z`;
  const digits = String(nanos).padStart(9, '0');
  // protojson: the shortest of 3, 6 or 9 digits that holds the value exactly.
  const fraction = nanos % 1_000_000 === 0 ? digits.slice(0, 3) : nanos % 1000 === 0 ? digits.slice(0, 6) : digits;
  return `${base}.${fraction}Z`;
}

/** google.protobuf.Struct → a JSON object (proto-loader form: `{fields: {k: Value}}`). */
function toStruct(value: unknown, depth: number, counter: Counter): JsonObject | undefined {
  if (!isRecord(value)) return undefined;
  if (depth > MAX_STRUCT_DEPTH) throw new ChioError('MALFORMED', `metadata nested deeper than ${MAX_STRUCT_DEPTH} levels`);
  const fields = isRecord(value.fields) ? value.fields : {};
  const keys = Object.keys(fields);
  if (keys.length > MAX_MAP_ENTRIES) throw new ChioError('MALFORMED', `a metadata object of more than ${MAX_MAP_ENTRIES} fields`);
  return object(keys.map((key) => [key, toStructValue(fields[key], depth + 1, counter)]));
}

// nullValue last: its zero value (NULL_VALUE = 0) is also what an unset member would decode to.
const VALUE_MEMBERS = ['numberValue', 'stringValue', 'boolValue', 'structValue', 'listValue', 'nullValue'] as const;

/** google.protobuf.Value → JSON. protobufjs names its members in camelCase even with keepCase. */
function toStructValue(value: unknown, depth: number, counter: Counter): JsonValue {
  counter.values += 1;
  if (counter.values > MAX_STRUCT_VALUES) throw new ChioError('MALFORMED', `metadata with more than ${MAX_STRUCT_VALUES} values`);
  if (!isRecord(value)) return null;
  const named = VALUE_MEMBERS.find((m) => m === value.kind);
  const member = named ?? VALUE_MEMBERS.find((m) => value[m] !== undefined && value[m] !== null);
  const v = member === undefined ? undefined : value[member];
  switch (member) {
    case 'numberValue':
      // JSON has no NaN or Infinity; protojson refuses them, we read them as null.
      return typeof v === 'number' && Number.isFinite(v) ? v : null;
    case 'stringValue':
      return typeof v === 'string' ? v : null;
    case 'boolValue':
      return v === true;
    case 'structValue':
      return toStruct(v, depth, counter) ?? object([]);
    case 'listValue': {
      if (depth > MAX_STRUCT_DEPTH) throw new ChioError('MALFORMED', `metadata nested deeper than ${MAX_STRUCT_DEPTH} levels`);
      const values = isRecord(v) && Array.isArray(v.values) ? v.values : [];
      // As one map or list field: the CEL cost estimate ranges a comprehension over at most this many.
      if (values.length > MAX_MAP_ENTRIES) throw new ChioError('MALFORMED', `a metadata list of more than ${MAX_MAP_ENTRIES} entries`);
      return values.map((item) => toStructValue(item, depth + 1, counter));
    }
    default:
      return null;
  }
}

/** snake_case proto field name → lowerCamelCase JSON name (all names here are plain ASCII). */
function jsonName(protoName: string): string {
  return protoName.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** A prototype-less object: keys are data, never accessors or inherited members. */
function object(entries: Array<[string, JsonValue]>): JsonObject {
  const out = Object.create(null) as JsonObject;
  for (const [key, value] of entries) Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}
