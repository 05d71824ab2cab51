/**
 * kyverno-json's own JMESPath functions (pkg/engine/template/functions): wildcard, at, concat,
 * and to_number as go-jmespath reads numbers. Registered with the JMESPath library once, when
 * this module is first imported (assertion-tree.ts imports it before compiling anything).
 */
import { register, TYPE_ANY, TYPE_ARRAY, TYPE_STRING, type JSONValue } from '@jmespath-community/jmespath';

register('wildcard', ([pattern, name]) => matchWildcard(pattern as string, name as string), [{ types: [TYPE_STRING] }, { types: [TYPE_STRING] }], { override: true });
register('at', ([list, index]) => atIndex(list as JSONValue[], index as JSONValue), [{ types: [TYPE_ARRAY] }, { types: [TYPE_ANY] }], { override: true });
register('concat', ([a, b]) => `${a as string}${b as string}`, [{ types: [TYPE_STRING] }, { types: [TYPE_STRING] }], { override: true });
// to_number as go-jmespath's (which kyverno-json runs): strconv.ParseFloat or null. The
// library's JavaScript `+value` reads "", "  ", "0x10", "0b1" and " 7\n" as numbers, so a
// limit such as (to_number(h) <= `100`) passed a blank header that kyverno-json refuses.
register('to_number' as string, ([value]) => toNumberAsGo(value as JSONValue), [{ types: [TYPE_ANY] }], { override: true });

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
