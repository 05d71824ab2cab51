/**
 * Messages after the last leaf (refused and quarantined, or duplicates) move the ledger's cursor
 * without a leaf. A stream restored from an older copy that still holds the last leaf, but not
 * those messages, then filled by new receipts past the cursor, passed a check anchored on the
 * last leaf: the ledger read on from the old cursor and skipped the new receipts stored at the
 * sequences in between, in silence. The committed state now keeps the SHA-256 of the message at
 * the cursor, and the ledger reads on only from a stream that still holds it there.
 */
import { describe, expect, it } from 'vitest';
import { useTestStore } from '../unit/store/nats.js';
import { receiptSubject } from '../../src/store/resources.js';
import { chainOf, kernelOf } from '../unit/receipt/helpers.js';
import type { Receipt } from '../../src/receipt/receipt.js';
import { ledgerMaker, publishReceipts, remakeReceiptsStream, until } from '../support/ledger-on-stream.js';

const store = useTestStore();
const kernel = kernelOf(54);
const newLedger = ledgerMaker(store, kernel, 'chio.test/anchor-past-leaf', 8);
const publish = (receipts: readonly Receipt[]) => publishReceipts(store, receipts);

describe('a restored stream that holds the last leaf but not the messages after it', () => {
  it('is not read on from a cursor past the last leaf', async () => {
    const original = chainOf(4, kernel, 'past-a');
    const first = newLedger();
    await first.start();
    await publish(original);
    // Two messages that are no receipts: quarantined, the cursor moves past the last leaf.
    await store.js.publish(receiptSubject('past-junk'), new TextEncoder().encode('not a receipt 1'));
    await store.js.publish(receiptSubject('past-junk'), new TextEncoder().encode('not a receipt 2'));
    await until('six messages read', () => first.integratedStreamSeq === 6);
    expect(first.treeSize).toBe(4);
    await first.stop();

    // Restored from a copy taken before the two refused messages, then new receipts stored: 5 to 8.
    await remakeReceiptsStream(store);
    await publish(original);
    const fresh = chainOf(4, kernel, 'past-b');
    await publish(fresh);

    const ledger = newLedger();
    await ledger.start();
    await new Promise((r) => setTimeout(r, 3_000));
    const state = { halted: ledger.halted, seq: ledger.integratedStreamSeq, size: ledger.treeSize };
    await ledger.stop();
    // Not 2 of the 4 new receipts (5 and 6 skipped): it halts, and says why.
    expect(state, JSON.stringify(state)).toMatchObject({ seq: 6, size: 4 });
    expect(state.halted).toMatch(/no longer holds at sequence 6 the message the log read there/);
  }, 60_000);
});
