/**
 * The Kubernetes lists library (k8s.io/apiserver pkg/cel/library/lists.go, version 0, which
 * kyverno-authz enables), answering as it does:
 *
 *   <list<T>>.isSorted() → bool      each element not after the next (T comparable)
 *   <list<T>>.sum() → T              T int, uint, double or duration; 0 of T for [] (`[].sum()`
 *                                    is 0); an int or uint past its range is an error
 *   <list<T>>.min() → T, .max() → T  the least or greatest, the first of equals; [] is an error
 *   <list>.indexOf(x) → int          the first or last position of an element equal to x
 *   <list>.lastIndexOf(x) → int      (CEL's equality, ./cel-equality.ts), -1 if none
 *
 * Ordered as ./cel-ordering.ts says. Where Kubernetes' code passes over a pair it cannot order
 * (a NaN, or a string next to an int in a list of `dyn`) as "not after", these are an error:
 * such a list is not a list of one comparable type, which is all the library is defined on.
 *
 * A policy's `.indexOf(`/`.lastIndexOf(` calls are renamed to the string forms' names by
 * ./cel-bounds.ts, so the list forms are registered under those names too. Their argument is
 * `dyn` (Kubernetes' is the list's element type): cel-js matches a `list<A>` overload against
 * the type of the values at run time, so `dyn([[1]]).indexOf(dyn([1.0]))` found no overload;
 * an element of another type is then not found, -1, where Kubernetes refuses the expression
 * at load. Each call charges
 * what it walks and compares to the Check's string budget first (./list-charges.ts).
 */
import { EvaluationError, type Environment } from '@marcbachmann/cel-js';
import { Duration, UnsignedInt } from '@marcbachmann/cel-js/evaluator';
import { BOUNDED_STRING_CALLS, chargeScan } from './cel-bounds.js';
import { celEquals } from './cel-equality.js';
import { compareCel, orderKindOf } from './cel-ordering.js';
import { chargeAllPairs, chargeEachOrdered, PER_COMPARISON } from './list-charges.js';

const evaluationError = (code: string, message: string) => new EvaluationError({ code, message } as never);
const MIN_INT = -(2n ** 63n);
const MAX_INT = 2n ** 63n - 1n;

/** The types the library orders, as cel-js names them (cel-go's comparableTypes). */
export const COMPARABLE_TYPES = ['int', 'uint', 'double', 'bool', 'google.protobuf.Duration', 'google.protobuf.Timestamp', 'string', 'bytes'];

/** Each element ordered before the rest are compared: one that cannot be ordered is an error even in a list of one. */
function assertComparable(list: readonly unknown[]): void {
  for (const v of list) if (orderKindOf(v) === undefined) throw evaluationError('no_such_overload', 'no such overload: list elements must be comparable');
}

export function isSorted(list: readonly unknown[]): boolean {
  chargeEachOrdered(list);
  assertComparable(list);
  for (let i = 1; i < list.length; i++) if (compareCel(list[i - 1], list[i]) === 1) return false;
  return true;
}

/** min (`keepWhen` 1: take the next when the best so far is after it) or max (-1). */
function pick(list: readonly unknown[], keepWhen: 1 | -1, name: string): unknown {
  chargeEachOrdered(list);
  assertComparable(list);
  if (list.length === 0) throw evaluationError('invalid_argument', `${name} called on empty list`);
  let best = list[0];
  for (let i = 1; i < list.length; i++) if (compareCel(best, list[i]) === keepWhen) best = list[i];
  return best;
}

export const listMin = (list: readonly unknown[]) => pick(list, 1, 'min');
export const listMax = (list: readonly unknown[]) => pick(list, -1, 'max');

type Summable = bigint | UnsignedInt | number | Duration;

/** What sum adds as: one kind for the whole list (cel-go's Add takes no mixed operands). */
const sumKindOf = (v: unknown) =>
  typeof v === 'bigint' ? 'int' : v instanceof UnsignedInt ? 'uint' : typeof v === 'number' ? 'double' : v instanceof Duration ? 'duration' : undefined;

export function listSum(list: readonly unknown[], zero: Summable): Summable {
  chargeScan(PER_COMPARISON * list.length);
  if (list.length === 0) return zero;
  const kind = sumKindOf(list[0]);
  if (kind === undefined || list.some((v) => sumKindOf(v) !== kind)) throw evaluationError('no_such_overload', 'no such overload: sum() of a list of mixed or non-numeric types');
  switch (kind) {
    case 'double':
      return (list as number[]).reduce((a, b) => a + b, 0);
    case 'duration':
      return (list as Duration[]).reduce((a, b) => a.addDuration(b));
    case 'uint':
      // UnsignedInt refuses a value past 2^64 - 1 (numeric_overflow), as cel-go's Add does.
      return (list as UnsignedInt[]).reduce((a, b) => new UnsignedInt(a.valueOf() + b.valueOf()));
    default:
      return (list as bigint[]).reduce((a, b) => {
        const total = a + b;
        if (total < MIN_INT || total > MAX_INT) throw evaluationError('numeric_overflow', 'integer overflow');
        return total;
      });
  }
}

export function listIndexOf(list: readonly unknown[], item: unknown): bigint {
  chargeAllPairs(list, [item]);
  return BigInt(list.findIndex((v) => celEquals(v, item)));
}

export function listLastIndexOf(list: readonly unknown[], item: unknown): bigint {
  chargeAllPairs(list, [item]);
  return BigInt(list.findLastIndex((v) => celEquals(v, item)));
}

const ZERO_OF: Readonly<Record<string, Summable>> = { int: 0n, uint: new UnsignedInt(0n), double: 0, 'google.protobuf.Duration': new Duration(0n) };

/** Adds isSorted, sum, min, max, indexOf and lastIndexOf on lists to `env`. */
export function registerKubernetesListsLibrary(env: Environment): void {
  const fn = (signature: string, handler: (...args: any[]) => unknown) => env.registerFunction(signature, handler);
  for (const t of COMPARABLE_TYPES) {
    fn(`list<${t}>.isSorted(): bool`, isSorted);
    fn(`list<${t}>.min(): ${t}`, listMin);
    fn(`list<${t}>.max(): ${t}`, listMax);
  }
  for (const [t, zero] of Object.entries(ZERO_OF)) fn(`list<${t}>.sum(): ${t}`, (list: unknown[]) => listSum(list, zero));
  for (const name of ['indexOf', BOUNDED_STRING_CALLS.indexOf]) fn(`list.${name}(dyn): int`, listIndexOf);
  for (const name of ['lastIndexOf', BOUNDED_STRING_CALLS.lastIndexOf]) fn(`list.${name}(dyn): int`, listLastIndexOf);
}
