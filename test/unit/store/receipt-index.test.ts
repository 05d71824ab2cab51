import { describe, expect, it } from 'vitest';
import { readIndexEntry, writeIndexEntry } from '../../../src/store/receipt-index.js';
import { useTestStore } from './nats.js';

const store = useTestStore();
const id = 'ab'.repeat(32);

describe('readIndexEntry', () => {
  it('knows no entry for a receipt the ledger has not integrated', async () => {
    expect(await readIndexEntry(store.resources.index, 'cd'.repeat(32))).toBeUndefined();
  });

  it('knows no entry once it was deleted', async () => {
    await writeIndexEntry(store.resources.index, 'ef'.repeat(32), { index: 1, seq: 1 });
    await store.resources.index.delete('ef'.repeat(32));
    expect(await readIndexEntry(store.resources.index, 'ef'.repeat(32))).toBeUndefined();
  });
});

describe('writeIndexEntry', () => {
  it('stores {"index","seq"} under the receipt id, the layout existing logs have', async () => {
    await writeIndexEntry(store.resources.index, id, { index: 41, seq: 44 });
    expect((await store.resources.index.get(id))?.string()).toBe('{"index":41,"seq":44}');
    expect(await readIndexEntry(store.resources.index, id)).toEqual({ index: 41, seq: 44 });
  });
});

describe('an index entry of a corrected receipt', () => {
  it('stores and reads back "corrected_by" after the fields old entries have', async () => {
    const corrected = '12'.repeat(32);
    await writeIndexEntry(store.resources.index, corrected, { index: 7, seq: 9, corrected_by: 'cd'.repeat(32) });
    expect((await store.resources.index.get(corrected))?.string()).toBe(`{"index":7,"seq":9,"corrected_by":"${'cd'.repeat(32)}"}`);
    expect(await readIndexEntry(store.resources.index, corrected)).toEqual({ index: 7, seq: 9, corrected_by: 'cd'.repeat(32) });
  });
});
