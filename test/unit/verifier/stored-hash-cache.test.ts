import { describe, expect, it } from 'vitest';
import { StoredHashCache } from '../../../src/verifier/stored-hash-cache.js';
import type { Hash, HashReader } from '../../../src/tlog/index.js';

const hashOf = (i: number): Hash => new Uint8Array(32).fill(i % 256);

describe('StoredHashCache', () => {
  it('reads each stored hash once while it is kept', async () => {
    const asked: number[][] = [];
    const reader: HashReader = async (indexes) => (asked.push([...indexes]), indexes.map(hashOf));
    const read = new StoredHashCache(8).wrap(reader);
    expect(await read([1, 2, 3])).toEqual([1, 2, 3].map(hashOf));
    expect(await read([3, 2, 4])).toEqual([3, 2, 4].map(hashOf));
    expect(asked).toEqual([[1, 2, 3], [4]]);
  });

  it('answers a request with what it found even when others evicted it while it waited', async () => {
    const cache = new StoredHashCache(2);
    const instant: HashReader = async (indexes) => indexes.map(hashOf);
    await cache.wrap(instant)([1]);
    // Request A finds 1 kept and waits for 2; meanwhile B's reads push 1 out.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow: HashReader = async (indexes) => (await gate, indexes.map(hashOf));
    const a = cache.wrap(slow)([1, 2]);
    await cache.wrap(instant)([5, 6, 7]);
    release();
    expect(await a).toEqual([hashOf(1), hashOf(2)]);
  });

  it('keeps nothing from a reader that answers short', async () => {
    const cache = new StoredHashCache(8);
    const short: HashReader = async (indexes) => indexes.slice(1).map(hashOf);
    await expect(cache.wrap(short)([1, 2])).rejects.toThrow(/1 values for 2 indexes/);
    const asked: number[][] = [];
    await cache.wrap(async (indexes) => (asked.push([...indexes]), indexes.map(hashOf)))([1, 2]);
    expect(asked).toEqual([[1, 2]]);
  });
});
