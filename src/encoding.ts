/**
 * Byte encodings used on the wire: hex, base64 (RFC 4648 §4, padded) and base64url (§5, no
 * padding). Pure and portable (no Buffer), so that verification code runs in a browser.
 * Decoders are strict: they reject characters outside the alphabet, bad padding and
 * non-canonical trailing bits, with ChioError('MALFORMED').
 */
import { ChioError } from './errors/index.js';

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function reverse(alphabet: string): Int16Array {
  const table = new Int16Array(128).fill(-1);
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i;
  return table;
}
const B64_REV = reverse(B64);
const B64URL_REV = reverse(B64URL);

function encode(bytes: Uint8Array, alphabet: string, pad: boolean): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += alphabet[n >> 18]! + alphabet[(n >> 12) & 63]! + alphabet[(n >> 6) & 63]! + alphabet[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += alphabet[n >> 18]! + alphabet[(n >> 12) & 63]! + (pad ? '==' : '');
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += alphabet[n >> 18]! + alphabet[(n >> 12) & 63]! + alphabet[(n >> 6) & 63]! + (pad ? '=' : '');
  }
  return out;
}

function decode(text: string, table: Int16Array, padded: boolean, what: string): Uint8Array {
  let body = text;
  if (padded) {
    if (text.length % 4 !== 0) throw new ChioError('MALFORMED', `${what}: length is not a multiple of 4`);
    body = text.endsWith('==') ? text.slice(0, -2) : text.endsWith('=') ? text.slice(0, -1) : text;
  }
  if (body.length % 4 === 1) throw new ChioError('MALFORMED', `${what}: impossible length`);
  const out = new Uint8Array(Math.floor((body.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i);
    const v = c < 128 ? table[c]! : -1;
    if (v < 0) throw new ChioError('MALFORMED', `${what}: invalid character at ${i}`);
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  // Canonical encodings leave the unused low bits of the last character zero.
  if (bits > 0 && (acc & ((1 << bits) - 1)) !== 0) {
    throw new ChioError('MALFORMED', `${what}: non-canonical trailing bits`);
  }
  return out;
}

export const toBase64 = (bytes: Uint8Array): string => encode(bytes, B64, true);
export const fromBase64 = (text: string): Uint8Array => decode(text, B64_REV, true, 'base64');
export const toBase64Url = (bytes: Uint8Array): string => encode(bytes, B64URL, false);
export const fromBase64Url = (text: string): Uint8Array => decode(text, B64URL_REV, false, 'base64url');

/** Two lower-case hex digits for each byte value. */
const HEX_BYTE = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));
/** The value of each hex digit by its char code, -1 for anything else (codes over 127 included). */
const HEX_VALUE = Int8Array.from({ length: 128 }, (_, c) => '0123456789abcdef'.indexOf(String.fromCharCode(c).toLowerCase()));

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += HEX_BYTE[bytes[i]!];
  return out;
}

/** Decode lower- or upper-case hex of even length. */
export function fromHex(text: string): Uint8Array {
  const bad = () => new ChioError('MALFORMED', 'hex: not an even run of hex digits');
  if (text.length % 2 !== 0) throw bad();
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = text.charCodeAt(2 * i);
    const lo = text.charCodeAt(2 * i + 1);
    const h = hi < 128 ? HEX_VALUE[hi]! : -1;
    const l = lo < 128 ? HEX_VALUE[lo]! : -1;
    if (h < 0 || l < 0) throw bad();
    out[i] = (h << 4) | l;
  }
  return out;
}

export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/** Byte-wise equality (not constant time: use only on public data). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
