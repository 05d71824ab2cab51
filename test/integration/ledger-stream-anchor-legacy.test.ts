/**
 * A ledger state written before the committed state kept the SHA-256 of the message at the
 * cursor: the ledger then checks the stream by the log's last leaf (its receipt, byte for byte,
 * at the sequence and line its index entry records) before it reads on.
 */
import { describe, expect, it } from 'vitest';
import { useTestStore } from '../unit/store/nats.js';
import { chainOf, kernelOf } from '../unit/receipt/helpers.js';
import { readLedgerRecord, writeLedgerRecord } from '../../src/store/ledger-state.js';
import { ledgerMaker, publishReceipts, remakeReceiptsStream, until } from '../support/ledger-on-stream.js';

const store = useTestStore();
const newLedger = ledgerMaker(store, kernelOf(55), 'chio.test/anchor-legacy', 9);

describe('a ledger state without the digest of the message at its cursor', () => {
  it('is checked by the last leaf: a stream made again and filled past the cursor is not read on', async () => {
    const kernel = kernelOf(55);
    const first = newLedger();
    await first.start();
    await publishReceipts(store, chainOf(3, kernel, 'legacy-a'));
    await until('three receipts integrated', () => first.integratedStreamSeq === 3 && first.treeSize === 3);
    await first.stop();
    // The record as an older Chio wrote it.
    const { record, revision } = await readLedgerRecord(store.resources.ledger);
    expect(record.lastMessage).toMatch(/^[0-9a-f]{64}$/);
    await writeLedgerRecord(store.resources.ledger, { size: record.size, streamSeq: record.streamSeq }, revision);

    await remakeReceiptsStream(store);
    await publishReceipts(store, chainOf(5, kernel, 'legacy-b'));
    const ledger = newLedger();
    await ledger.start();
    await until('the ledger halted', () => ledger.halted !== undefined);
    expect(ledger.halted).toMatch(/no longer holds the last receipt the log integrated/);
    expect({ seq: ledger.integratedStreamSeq, size: ledger.treeSize }).toEqual({ seq: 3, size: 3 });
    await ledger.stop();
  }, 60_000);
});
