import { describe, expect, it } from 'vitest';
import { readChainHead, readChainHeadRecord, writeChainHead } from '../../../src/store/chain-heads.js';
import { useTestStore } from './nats.js';

const store = useTestStore();

describe('readChainHead', () => {
  it('knows no head for a chain with no leaf yet', async () => {
    expect(await readChainHead(store.resources.chains, 'chain-new')).toBeUndefined();
  });
});

describe('writeChainHead', () => {
  it('stores {"seq","id","index"} under the chain id, the layout existing logs have', async () => {
    await writeChainHead(store.resources.chains, 'chain-a', { seq: 2, id: 'ab'.repeat(32), index: 7 });
    expect((await store.resources.chains.get('chain-a'))?.string()).toBe(`{"seq":2,"id":"${'ab'.repeat(32)}","index":7}`);
    expect(await readChainHead(store.resources.chains, 'chain-a')).toEqual({ seq: 2, id: 'ab'.repeat(32), index: 7 });
  });

  it('replaces the head as the chain grows', async () => {
    await writeChainHead(store.resources.chains, 'chain-b', { seq: 1, id: '01'.repeat(32), index: 0 });
    await writeChainHead(store.resources.chains, 'chain-b', { seq: 2, id: '02'.repeat(32), index: 3 });
    expect(await readChainHead(store.resources.chains, 'chain-b')).toEqual({ seq: 2, id: '02'.repeat(32), index: 3 });
  });
});

describe('a head with its base', () => {
  it('reads back the base: the leaf index of the committed head, or null for none', async () => {
    await writeChainHead(store.resources.chains, 'chain-c', { seq: 5, id: 'cd'.repeat(32), index: 9 }, undefined, 6);
    expect(await readChainHeadRecord(store.resources.chains, 'chain-c')).toMatchObject({ head: { seq: 5, id: 'cd'.repeat(32), index: 9 }, base: 6 });
    await writeChainHead(store.resources.chains, 'chain-d', { seq: 1, id: 'ef'.repeat(32), index: 0 }, undefined, null);
    expect((await readChainHeadRecord(store.resources.chains, 'chain-d')).base).toBeNull();
    expect('base' in (await readChainHeadRecord(store.resources.chains, 'chain-a'))).toBe(false);
  });

  it('fits the bucket with the largest numbers, written revision-checked (the header counts against the bound)', async () => {
    const most = Number.MAX_SAFE_INTEGER;
    const { revision } = await readChainHeadRecord(store.resources.chains, 'chain-e');
    const written = await writeChainHead(store.resources.chains, 'chain-e', { seq: most, id: 'ff'.repeat(32), index: most }, revision, most - 1);
    await writeChainHead(store.resources.chains, 'chain-e', { seq: most, id: 'ff'.repeat(32), index: most }, written, most - 1);
    expect((await readChainHeadRecord(store.resources.chains, 'chain-e')).base).toBe(most - 1);
  });
});
