/**
 * Bounds on the JMESPath work of kyverno-json's trees (./assertion-tree.ts):
 *
 * - a deadline: the step budget counts an expression as 10 whatever it does, and a short
 *   expression can do unbounded work (each `[@,@][]` doubles a list: 21 took 1.7 s), so every
 *   node the interpreter visits checks the deadline of the expression running (searchBy). The
 *   deadline is the Check's (../check-clock.ts), shared by all its ValidatingPolicies;
 * - the functions that build a string longer than their arguments (pad_left and pad_right as
 *   the library defines them, replace as Kyverno's), refusing to build one of more than
 *   MAX_BUILT_CHARS characters: one call cannot be interrupted.
 */
import { TreeInterpreter, TYPE_NUMBER, TYPE_STRING, type JSONValue } from '@jmespath-community/jmespath';
import { POLICIES_TOOK_TOO_LONG } from '../check-clock.js';
import { registerAsKyvernoJson } from './jmespath-table.js';

// The interpreter has no hook for its work: every node it visits (let scopes make new
// interpreters of the same class) checks the deadline of the expression running now. Searches
// are synchronous, so one deadline at a time is all there is.
let expressionDeadline = Infinity;
const interpreterClass = Object.getPrototypeOf(TreeInterpreter) as { visit(this: unknown, node: unknown, value: unknown): unknown };
const visitNode = interpreterClass.visit;
interpreterClass.visit = function (node, value) {
  if (performance.now() > expressionDeadline) throw new Error(POLICIES_TOOK_TOO_LONG);
  return visitNode.call(this, node, value);
};

/** TreeInterpreter.search of `ast` on `value`, failing once performance.now() passes `deadline`. */
export function searchBy(deadline: number, ast: Parameters<typeof TreeInterpreter.search>[0], value: JSONValue): JSONValue {
  expressionDeadline = deadline;
  try {
    return TreeInterpreter.search(ast, value);
  } finally {
    expressionDeadline = Infinity;
  }
}

/**
 * Longest string pad_left, pad_right or replace may build: twice the largest body a request
 * may carry. One call cannot be interrupted, and pad_right('a', `300000000`) exhausted the heap.
 */
export const MAX_BUILT_CHARS = 8 * 1024 * 1024;
// pad_left and pad_right as the library's, replace as Kyverno's (which wins in kyverno-json:
// ./jmespath-table.ts), each refusing to build a string longer than MAX_BUILT_CHARS.
const PAD_SIGNATURE = [{ types: [TYPE_STRING] }, { types: [TYPE_NUMBER] }, { types: [TYPE_STRING], optional: true }];
registerAsKyvernoJson('pad_left', ([s, width, pad]) => padded(s as string, width as number, pad as string | undefined, 'start'), PAD_SIGNATURE);
registerAsKyvernoJson('pad_right', ([s, width, pad]) => padded(s as string, width as number, pad as string | undefined, 'end'), PAD_SIGNATURE);
registerAsKyvernoJson('replace', ([s, old, by, count]) => replaced(s as string, old as string, by as string, count as number), [{ types: [TYPE_STRING] }, { types: [TYPE_STRING] }, { types: [TYPE_STRING] }, { types: [TYPE_NUMBER] }]);

function nonNegativeInteger(value: number): number {
  if (typeof value !== 'number' || value < 0 || Math.floor(value) !== value) throw new Error('invalid-value: expecting a non-negative integer.');
  return value;
}

function tooLong(chars: number): void {
  if (chars > MAX_BUILT_CHARS) throw new Error(`a string of more than ${MAX_BUILT_CHARS} characters`);
}

function padded(subject: string, width: number, pad: string | undefined, side: 'start' | 'end'): string {
  const padding = pad || ' ';
  if (padding.length > 1) throw new Error(`invalid value, pad_${side === 'start' ? 'left' : 'right'} expects its 'pad' parameter to be a valid string with a single codepoint`);
  tooLong(nonNegativeInteger(width));
  return (subject && (side === 'start' ? subject.padStart(width, padding) : subject.padEnd(width, padding))) || '';
}

/**
 * Kyverno's replace: Go's strings.Replace(subject, old, by, int(count)), the first `count`
 * occurrences of `old`, every one for a negative count (kyverno's `-1`), a fractional count cut
 * toward zero as Go's int() cuts it. Occurrences are found left to right in the subject, never
 * in a replacement (the library re-scanned its own output, so replace('/a/././b', '/./', '/',
 * `5`) normalised further than kyverno-json and an allow-list of normalised paths passed what
 * kyverno-json refuses). An empty `old` matches before each code point and at the end. One pass
 * over the subject: linear whatever the count.
 */
function replaced(subject: string, old: string, by: string, count: number): string {
  // Go's int(NaN) is the lowest int on amd64 (every occurrence) and 0 on arm64 (none).
  if (Number.isNaN(count)) throw new Error('invalid-value: replace() count is NaN, which kyverno-json reads by CPU');
  const whole = Math.trunc(count);
  const limit = whole < 0 ? Infinity : whole;
  if (old === '') {
    const chars = [...subject];
    const n = Math.min(limit, chars.length + 1);
    tooLong(subject.length + n * by.length);
    return chars.slice(0, n - 1).map((c) => by + c).join('') + (n > 0 ? by : '') + chars.slice(Math.max(n - 1, 0)).join('');
  }
  const pieces: string[] = [];
  let start = 0;
  let built = 0;
  for (let found = subject.indexOf(old); found >= 0 && pieces.length / 2 < limit; found = subject.indexOf(old, start)) {
    built += found - start + by.length;
    tooLong(built);
    pieces.push(subject.slice(start, found), by);
    start = found + old.length;
  }
  tooLong(built + subject.length - start);
  return pieces.join('') + subject.slice(start);
}
