import { describe, expect, it } from 'vitest';
import { VerificationCache } from '../../../src/credentials/verification-cache.js';

describe('VerificationCache', () => {
  it('never returns an entry at or past its expiry', () => {
    const c = new VerificationCache<string>(10);
    c.set('k', 'v', 100);
    expect(c.get('k', 99)).toBe('v');
    expect(c.get('k', 100)).toBeUndefined();
    expect(c.get('k', 99)).toBeUndefined(); // an expired entry is dropped, not kept
  });

  it('never returns an entry the caller says no longer holds, and drops it', () => {
    const c = new VerificationCache<{ generation: number }>(10);
    c.set('k', { generation: 1 }, 100);
    expect(c.get('k', 0, (v) => v.generation === 1)).toEqual({ generation: 1 });
    expect(c.get('k', 0, (v) => v.generation === 2)).toBeUndefined();
    expect(c.get('k', 0)).toBeUndefined();
  });

  it('holds at most maxEntries, dropping the least recently used', () => {
    const c = new VerificationCache<number>(3);
    for (let i = 0; i < 3; i++) c.set(`k${i}`, i, 1000);
    expect(c.get('k0', 0)).toBe(0); // k0 is now the most recent
    c.set('k3', 3, 1000);
    expect(c.size).toBe(3);
    expect(c.get('k1', 0)).toBeUndefined();
    expect(c.get('k0', 0)).toBe(0);
    expect(c.get('k3', 0)).toBe(3);
  });
});
