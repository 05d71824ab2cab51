/**
 * Bounds on the JMESPath work of kyverno-json's trees (./assertion-tree.ts):
 *
 * - a deadline: the step budget counts an expression as 10 whatever it does, and a short
 *   expression can do unbounded work (each `[@,@][]` doubles a list: 21 took 1.7 s), so every
 *   node the interpreter visits checks the deadline of the expression running (searchBy). The
 *   deadline is the Check's (../check-clock.ts), shared by all its ValidatingPolicies;
 * - the functions that build a string longer than their arguments, as the library defines
 *   them (same results, same errors) but refusing to build one of more than MAX_BUILT_CHARS
 *   characters: one call cannot be interrupted.
 */
import { register, TreeInterpreter, TYPE_NUMBER, TYPE_STRING, type JSONValue } from '@jmespath-community/jmespath';
import { POLICIES_TOOK_TOO_LONG } from '../check-clock.js';

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
/** Characters replace may scan in all when given a count (one replacement a scan): some tens of milliseconds. */
export const MAX_REPLACE_SCAN_CHARS = 4 * MAX_BUILT_CHARS;

// pad_left, pad_right and replace as the library's, refusing to build a string longer than MAX_BUILT_CHARS.
const PAD_SIGNATURE = [{ types: [TYPE_STRING] }, { types: [TYPE_NUMBER] }, { types: [TYPE_STRING], optional: true }];
register('pad_left' as string, ([s, width, pad]) => padded(s as string, width as number, pad as string | undefined, 'start'), PAD_SIGNATURE, { override: true });
register('pad_right' as string, ([s, width, pad]) => padded(s as string, width as number, pad as string | undefined, 'end'), PAD_SIGNATURE, { override: true });
register('replace' as string, ([s, old, by, count]) => replaced(s as string, old as string, by as string, count as number | undefined), [{ types: [TYPE_STRING] }, { types: [TYPE_STRING] }, { types: [TYPE_STRING] }, { types: [TYPE_NUMBER], optional: true }], { override: true });

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

function replaced(subject: string, old: string, by: string, count: number | undefined): string {
  if (count === 0) return subject;
  if (count !== undefined) nonNegativeInteger(count);
  // Each replacement grows the text by by.length - old.length; '' matches at every position.
  // With a count, a replacement may match text an earlier one inserted, so count is the bound.
  const growth = by.length - old.length;
  if (growth > 0) tooLong(subject.length + (count ?? (old === '' ? subject.length + 1 : subject.split(old).length - 1)) * growth);
  if (!count) return subject.split(old).join(by);
  let out = subject;
  // Replacements that neither grow nor end (ab → ba sorts the text one swap at a time: n² of
  // them, each a scan) would run for hours on a header of some kilobytes: the scanning is bounded.
  let scanned = 0;
  for (let i = 0; i < count; i++) {
    const next = out.replace(old, by);
    if (next === out) break; // nothing left to replace: the library's loop would go on to count
    out = next;
    scanned += out.length;
    if (scanned > MAX_REPLACE_SCAN_CHARS) throw new Error(`replace scanned more than ${MAX_REPLACE_SCAN_CHARS} characters`);
  }
  return out;
}
