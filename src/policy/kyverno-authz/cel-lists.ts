/**
 * cel-go's lists extension (ext/lists.go, version 2, which kyverno-authz enables) and the
 * `first` and `last` of its optional types (version 2), answering as cel-go does:
 *
 *   lists.range(n) → list<int>          [0, 1, …, n-1]; an error for n < 0
 *   <list>.slice(i, j) → list           elements i to j-1; an error unless 0 <= i <= j <= size
 *   <list>.flatten([depth]) → list      lists inside spliced in, `depth` levels (1 by default)
 *                                       deep; an error for depth < 0
 *   <list>.distinct() → list            the first of each set of equal elements (CEL's
 *                                       equality, ./cel-equality.ts), in order
 *   <list>.reverse() → list             the elements in reverse order
 *   <list<T>>.sort() → list<T>          ascending (./cel-ordering.ts); elements of one type,
 *                                       int, uint, double, bool, string, bytes, timestamp or
 *                                       duration, else an error
 *   <list>.sortBy(e, key) → list        ascending by `key` of each element `e` (a macro); equal
 *                                       keys keep their order (Go's sort may swap them)
 *   <list>.first(), .last() → optional  the first or last element, optional.none() for []
 *
 * No list a call builds is longer than COMPREHENSION_RANGE_BOUND (the cost estimate ranges
 * every list over at most that many): `lists.range` of more and a `flatten` that would make
 * more are limit errors, as `split` and `+` are. Each call charges what it touches to the
 * Check's string budget (./list-charges.ts) before touching it: 1 an element it builds or
 * walks (2 an element `flatten` visits), 4 a pair of elements `distinct` may compare, 8 each
 * pair `sort` orders.
 */
import { EvaluationError, Optional, type Environment } from '@marcbachmann/cel-js';
import { Duration, UnsignedInt } from '@marcbachmann/cel-js/evaluator';
import { CelLimitExceeded, chargeScan, COMPREHENSION_RANGE_BOUND } from './cel-bounds.js';
import { celEquals } from './cel-equality.js';
import { compareCel } from './cel-ordering.js';
import { COMPARABLE_TYPES } from './k8s-lists.js';
import { chargeOrdering, PER_COMPARISON, weightsOf } from './list-charges.js';
import { registerSortBy } from './cel-sort-by.js';

const evaluationError = (message: string) => new EvaluationError({ code: 'invalid_argument', message } as never);
const TOO_LONG = (what: string) => new CelLimitExceeded(`${what} made a list of more than ${COMPREHENSION_RANGE_BOUND} entries`);

/** The `lists` identifier, namespace of `lists.range`. */
class ListsNamespace {}

export function listsRange(n: bigint): bigint[] {
  if (n < 0n) throw evaluationError(`lists.range: size must be non-negative, got ${n}`);
  if (n > BigInt(COMPREHENSION_RANGE_BOUND)) throw TOO_LONG('lists.range');
  chargeScan(Number(n));
  return Array.from({ length: Number(n) }, (_, i) => BigInt(i));
}

export function listSlice(list: readonly unknown[], start: bigint, end: bigint): unknown[] {
  if (start < 0n || end < 0n) throw evaluationError(`cannot slice(${start}, ${end}), negative indexes not supported`);
  if (start > end) throw evaluationError(`cannot slice(${start}, ${end}), start index must be less than or equal to end index`);
  if (BigInt(list.length) < end) throw evaluationError(`cannot slice(${start}, ${end}), list is length ${list.length}`);
  chargeScan(Number(end - start));
  return list.slice(Number(start), Number(end));
}

/** What visiting one element costs flatten, in characters: measured 9-13 ns an element (32 lists of 32). */
const PER_FLATTENED = 2;

