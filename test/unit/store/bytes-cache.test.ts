import { describe, expect, it } from 'vitest';
import { BytesCache } from '../../../src/store/bytes-cache.js';

const bytes = (n: number, fill = 1) => new Uint8Array(n).fill(fill);

describe('BytesCache', () => {
  it('keeps entries up to its size, dropping the least recently used first', () => {
    const cache = new BytesCache<string>(10);
    cache.set('a', bytes(4));
    cache.set('b', bytes(4));
    expect(cache.get('a')).toHaveLength(4); // a is now the most recently used
    cache.set('c', bytes(4)); // 12 bytes: b goes
    expect(cache.peek('b')).toBeUndefined();
    expect(cache.peek('a')).toBeDefined();
    expect(cache.peek('c')).toBeDefined();
  });

  it('peek does not make an entry recently used', () => {
    const cache = new BytesCache<number>(8);
    cache.set(1, bytes(4));
    cache.set(2, bytes(4));
    cache.peek(1);
    cache.set(3, bytes(4));
    expect(cache.peek(1)).toBeUndefined();
    expect(cache.peek(2)).toBeDefined();
  });

  it('counts a replaced or deleted entry once, and drops an entry larger than the whole cache', () => {
    const cache = new BytesCache<string>(8);
    cache.set('a', bytes(6, 1));
    cache.set('a', bytes(6, 2));
    cache.set('b', bytes(2));
    expect(cache.peek('a')![0]).toBe(2);
    cache.delete('a');
    cache.set('c', bytes(6));
    expect(cache.peek('b')).toBeDefined();
    cache.set('huge', bytes(9));
    expect(cache.peek('huge')).toBeUndefined();
  });
});
