/** maxpow2: the RFC 6962 §2.1 split point k, the largest power of two with k < n. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { maxpow2 } from '../../../src/tlog/bits.js';

describe('maxpow2', () => {
  it('is 1 for trees of 1 and 2 leaves', () => {
    expect(maxpow2(1)).toEqual({ k: 1, level: 0 });
    expect(maxpow2(2)).toEqual({ k: 1, level: 0 });
  });

  it.each([
    [3, 2], [4, 2], [5, 4], [8, 4], [9, 8], [2 ** 31, 2 ** 30], [2 ** 31 + 1, 2 ** 31], [2 ** 32, 2 ** 31], [2 ** 32 + 1, 2 ** 32], [2 ** 53 - 1, 2 ** 52],
  ])('splits %i leaves at %i', (n, k) => {
    expect(maxpow2(n)).toEqual({ k, level: Math.log2(k) });
  });

  it('satisfies k < n <= 2k for every tree size up to 2^53', () => {
    fc.assert(fc.property(fc.integer({ min: 3, max: Number.MAX_SAFE_INTEGER }), (n) => {
      const { k, level } = maxpow2(n);
      expect(k).toBe(2 ** level);
      expect(k < n && n <= 2 * k).toBe(true);
    }), { numRuns: 2_000 });
  });
});
