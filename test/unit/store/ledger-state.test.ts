import { describe, expect, it } from 'vitest';
import { readLedgerState, writeLedgerState } from '../../../src/store/ledger-state.js';
import { useTestStore } from './nats.js';

const store = useTestStore();

describe('readLedgerState', () => {
  it('reads an empty log before anything was committed', async () => {
    expect(await readLedgerState(store.resources.ledger)).toEqual({ size: 0, streamSeq: 0 });
  });
});

describe('writeLedgerState', () => {
  it('stores exactly {"size","streamSeq"} under key state, the layout existing logs have', async () => {
    const tree = { size: 3, streamSeq: 5, root: new Uint8Array(32) }; // the integrator's state carries its root
    await writeLedgerState(store.resources.ledger, tree);
    expect((await store.resources.ledger.get('state'))?.string()).toBe('{"size":3,"streamSeq":5}');
    expect(await readLedgerState(store.resources.ledger)).toEqual({ size: 3, streamSeq: 5 });
  });

  it('reads back what an earlier version wrote', async () => {
    await store.resources.ledger.put('state', '{"size":7,"streamSeq":9}');
    expect(await readLedgerState(store.resources.ledger)).toEqual({ size: 7, streamSeq: 9 });
  });
});
