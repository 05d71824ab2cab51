/**
 * The receipts stream deleted and made again (every Chio service creates a missing one at
 * start) numbers its messages from 1 again, below the ledger's cursor. Before, the ledger read
 * on from its cursor: every receipt stored at a lower sequence was skipped in silence, though
 * its Check was answered from it. Now it integrates nothing from such a stream, says why
 * (`halted`, /ready, the log), and goes on once the stream holds the log again.
 *
 * Two ways in: the stream made again under a running ledger (its creation time changed), and
 * made again while no ledger ran, then filled past the old cursor (only the last leaf, looked
 * for where the index says, tells).
 */
import { describe, expect, it } from 'vitest';
import { useTestStore } from '../unit/store/nats.js';
import { RECEIPTS_STREAM, ensureStreams, receiptSubject } from '../../src/store/resources.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { createLogger } from '../../src/log.js';
import { canonicalBytes } from '../../src/receipt/jcs.js';
import { newEd25519SignerKey } from '../../src/tlog/index.js';
import { chainOf, kernelOf } from '../unit/receipt/helpers.js';
import type { Receipt } from '../../src/receipt/receipt.js';

const store = useTestStore();
const kernel = kernelOf(52);
const logKey = newEd25519SignerKey('chio.test/stream-regressed', new Uint8Array(32).fill(6));

function newLedger(): Ledger {
  const { nc, resources } = store;
  return new Ledger({ nc, resources, kernelKeys: [kernel.verifierKey], origin: 'chio.test/stream-regressed', logSignerKey: logKey.signerKey, log: createLogger('silent'), checkpointIntervalMs: 100 });
}

async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  for (const deadline = Date.now() + ms; !ok(); ) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function publish(receipts: readonly Receipt[]): Promise<void> {
  for (const r of receipts) await store.js.publish(receiptSubject(r.chain), canonicalBytes(r), { msgID: r.id });
}

/** Delete the receipts stream and make it again, empty, as a service starting would. */
async function remakeStream(): Promise<void> {
  await store.jsm.streams.delete(RECEIPTS_STREAM);
  await ensureStreams(store.nc);
}

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
    expect(ledger.halted).toMatch(/made again|no longer holds the last receipt/);
    // Nothing of the new stream was read: the cursor and the tree are where they were.
    await new Promise((r) => setTimeout(r, 1_000));
    expect({ seq: ledger.integratedStreamSeq, size: ledger.treeSize }).toEqual({ seq: 4, size: 4 });
    await ledger.stop();

    // A ledger starting on that stream (six messages, past its cursor of four) does not read on either.
    const restarted = newLedger();
    await restarted.start();
    await until('the restarted ledger halted', () => restarted.halted !== undefined);
    expect(restarted.halted).toMatch(/no longer holds the last receipt/);
    await new Promise((r) => setTimeout(r, 1_000));
    expect({ seq: restarted.integratedStreamSeq, size: restarted.treeSize }).toEqual({ seq: 4, size: 4 });

    // The stream restored (here: the same messages stored again, in order): integrating again.
    await remakeStream();
    await publish([...original, ...later]);
    await until('the ledger reading again', () => restarted.halted === undefined && restarted.treeSize === 10);
    await restarted.stop();
  }, 90_000);
});
