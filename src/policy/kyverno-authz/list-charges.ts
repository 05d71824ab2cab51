/**
 * What the list functions (./cel-sets.ts, ./k8s-lists.ts, ./cel-lists.ts) charge to the
 * Check's string budget (chargeScan, ./cel-bounds.ts, MAX_SCANNED_CHARS) before they walk a
 * list: each call is one node of the cost estimate whatever the length of its lists, so a call
 * pays for the elements it touches and the comparisons it makes, in characters of that budget.
 *
 * A comparison (cel-equality.ts celEquals, or an ordering) walks both values as far as the
 * smaller one goes, so it is charged PER_COMPARISON (PER_ORDERING for an ordering) for each
 * unit of weightOf of the lighter side. Measured here (Node 20, CPU time, 1,024 × 1,024 celEquals): 8 to 27 ns a comparison of
 * scalars (strings of 81 characters, ints, int against double), at most four characters of the
 * slowest string calls (about 150 M a second, MAX_SCANNED_CHARS).
 */
import { chargeScan } from './cel-bounds.js';
import { CelMessage } from '../kyverno/kyverno-input.js';

/** What comparing two scalars costs, in characters of the budget. */
export const PER_COMPARISON = 4;
/**
 * What ordering two scalars costs (cel-ordering.ts compareCel: both kinds checked, an int
 * against a double exactly), in characters: measured here 30 to 50 ns a pair in isSorted and
 * max over 1,024 strings or mixed ints and doubles, under 6 ns a charged character at 8.
 */
export const PER_ORDERING = 8;
/** Characters of a string (or bytes) that count as one more unit of its weight: a memcmp of 256 is under a scalar compare. */
const CHARS_PER_UNIT = 256;

/**
 * How many scalar comparisons comparing `value` to another costs at most: 1 for a scalar, a
 * string or bytes one more for every CHARS_PER_UNIT, a list, map or message 1 plus its entries'
 * weights (keys included). Walks `value` without recursion; the walk is charged with the weight.
 */
export function weightOf(value: unknown): number {
  // A scalar at once: most lists hold only scalars, and the walk below allocates.
  if (typeof value === 'string') return 1 + Math.floor(value.length / CHARS_PER_UNIT);
  if (typeof value !== 'object' || value === null) return 1;
  let weight = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    weight++;
    if (typeof v === 'string') weight += Math.floor(v.length / CHARS_PER_UNIT);
    else if (v instanceof Uint8Array) weight += Math.floor(v.length / CHARS_PER_UNIT);
    else if (Array.isArray(v)) stack.push(...v);
    else if (v instanceof Map) for (const [k, x] of v) stack.push(k, x);
    else if (typeof v === 'object' && v !== null && !(v instanceof Date) && isEntries(v)) {
      for (const k of Object.keys(v)) stack.push(k, (v as Record<string, unknown>)[k]);
    }
  }
  return weight;
}

/** A map or message (plain object or CelMessage), whose entries celEquals compares; not a CEL value of its own class. */
function isEntries(v: object): boolean {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === null || proto === Object.prototype || v instanceof CelMessage;
}

/** The weights of a list's elements, the walk charged. */
export function weightsOf(list: readonly unknown[]): number[] {
  const weights = list.map(weightOf);
  chargeScan(sum(weights));
  return weights;
}

export const sum = (values: readonly number[]): number => values.reduce((total, w) => total + w, 0);

/**
 * Charge comparing each element of `a` with each of `b` (at most: a call may stop at the first
 * hit). Each pair costs the lighter of the two, so the total is at most the lesser of
 * |a| × weight of b and |b| × weight of a.
 */
export function chargeAllPairs(a: readonly unknown[], b: readonly unknown[]): void {
  if (a.length === 0 || b.length === 0) return;
  const total = Math.min(a.length * sum(weightsOf(b)), b.length * sum(weightsOf(a)));
  chargeScan(PER_COMPARISON * total);
}

/**
 * Charge ordering each element of `list` against one other, as a walk in order does (isSorted,
 * min, max): each ordering costs the lighter of its two, so they cost at most the list's
 * weight together. Returns the weights (their walk charged too).
 */
export function chargeEachOrdered(list: readonly unknown[]): number[] {
  const weights = weightsOf(list);
  chargeScan(PER_ORDERING * sum(weights));
  return weights;
}

/** Charge one ordering of values of weights `a` and `b`, before it is made. */
export function chargeOrdering(a: number, b: number): void {
  chargeScan(PER_ORDERING * Math.min(a, b));
}
