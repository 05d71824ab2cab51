/**
 * Integer arithmetic on tree coordinates with JavaScript numbers.
 *
 * Go's tlog uses int64 and shifts. A JS number is exact up to 2^53, and the bitwise operators
 * truncate to 32 bits, so here shifts are multiplications and divisions by powers of two, and
 * every result is asserted to stay a safe integer.
 *
 * Bound: a tree of size s stores fewer than 2·s hashes (see tree.ts), so tree sizes are capped at
 * MAX_TREE_SIZE = 2^52 to keep every stored-hash index below 2^53. That is 4.5·10^15 leaves,
 * far more than a log on one stream can hold.
 */
import { assert } from '../errors/index.js';

/** Largest tree size (number of leaves) the library handles: 2^52. */
export const MAX_TREE_SIZE = 2 ** 52;

/** True when `n` is an integer in [0, max]. */
export function isIndex(n: unknown, max: number = MAX_TREE_SIZE): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 && n <= max;
}

/** n · 2^k, asserted exact. */
export function shl(n: number, k: number): number {
  const r = n * 2 ** k;
  assert(Number.isSafeInteger(r), 'shl overflows 2^53');
  return r;
}

/** ⌊n / 2^k⌋ for a non-negative safe integer n. */
export function shr(n: number, k: number): number {
  return Math.floor(n / 2 ** k);
}

/** Number of trailing zero bits of n > 0. */
export function trailingZeros(n: number): number {
  assert(Number.isSafeInteger(n) && n > 0, 'trailingZeros of a non-positive number');
  let k = 0;
  while (n % 2 === 0) {
    n /= 2;
    k++;
  }
  return k;
}

/**
 * The largest power of two k with k < n (and k = 1 when n ≤ 2), with its exponent.
 * This is the split point of RFC 6962 §2.1: MTH(D[n]) = NODE(MTH(D[0:k]), MTH(D[k:n])).
 */
export function maxpow2(n: number): { k: number; level: number } {
  let level = 0;
  // k < n <= 2k, so level = floor(log2(n - 1)): one instruction below 2^32, a loop above.
  if (n > 2 && n <= 2 ** 32) level = 31 - Math.clz32(n - 1);
  else while (2 ** (level + 1) < n) level++;
  return { k: 2 ** level, level };
}
