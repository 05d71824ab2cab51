/**
 * JSON Canonicalization Scheme, RFC 8785 (JCS): the one byte form of a JSON value, so that a
 * hash or signature over it is repeatable.
 *
 * The canonical form of a value is the JSON text ECMAScript's JSON.stringify would produce for
 * it, with object members sorted and no whitespace:
 *
 *   - literals `null`, `true`, `false`;
 *   - numbers as Number.prototype.toString spells them (RFC 8785 §3.2.2.3): `1e+21`, `1e-7`,
 *     `0.000001`, `333333333.3333333`; -0 is `0`; NaN and ±Infinity have no form;
 *   - strings in double quotes, escaping only `"`, `\`, and U+0000..U+001F — the five
 *     controls \b \t \n \f \r by their short escape, the rest as \u00xx with lower-case hex;
 *     every other character as itself, in UTF-8 (§3.2.2.2). No Unicode normalisation;
 *   - object members sorted by their names as arrays of UTF-16 code units (§3.2.3), which
 *     is neither locale order nor code point order: "\u20ac" (€) sorts before "\ud83d\ude00"
 *     (😀), which sorts before "\ufb33";
 *   - arrays in their own order.
 *
 * Worked example (RFC 8785 §3.2.2):
 *
 *   input      {"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
 *               "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
 *               "literals": [null, true, false]}
 *   canonical  {"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],
 *               "string":"€$\u000f\nA'B\"\\\\\"/"}
 *
 * Chio is stricter than JSON.stringify, because a receipt must mean exactly what its bytes say:
 * a value MUST be plain data — null, boolean, finite number, string, array, or an object whose
 * prototype is Object.prototype or null. canonicalize throws ChioError('JCS_UNSUPPORTED') for
 * NaN and ±Infinity, strings or member names holding a lone surrogate (I-JSON, RFC 7493 §2.1),
 * bigint, undefined (as a member value too: JSON.stringify would silently drop the member, so
 * callers MUST omit optional members rather than set them to undefined), functions, symbols
 * (values or keys), array holes, class instances (Date, Map, boxed primitives, …; toJSON is
 * never called), cycles, and nesting deeper than MAX_JCS_DEPTH.
 *
 * parseCanonical is the inverse for attacker-controlled bytes: it accepts only input that is
 * already canonical, so duplicate members, whitespace, a byte-order mark, escapes that need not
 * be escapes and non-canonical numbers are all rejected with ChioError('MALFORMED').
 *
 * This file is pure: no `node:` imports, no I/O; it runs in a browser.
 */
import { assert, ChioError } from '../errors/index.js';

/** Containers (objects and arrays) nest at most this deep; the top-level value is depth 1. */
export const MAX_JCS_DEPTH = 64;

/** parseCanonical refuses inputs longer than this unless the caller names another bound. */
export const DEFAULT_MAX_JCS_BYTES = 64 * 1024;

const encoder = new TextEncoder();

/** The RFC 8785 canonical JSON text of `value`; throws ChioError('JCS_UNSUPPORTED'). */
export function canonicalize(value: unknown): string {
  return serialize(value, 0, []);
}

/** The UTF-8 bytes of canonicalize(value): what is hashed, signed and stored. */
export function canonicalBytes(value: unknown): Uint8Array {
  return encoder.encode(canonicalize(value));
}

/**
 * Parse JSON `bytes` (attacker-controlled) that MUST be in canonical form. Throws
 * ChioError('MALFORMED') for input over `maxBytes`, invalid UTF-8, invalid JSON, values with
 * no canonical form, and any input whose bytes differ from its canonical form.
 */
export function parseCanonical(bytes: Uint8Array, maxBytes: number = DEFAULT_MAX_JCS_BYTES): unknown {
  return parseCanonicalText(bytes, maxBytes).value;
}