/** Each element visited is charged, inner lists' included; the result is refused past the bound as it grows. */
export function listFlatten(list: readonly unknown[], depth = 1n): unknown[] {
  if (depth < 0n) throw evaluationError('level must be non-negative');
  const out: unknown[] = [];
  const visit = (items: readonly unknown[], levels: bigint): void => {
    chargeScan(PER_FLATTENED * items.length);
    for (const v of items) {
      if (Array.isArray(v) && levels > 0n) visit(v, levels - 1n);
      else if (out.push(v) > COMPREHENSION_RANGE_BOUND) throw TOO_LONG('flatten');
    }
  };
  visit(list, depth);
  return out;
}

export function listDistinct(list: readonly unknown[]): unknown[] {
  const weights = weightsOf(list);
  const kept: unknown[] = [];
  list.forEach((v, i) => {
    // At most one comparison with each element kept, each costing no more than v's weight.
    chargeScan(PER_COMPARISON * weights[i]! * kept.length);
    if (!kept.some((k) => celEquals(k, v))) kept.push(v);
  });
  return kept;
}

export function listReverse(list: readonly unknown[]): unknown[] {
  chargeScan(list.length);
  return list.toReversed();
}

/** The type cel-go's sort requires all keys to share: int, uint and double are three. */
const sortTypeOf = (v: unknown): string | undefined =>
  typeof v === 'bigint' ? 'int' : v instanceof UnsignedInt ? 'uint' : typeof v === 'number' ? 'double' : typeof v === 'string' ? 'string'
    : typeof v === 'boolean' ? 'bool' : v instanceof Uint8Array ? 'bytes' : v instanceof Date ? 'timestamp' : v instanceof Duration ? 'duration' : undefined;

/**
 * `list` ordered by `keys` (as long as it), ascending; JavaScript's sort is stable, so equal
 * keys keep their order. Each ordering is charged as it is made (chargeOrdering): n log n of
 * them, each the lighter key's weight.
 */
export function sortByKeys(list: readonly unknown[], keys: readonly unknown[]): unknown[] {
  if (list.length !== keys.length) throw new Error('sortByKeys: a key for each element');
  if (list.length === 0) return [];
  const type = sortTypeOf(keys[0]);
  if (type === undefined) throw evaluationError('list elements must be comparable');
  if (keys.some((k) => sortTypeOf(k) !== type)) throw evaluationError('list elements must have the same type');
  const weights = weightsOf(keys);
  const order = keys.map((_, i) => i);
  order.sort((i, j) => {
    chargeOrdering(weights[i]!, weights[j]!);
    return compareCel(keys[i], keys[j]);
  });
  return order.map((i) => list[i]);
}

export const listSort = (list: readonly unknown[]) => sortByKeys(list, list);

const first = (list: readonly unknown[]) => (list.length === 0 ? Optional.none() : Optional.of(list[0]));
const last = (list: readonly unknown[]) => (list.length === 0 ? Optional.none() : Optional.of(list[list.length - 1]));

/** Adds the `lists` namespace, the list functions above and `first`/`last` to `env`. */
export function registerListsExtension(env: Environment): void {
  const fn = (signature: string, handler: (...args: any[]) => unknown) => env.registerFunction(signature, handler);
  env.registerType('ListsNamespace', ListsNamespace);
  env.registerConstant('lists', 'ListsNamespace', new ListsNamespace());
  fn('ListsNamespace.range(int): list<int>', (_: ListsNamespace, n: bigint) => listsRange(n));
  fn('list<A>.slice(int, int): list<A>', listSlice);
  fn('list<list<A>>.flatten(): list<A>', (list: unknown[]) => listFlatten(list));
  // A list of `dyn` is matched at run time against its values' type: list<int> is no list<list<A>>.
  fn('list.flatten(): list', (list: unknown[]) => listFlatten(list));
  fn('list.flatten(int): list', listFlatten);
  fn('list<A>.distinct(): list<A>', listDistinct);
  fn('list<A>.reverse(): list<A>', listReverse);
  for (const t of COMPARABLE_TYPES) fn(`list<${t}>.sort(): list<${t}>`, listSort);
  fn('list<A>.first(): optional<A>', first);
  fn('list<A>.last(): optional<A>', last);
  registerSortBy(env, sortByKeys);
}
