/**
 * kyverno-json's own JMESPath functions (pkg/jp/functions): wildcard, at, concat; and to_number,
 * lower and upper as go-jmespath answers them. Kyverno's, which replace builtins of the same
 * name, are in ./kyverno-functions.ts. Registered with the JMESPath library once, when this
 * module is first imported (assertion-tree.ts imports it before compiling anything).
 */
import { TYPE_ANY, TYPE_ARRAY, TYPE_STRING, type JSONValue } from '@jmespath-community/jmespath';
import { registerAsKyvernoJson } from './jmespath-table.js';

registerAsKyvernoJson('wildcard', ([pattern, name]) => matchWildcard(pattern as string, name as string), [{ types: [TYPE_STRING] }, { types: [TYPE_STRING] }]);
registerAsKyvernoJson('at', ([list, index]) => atIndex(list as JSONValue[], index as JSONValue), [{ types: [TYPE_ARRAY] }, { types: [TYPE_ANY] }]);
registerAsKyvernoJson('concat', ([a, b]) => `${a as string}${b as string}`, [{ types: [TYPE_STRING] }, { types: [TYPE_STRING] }]);
// to_number as go-jmespath's (which kyverno-json runs): strconv.ParseFloat or null. The
// library's JavaScript `+value` reads "", "  ", "0x10", "0b1" and " 7\n" as numbers, so a
// limit such as (to_number(h) <= `100`) passed a blank header that kyverno-json refuses.
registerAsKyvernoJson('to_number', ([value]) => toNumberAsGo(value as JSONValue), [{ types: [TYPE_ANY] }]);
// lower and upper as Go's strings.ToLower/ToUpper: the library's toLowerCase/toUpperCase apply
// Unicode's full mapping, so lower('ADMİN') was 'admi̇n' (i + U+0307) and a deny-list of
// lower-cased names that kyverno-json applies to it ('admin') let it through.
registerAsKyvernoJson('lower', ([value]) => lowerAsGo(value as string), [{ types: [TYPE_STRING] }]);
registerAsKyvernoJson('upper', ([value]) => upperAsGo(value as string), [{ types: [TYPE_STRING] }]);

const GO_DECIMAL_FLOAT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const GO_SPECIAL_FLOAT = /^(?:[+-]?(?:inf|infinity)|nan)$/i;

/**
 * A number as itself; a string as strconv.ParseFloat(s, 64) reads it, null when that fails
 * (range errors included); anything else null. Go's hexadecimal floats (0x1p-2) and digit
 * separators are read as null here: never a number kyverno-json would not also read.
 */
export function toNumberAsGo(value: JSONValue): number | null {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return null;
  if (GO_SPECIAL_FLOAT.test(value)) return /nan/i.test(value) ? Number.NaN : value.startsWith('-') ? -Infinity : Infinity;
  if (!GO_DECIMAL_FLOAT.test(value)) return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

/**
 * Go's strings.ToLower: each code point by Unicode's simple lowercase mapping (unicode.ToLower).
 * JavaScript's toLowerCase is that but for U+0130 (İ → i + U+0307, not i) and the final-sigma
 * rule (Σ → ς at the end of a word; Go always gives σ), so those two are mapped first.
 */
export function lowerAsGo(text: string): string {
  return text.replace(/[\u0130\u03a3]/g, (c) => (c === '\u0130' ? 'i' : '\u03c3')).toLowerCase();
}

// The code points whose full uppercase is several (ß → SS, ﬁ → FI, ᾳ → ΑΙ: SpecialCasing.txt).
const EXPANDS_IN_UPPERCASE = /([\u00df\u0149\u01f0\u0390\u03b0\u0587\u1e96-\u1e9a\u1f50\u1f52\u1f54\u1f56\u1f80-\u1faf\u1fb2-\u1fb4\u1fb6\u1fb7\u1fbc\u1fc2-\u1fc4\u1fc6\u1fc7\u1fcc\u1fd2\u1fd3\u1fd6\u1fd7\u1fe2-\u1fe4\u1fe6\u1fe7\u1ff2-\u1ff4\u1ff6\u1ff7\u1ffc\ufb00-\ufb06\ufb13-\ufb17])/;

/**
 * Go's strings.ToUpper: each code point by Unicode's simple uppercase mapping (unicode.ToUpper).
 * JavaScript's toUpperCase is that but for the code points that expand: their simple uppercase
 * keeps the letter, except the Greek small letters with ypogegrammeni, whose simple uppercase is
 * the titlecase letter of the same block (UnicodeData.txt). Runs between them keep toUpperCase,
 * which is linear in the text: one call cannot be interrupted.
 */
export function upperAsGo(text: string): string {
  const parts = text.split(EXPANDS_IN_UPPERCASE);
  // split with a capturing group: even indexes are runs, odd ones the expanding code points.
  return parts.map((part, i) => (i % 2 === 0 ? part.toUpperCase() : simpleUpperOfExpanding(part))).join('');
}

function simpleUpperOfExpanding(c: string): string {
  const cp = c.codePointAt(0)!;
  // ᾀ-ᾇ, ᾐ-ᾗ, ᾠ-ᾧ → ᾈ-ᾏ, ᾘ-ᾟ, ᾨ-ᾯ; ᾳ ῃ ῳ → ᾼ ῌ ῼ.
  if ((cp >= 0x1f80 && cp <= 0x1f87) || (cp >= 0x1f90 && cp <= 0x1f97) || (cp >= 0x1fa0 && cp <= 0x1fa7)) return String.fromCodePoint(cp + 8);
  if (cp === 0x1fb3 || cp === 0x1fc3 || cp === 0x1ff3) return String.fromCodePoint(cp + 9);
  return c;
}

function atIndex(list: JSONValue[], index: JSONValue): JSONValue {
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= list.length) {
    throw new Error('at(): index out of range');
  }
  return list[index] ?? null;
}

/**
 * '*' matches any run of characters (also empty), '?' exactly one, anything else itself; by
 * code point. Linear backtracking over the last '*' only, so O(pattern × name) at worst.
 */
export function matchWildcard(pattern: string, name: string): boolean {
  const p = [...pattern];
  const n = [...name];
  let pi = 0;
  let ni = 0;
  let starP = -1;
  let starN = 0;
  while (ni < n.length) {
    if (pi < p.length && p[pi] === '*') {
      pi += 1;
      if (pi === p.length) return true;
      starP = pi;
      starN = ni;
    } else if (pi < p.length && (p[pi] === '?' || p[pi] === n[ni])) {
      pi += 1;
      ni += 1;
    } else if (starP >= 0) {
      starN += 1;
      pi = starP;
      ni = starN;
    } else {
      return false;
    }
  }
  return p.slice(pi).every((c) => c === '*');
}
