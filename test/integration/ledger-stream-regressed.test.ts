/**
 * The receipts stream deleted and made again (every Chio service creates a missing one at
 * start) numbers its messages from 1 again, below the ledger's cursor. Before, the ledger read
 * on from its cursor: every receipt stored at a lower sequence was skipped in silence, though
 * its Check was answered from it. Now it integrates nothing from such a stream, says why
 * (`halted`, /ready, the log), and goes on once the stream holds the log again.
 *
 * Two ways in: the stream made again under a running ledger (its creation time changed), and
 * made again while no ledger ran, then filled past the old cursor (only the message at the
 * cursor, no longer the one the log read there, tells).
 */
import { describe, expect, it } from 'vitest';
import { useTestStore } from '../unit/store/nats.js';
import { chainOf, kernelOf } from '../unit/receipt/helpers.js';
import type { Receipt } from '../../src/receipt/receipt.js';
import { ledgerMaker, publishReceipts, remakeReceiptsStream, until } from '../support/ledger-on-stream.js';

const store = useTestStore();
const kernel = kernelOf(52);
const newLedger = ledgerMaker(store, kernel, 'chio.test/stream-regressed', 6);
const publish = (receipts: readonly Receipt[]) => publishReceipts(store, receipts);
const remakeStream = () => remakeReceiptsStream(store);

describe('a receipts stream made again below the ledger’s cursor', () => {
  it('is not read on, under a running ledger or by one that starts on it, and is read again once it holds the log', async () => {
    const original = chainOf(4, kernel, 'regressed-a');
    const ledger = newLedger();
    await ledger.start();
    await publish(original);
    await until('the first four receipts integrated', () => ledger.integratedStreamSeq === 4);
    expect(ledger.halted).toBeUndefined();

    // Made again under the running ledger, and filled past its cursor by another chain.
    await remakeStream();
    const later = chainOf(6, kernel, 'regressed-b');
    await publish(later);
    await until('the ledger halted', () => ledger.halted !== undefined);
    expect(ledger.halted).toMatch(/made again|no longer holds at sequence 4 the message/);
    // Nothing of the new stream was read: the cursor and the tree are where they were.
    await new Promise((r) => setTimeout(r, 1_000));
    expect({ seq: ledger.integratedStreamSeq, size: ledger.treeSize }).toEqual({ seq: 4, size: 4 });
    await ledger.stop();

    // A ledger starting on that stream (six messages, past its cursor of four) does not read on either.
    const restarted = newLedger();
    await restarted.start();
    await until('the restarted ledger halted', () => restarted.halted !== undefined);
    expect(restarted.halted).toMatch(/no longer holds at sequence 4 the message the log read there/);
    await new Promise((r) => setTimeout(r, 1_000));
    expect({ seq: restarted.integratedStreamSeq, size: restarted.treeSize }).toEqual({ seq: 4, size: 4 });

    // The stream restored (here: the same messages stored again, in order): integrating again.
    await remakeStream();
    await publish([...original, ...later]);
    await until('the ledger reading again', () => restarted.halted === undefined && restarted.treeSize === 10);
    await restarted.stop();
  }, 90_000);
});
