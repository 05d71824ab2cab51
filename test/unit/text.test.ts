import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { boundedText } from '../../src/text.js';

describe('boundedText', () => {
  it('cuts at the bound, but never through a surrogate pair', () => {
    expect(boundedText('abcdef', 3)).toBe('abc');
    expect(boundedText('ab\u{1F600}cd', 3)).toBe('ab');
    expect(boundedText('ab\u{1F600}cd', 4)).toBe('ab\u{1F600}');
    expect(boundedText('short', 10)).toBe('short');
  });

  it('replaces a lone surrogate it is given (a JSON-decoded claim may hold one)', () => {
    expect(boundedText('a\uD800b', 10)).toBe('a\uFFFDb');
  });

  it('always returns well-formed text no longer than the bound', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), fc.nat({ max: 64 }), (text, max) => {
      const cut = boundedText(text, max);
      expect(cut.length).toBeLessThanOrEqual(max);
      expect(cut.isWellFormed()).toBe(true);
    }), { numRuns: 2000 });
  });
});
