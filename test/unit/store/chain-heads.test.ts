import { describe, expect, it } from 'vitest';
import { readChainHead, writeChainHead } from '../../../src/store/chain-heads.js';
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
