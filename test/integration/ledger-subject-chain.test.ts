/**
 * A receipt stored on another chain's subject. The server refuses a fork only per subject
 * (Nats-Expected-Last-Subject-Sequence), so a publisher with the receipts credential and a
 * trusted kernel key (compromised, or a lane writing under the wrong subject) could store its
 * chain's next seq under another subject; the chain's own writer then stores its receipt, is
 * acknowledged and answers from it. The ledger must refuse the receipt off its subject, and
 * keep the chain writer's.
 */
import { describe, expect, it } from 'vitest';
import { useTestStore } from '../unit/store/nats.js';
import { chainOf, draftOf, kernelOf, signReceipt } from '../unit/receipt/helpers.js';
import type { Receipt } from '../../src/receipt/receipt.js';
import { canonicalBytes } from '../../src/receipt/jcs.js';
import { receiptSubject } from '../../src/store/resources.js';
import { readIndexEntry } from '../../src/store/receipt-index.js';
import { ledgerMaker, until } from '../support/ledger-on-stream.js';
import { quarantineReasons } from '../support/stream-audit.js';

const store = useTestStore();
const kernel = kernelOf(61);
const newLedger = ledgerMaker(store, kernel, 'chio.test/subject-chain', 7);

describe('a receipt stored on another chain\'s subject', () => {
  it('is quarantined, and the chain writer\'s own receipt of that seq becomes the leaf', async () => {
    const [r1, r2] = chainOf(2, kernel, 'subj-a') as [Receipt, Receipt];
    const imposter = signReceipt(draftOf(42), { chain: 'subj-a', seq: 2, prev: r1.id }, kernel);
    const ledger = newLedger();
    await ledger.start();
    try {
      await store.js.publish(receiptSubject('subj-a'), canonicalBytes(r1), { msgID: r1.id, expect: { lastSubjectSequence: 0 } });
      await store.js.publish(receiptSubject('subj-b'), canonicalBytes(imposter), { msgID: imposter.id });
      // The chain writer's publish: the server sees no fork on subj-a's subject, and acknowledges it.
      await store.js.publish(receiptSubject('subj-a'), canonicalBytes(r2), { msgID: r2.id, expect: { lastSubjectSequence: 1 } });
      await until('every message looked at', () => ledger.integratedStreamSeq === 3, 20_000);
      expect(await quarantineReasons(store.jsm)).toEqual(['RECEIPT_INVALID receipt of chain subj-a stored on the subject of chain subj-b (seq 2 line 0)']);
      expect(await readIndexEntry(store.resources.index, r2.id)).toMatchObject({ index: 1, seq: 3 });
      expect(await readIndexEntry(store.resources.index, imposter.id)).toBeUndefined();
    } finally {
      await ledger.stop();
    }
  }, 60_000);
});
