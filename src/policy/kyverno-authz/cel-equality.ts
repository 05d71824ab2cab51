/**
 * CEL's equality (cel-spec, "Equality"), where cel-js's falls short: numbers are equal when their
 * values are, across int, uint and double, inside lists and maps as well as outside them
 * (`[1.0, 2.0, 3] == [1u, 2, 3u]`, `dyn(22) in [22u]`). cel-js equates an int with a double in
 * a list but no uint with either, so a uint field of `object` (`port_value`, cel-go's type) in
 * a list of ints, or an int in a list of uints, was never found: a DENY listing ports missed.
 *
 * Values of `object` and of CEL literals are compared here; any other object (a duration, an
 * optional, a type, a response of the envoy library) is handed to `other`, by default equal
 * when identical or durations of the same length.
 */
import { Duration, UnsignedInt } from '@marcbachmann/cel-js/evaluator';
import { CelMessage } from '../kyverno/kyverno-input.js';

export type OtherEquality = (a: object, b: object) => boolean;

/** By default the other values are equal when they are the same value, or durations of the same length (cel-js makes a new one each time). */
const identical: OtherEquality = (a, b) => a === b || (a instanceof Duration && b instanceof Duration && a.seconds === b.seconds && a.nanos === b.nanos);

/** CEL `a == b` for values of `object`, CEL literals and what the standard library builds. */
export function celEquals(a: unknown, b: unknown, other: OtherEquality = identical): boolean {
  if (a === b) return true;
  const x = numberOf(a);
  const y = numberOf(b);
  if (x !== undefined || y !== undefined) return x !== undefined && y !== undefined && numbersEqual(x, y);
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => celEquals(v, b[i], other));
  }
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && a.length === b.length && a.every((v, i) => v === b[i]);
  }
  if (a instanceof Date || b instanceof Date) return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  // A message equals a message (field by field), a map a map; never one the other.
  if (a instanceof CelMessage || b instanceof CelMessage) return a instanceof CelMessage && b instanceof CelMessage && entriesEqual(a, b, other);
  const left = entriesOf(a);
  const right = entriesOf(b);
  if (left === undefined && right === undefined) return other(a, b);
  return left !== undefined && right !== undefined && entriesEqual(left, right, other);
}

/** CEL `value in list`: some entry equals it. */
export function listIncludes(list: readonly unknown[], value: unknown, other?: OtherEquality): boolean {
  return list.some((entry) => celEquals(value, entry, other));
}

function numberOf(v: unknown): number | bigint | undefined {
  if (typeof v === 'number' || typeof v === 'bigint') return v;
  return v instanceof UnsignedInt ? v.valueOf() : undefined;
}

/** Exact: an int past 2^53 is not equal to the double next to it; NaN equals nothing. */
function numbersEqual(x: number | bigint, y: number | bigint): boolean {
  if (typeof x === typeof y) return x === y;
  const [n, i] = (typeof x === 'number' ? [x, y] : [y, x]) as [number, bigint];
  return Number.isInteger(n) && BigInt(n) === i;
}

/** A map's entries by key (cel-js keeps a map's keys as strings: `{1u: 2}` is `{"1": 2n}`). */
function entriesOf(v: object): Record<string, unknown> | undefined {
  if (v instanceof Map) return Object.fromEntries(v) as Record<string, unknown>;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === null || proto === Object.prototype ? (v as Record<string, unknown>) : undefined;
}

function entriesEqual(a: Record<string, unknown>, b: Record<string, unknown>, other: OtherEquality): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && celEquals(a[k], b[k], other));
}