/** parseCanonical, also handing back the decoded text (which is the value's canonical form). */
export function parseCanonicalText(bytes: Uint8Array, maxBytes: number = DEFAULT_MAX_JCS_BYTES): { value: unknown; text: string } {
  assert(Number.isSafeInteger(maxBytes) && maxBytes >= 0, 'parseCanonical: maxBytes must be a non-negative integer');
  if (!(bytes instanceof Uint8Array)) throw new ChioError('MALFORMED', 'canonical JSON: not a byte array');
  if (bytes.length > maxBytes) throw new ChioError('MALFORMED', `canonical JSON: ${bytes.length} bytes, over ${maxBytes}`);
  const text = decodeUtf8(bytes);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ChioError('MALFORMED', 'canonical JSON: not JSON', { cause: err });
  }
  let canonical: string;
  try {
    canonical = canonicalize(value);
  } catch (err) {
    throw new ChioError('MALFORMED', 'canonical JSON: value has no canonical form', { cause: err });
  }
  // The decoder is fatal and keeps a BOM, so equal text means equal bytes.
  if (canonical !== text) throw new ChioError('MALFORMED', 'canonical JSON: not in canonical form');
  return { value, text };
}

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (err) {
    throw new ChioError('MALFORMED', 'canonical JSON: invalid UTF-8', { cause: err });
  }
}

// `depth` counts the containers around `value`; `open` holds those containers (at most
// MAX_JCS_DEPTH, so a list), to name a cycle as such before the depth bound would.
function serialize(value: unknown, depth: number, open: object[]): string {
  switch (typeof value) {
    case 'string':
      return serializeString(value);
    case 'number':
      return serializeNumber(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      if (value === null) return 'null';
      return serializeContainer(value, depth + 1, open);
    default:
      // undefined, bigint, function, symbol
      throw unsupported(`a ${typeof value} has no JSON form`);
  }
}

function serializeContainer(value: object, depth: number, open: object[]): string {
  if (depth > MAX_JCS_DEPTH) throw unsupported(`nested deeper than ${MAX_JCS_DEPTH}`);
  if (open.includes(value)) throw unsupported('a cycle has no JSON form');
  open.push(value);
  const text = Array.isArray(value) ? serializeArray(value, depth, open) : serializeObject(value, depth, open);
  open.pop();
  return text;
}

// Receipts are serialised on the hot path: plain string building, no intermediate arrays.
function serializeArray(value: readonly unknown[], depth: number, open: object[]): string {
  let text = '[';
  for (let i = 0; i < value.length; i++) {
    if (!(i in value)) throw unsupported('an array hole has no JSON form');
    text += (i === 0 ? '' : ',') + serialize(value[i], depth, open);
  }
  return `${text}]`;
}

function serializeObject(value: object, depth: number, open: object[]): string {
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) throw unsupported('only plain objects have a JSON form');
  if (Object.getOwnPropertySymbols(value).length > 0) throw unsupported('a symbol key has no JSON form');
  const keys = sortedKeys(value);
  const record = value as Record<string, unknown>;
  let text = '{';
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const member = record[key];
    if (member === undefined) throw unsupported(`member ${serializeString(key)} is undefined`);
    text += `${i === 0 ? '' : ','}${serializeString(key)}:${serialize(member, depth, open)}`;
  }
  return `${text}}`;
}

/**
 * The names of `value`'s own enumerable members in RFC 8785 §3.2.3 order: by UTF-16 code
 * units, which is what `<` on strings and the default sort compare. Receipts' objects have a
 * dozen members or fewer, which an insertion sort orders without the default sort's allocations
 * (a fifth of a receipt's garbage, measured); larger objects take the default sort.
 */
export function sortedKeys(value: object): string[] {
  const keys = Object.keys(value);
  if (keys.length > 16) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i]!;
    let j = i - 1;
    for (; j >= 0 && keys[j]! > key; j--) keys[j + 1] = keys[j]!;
    keys[j + 1] = key;
  }
  return keys;
}

/** Printable ASCII but `"` and `\`: the characters a JSON string holds as themselves. */
const PLAIN_STRING = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

function serializeString(value: string): string {
  // Most of a receipt's strings (hashes, ids, hosts, paths): no escape, no surrogate.
  if (PLAIN_STRING.test(value)) return `"${value}"`;
  if (!value.isWellFormed()) throw unsupported('a lone surrogate has no UTF-8 form');
  // RFC 8785 §3.2.2.2 is ECMAScript's QuoteJSONString, which for well-formed strings is
  // exactly what JSON.stringify does.
  return JSON.stringify(value);
}

function serializeNumber(value: number): string {
  if (!Number.isFinite(value)) throw unsupported(`${value} has no JSON form`);
  // RFC 8785 §3.2.2.3 is ECMAScript's Number::toString; String(-0) is "0".
  return String(value);
}

function unsupported(message: string): ChioError {
  return new ChioError('JCS_UNSUPPORTED', `canonical JSON: ${message}`);
}
