/**
 * The CEL string functions whose time grows with their text, as @marcbachmann/cel-js 8 defines
 * them (lib/functions.js: same results, same errors, `lowerAscii` as JavaScript's toLowerCase
 * included) but charging what they scan to the evaluation's budget (chargeScan, ./cel-bounds.ts)
 * first. cel-bounds renames the calls to these; ./envoy-library.ts registers them. What each
 * counts, an upper bound of the characters V8 touches:
 *
 *   contains, indexOf     the text and the pattern (V8 searches in linear time: memchr, or
 *                         Boyer-Moore past 6 characters);
 *   lastIndexOf           every position times the pattern: V8 compares each position
 *                         naively, 90 KB of `a` searched for 5,000 `a` and a `b` took 119 ms;
 *   startsWith, endsWith  the shorter of text and prefix or suffix;
 *   lowerAscii,           the text read and the text written (`ﬃ` becomes `FFI`);
 *   upperAscii
 *   trim                  the text (a text of spaces is scanned whole);
 *   substring             its result (the most that is copied);
 *   size(string)          the text (code points are counted);
 *   join (of a list)      what it builds: 1,024 parts of a 90 KB header made 90 MB in one call.
 *
 * cel-js 8 has no `replace`, `charAt`, `reverse` (./strings-extension.ts adds them), `format`
 * or `quote`.
 */
import { EvaluationError } from '@marcbachmann/cel-js';
import { chargeScan } from './cel-bounds.js';
import { codePointCount } from '../../text.js';

const outOfRange = (message: string) => new EvaluationError({ code: 'index_out_of_range', message } as never);

export function containsBounded(text: string, search: string): boolean {
  chargeScan(text.length + search.length);
  return text.includes(search);
}

export function startsWithBounded(text: string, prefix: string): boolean {
  chargeScan(Math.min(text.length, prefix.length));
  return text.startsWith(prefix);
}

export function endsWithBounded(text: string, suffix: string): boolean {
  chargeScan(Math.min(text.length, suffix.length));
  return text.endsWith(suffix);
}

export function indexOfBounded(text: string, search: string, fromIndex?: bigint): bigint {
  if (fromIndex === undefined) {
    chargeScan(text.length + search.length);
    return BigInt(text.indexOf(search));
  }
  if (search === '') return fromIndex;
  const from = Number(fromIndex);
  if (from < 0 || from >= text.length) throw outOfRange('string.indexOf(search, fromIndex): fromIndex out of range');
  chargeScan(text.length + search.length);
  return BigInt(text.indexOf(search, from));
}

/** Positions tried times characters compared at each. */
const lastIndexOfCharge = (text: string, search: string) => (search.length > text.length ? 0 : (text.length - search.length + 1) * search.length);

export function lastIndexOfBounded(text: string, search: string, fromIndex?: bigint): bigint {
  if (fromIndex === undefined) {
    chargeScan(lastIndexOfCharge(text, search));
    return BigInt(text.lastIndexOf(search));
  }
  if (search === '') return fromIndex;
  const from = Number(fromIndex);
  if (from < 0 || from >= text.length) throw outOfRange('string.lastIndexOf(search, fromIndex): fromIndex out of range');
  chargeScan(lastIndexOfCharge(text, search));
  return BigInt(text.lastIndexOf(search, from));
}

export function lowerAsciiBounded(text: string): string {
  chargeScan(text.length);
  const lower = text.toLowerCase();
  chargeScan(lower.length);
  return lower;
}

export function upperAsciiBounded(text: string): string {
  chargeScan(text.length);
  const upper = text.toUpperCase();
  chargeScan(upper.length);
  return upper;
}

export function trimBounded(text: string): string {
  chargeScan(text.length);
  return text.trim();
}

export function substringBounded(text: string, startIndex: bigint, endIndex?: bigint): string {
  const start = Number(startIndex);
  if (start < 0 || start > text.length) throw outOfRange('string.substring(start, end): start index out of range');
  if (endIndex === undefined) {
    chargeScan(text.length - start);
    return text.substring(start);
  }
  const end = Number(endIndex);
  if (end < start || end > text.length) throw outOfRange('string.substring(start, end): end index out of range');
  chargeScan(end - start);
  return text.substring(start, end);
}

/** `size()` of a string: its code points (codePointCount), charged for the scan. */
export function stringSizeBounded(text: string): bigint {
  chargeScan(text.length);
  return BigInt(codePointCount(text));
}

/** `list.join()` and `list.join(separator)`, charged for the string they would build, before building it. */
export function joinBounded(list: readonly unknown[], separator?: string): string {
  let chars = separator === undefined ? 0 : separator.length * Math.max(0, list.length - 1);
  for (const part of list) {
    if (typeof part !== 'string') {
      throw new EvaluationError({ code: 'invalid_list_element_type', message: `string.join(${separator === undefined ? '' : 'separator'}): list must contain only strings` } as never);
    }
    chars += part.length;
  }
  chargeScan(chars);
  return list.join(separator ?? '');
}
