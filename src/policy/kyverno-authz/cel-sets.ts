/**
 * cel-go's sets extension (ext/sets.go), which kyverno-authz enables: lists treated as sets,
 * elements compared with CEL's equality (./cel-equality.ts: numbers by value across int, uint
 * and double, lists and maps element by element), duplicates and order ignored:
 *
 *   sets.contains(list, sublist) → bool     every element of sublist is in list (true for [])
 *   sets.equivalent(a, b) → bool            each contains the other
 *   sets.intersects(a, b) → bool            some element of a is in b (false when either is [])
 *
 * Each call compares up to every pair, so it charges that (./list-charges.ts chargeAllPairs)
 * to the Check's string budget before comparing: two lists of 1,024 scalars are 4 M characters
 * of the 8 Mi, and a call over larger or deeper values is a limit error, not uncounted work.
 */
import type { Environment } from '@marcbachmann/cel-js';
import { listIncludes } from './cel-equality.js';
import { chargeAllPairs } from './list-charges.js';
import { BOUNDED_STRING_CALLS } from './cel-bounds.js';

/** The `sets` identifier, namespace of the functions as cel-go names them. */
class SetsNamespace {}

export function setsContains(list: readonly unknown[], sublist: readonly unknown[]): boolean {
  chargeAllPairs(list, sublist);
  return sublist.every((v) => listIncludes(list, v));
}

export function setsEquivalent(a: readonly unknown[], b: readonly unknown[]): boolean {
  return setsContains(a, b) && setsContains(b, a);
}

export function setsIntersects(a: readonly unknown[], b: readonly unknown[]): boolean {
  chargeAllPairs(a, b);
  return a.some((v) => listIncludes(b, v));
}

/** Adds the `sets` namespace and its three functions to `env`. */
export function registerSetsExtension(env: Environment): void {
  env.registerType('SetsNamespace', SetsNamespace);
  env.registerConstant('sets', 'SetsNamespace', new SetsNamespace());
  // A policy's `.contains(` calls are renamed to the string form's name (cel-bounds), this one too.
  for (const name of ['contains', BOUNDED_STRING_CALLS.contains]) {
    env.registerFunction(`SetsNamespace.${name}(list, list): bool`, (_: SetsNamespace, a: unknown[], b: unknown[]) => setsContains(a, b));
  }
  env.registerFunction('SetsNamespace.equivalent(list, list): bool', (_: SetsNamespace, a: unknown[], b: unknown[]) => setsEquivalent(a, b));
  env.registerFunction('SetsNamespace.intersects(list, list): bool', (_: SetsNamespace, a: unknown[], b: unknown[]) => setsIntersects(a, b));
}
