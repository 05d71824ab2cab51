import { describe, expect, it } from 'vitest';
import { toHex } from '../../../src/encoding.js';
import { MAX_ENTRY_SIZE, decodeEntryBundle, encodeEntryBundle } from '../../../src/tlog/index.js';
import { expectCode } from './helpers.js';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('encodeEntryBundle', () => {
  describe('when encoding entries', () => {
    it('writes each as a big-endian uint16 length and the bytes', () => {
      expect(toHex(encodeEntryBundle([bytes('a'), new Uint8Array(0)]))).toBe('0001610000');
      expect(toHex(encodeEntryBundle([new Uint8Array(258)]).subarray(0, 2))).toBe('0102');
      expect(encodeEntryBundle([])).toHaveLength(0);
    });
  });

  describe('when an entry or the bundle is too large', () => {
    it('throws MALFORMED', () => {
      expectCode(() => encodeEntryBundle([new Uint8Array(MAX_ENTRY_SIZE + 1)]), 'MALFORMED');
      expectCode(() => encodeEntryBundle(Array.from({ length: 257 }, () => bytes('x'))), 'MALFORMED');
    });
  });
});

describe('decodeEntryBundle', () => {
  describe('when decoding what encodeEntryBundle wrote', () => {
    it('returns the same entries, including a full bundle of maximal entries', () => {
      const entries = Array.from({ length: 256 }, (_, i) => bytes(`entry ${i}`));
      expect(decodeEntryBundle(encodeEntryBundle(entries), 256).map(toHex)).toEqual(entries.map(toHex));
      const big = [new Uint8Array(MAX_ENTRY_SIZE).fill(7), new Uint8Array(0)];
      expect(decodeEntryBundle(encodeEntryBundle(big)).map((e) => e.length)).toEqual([MAX_ENTRY_SIZE, 0]);
      expect(decodeEntryBundle(new Uint8Array(0))).toEqual([]);
    });
  });

  describe('when the bundle is truncated, too long or not the expected width', () => {
    it('throws MALFORMED', () => {
      const good = encodeEntryBundle([bytes('abc'), bytes('de')]);
      for (let cut = 1; cut < good.length; cut++) {
        if (cut === 5) continue; // a whole first entry is a valid bundle of one
        expectCode(() => decodeEntryBundle(good.subarray(0, cut)), 'MALFORMED');
      }
      expectCode(() => decodeEntryBundle(good, 3), 'MALFORMED');
      expectCode(() => decodeEntryBundle(Uint8Array.of(0xff, 0xff, 1)), 'MALFORMED');
      expectCode(() => decodeEntryBundle(new Uint8Array(2 * 257)), 'MALFORMED');
    });
  });
});
