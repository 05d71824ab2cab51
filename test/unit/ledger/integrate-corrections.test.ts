/**
 * Corrections in the pure integrate() (SPEC §5): a correction becomes a leaf like any receipt
 * when it names a receipt already a leaf on its own chain, and the corrected receipt's index
 * entry then records `corrected_by`; any other correction is quarantined as CORRECTION_INVALID.
 */
import { describe, expect, it } from 'vitest';
import { integrate, type IntegrationChecks, type IntegrationPlan } from '../../../src/ledger/integrate.js';
import { createNodeSignatureCheck } from '../../../src/crypto/ed25519.js';
import { canonicalBytes } from '../../../src/receipt/jcs.js';
import { toCorrectionDraft } from '../../../src/receipt/correction.js';
import type { Receipt } from '../../../src/receipt/receipt.js';
import type { StoredMessage } from '../../../src/store/receipts.js';
import { chainOf, draftOf, kernelOf, signReceipt } from '../receipt/helpers.js';
import { Crash, MemoryLog, planText, writesOf } from './memory-log.js';

const kernel = kernelOf(7);
const stranger = kernelOf(9);
const checks: IntegrationChecks = { kernelKeys: [kernel.verifierKey], checkSignature: createNodeSignatureCheck() };
const TIME = '2025-01-01T00:59:00.000Z';

const messagesOf = (receipts: readonly Receipt[], firstSeq = 1): StoredMessage[] =>
  receipts.map((r, i) => ({ seq: firstSeq + i, data: canonicalBytes(r) }));

/** The correction of `target`, signed as the receipt after `after` on after's chain. */
function correctionOf(target: Pick<Receipt, 'id' | 'request' | 'subject' | 'policy_hash'>, after: Receipt, signer = kernel): Receipt {
  return signReceipt(toCorrectionDraft(target as Receipt, TIME), { chain: after.chain, seq: after.seq + 1, prev: after.id }, signer);
}

/** The receipt after `after` on its chain. */
const nextOf = (after: Receipt, i = after.seq): Receipt => signReceipt(draftOf(i), { chain: after.chain, seq: after.seq + 1, prev: after.id }, kernel);

async function integrateAll(log: MemoryLog, batch: StoredMessage[]): Promise<IntegrationPlan> {
  const plan = await integrate(log.state, batch, log.reader(), checks);
  log.apply(plan);
  return plan;
}

describe('integrate, when a receipt is a correction', () => {
  describe('of the receipt before it, in the same batch', () => {
    it('makes it a leaf and records corrected_by on the corrected receipt only', async () => {
      const [r1, r2] = chainOf(2, kernel, 'chain-a') as [Receipt, Receipt];
      const c = correctionOf(r2, r2);
      const plan = await integrate(new MemoryLog().state, messagesOf([r1, r2, c]), new MemoryLog().reader(), checks);
      expect(plan.quarantined).toEqual([]);
      expect(plan.leaves.map((l) => l.receipt.id)).toEqual([r1.id, r2.id, c.id]);
      expect(plan.indexEntries).toEqual([
        { id: r1.id, entry: { index: 0, seq: 1 } },
        { id: r2.id, entry: { index: 1, seq: 2, corrected_by: c.id } },
        { id: c.id, entry: { index: 2, seq: 3 } },
      ]);
      expect(plan.chainHeads).toEqual([{ chain: 'chain-a', head: { seq: 3, id: c.id, index: 2 } }]);
    });
  });

  describe.each([
    ['in the open entry bundle', 3, 5],
    ['in a full entry bundle', 3, 260],
    ['at the end of the open entry bundle', 259, 260],
  ])('of a receipt committed earlier on its chain (%s)', (_name, target, length) => {
    it('reads the receipt from the tree, makes the correction a leaf and records corrected_by', async () => {
      const receipts = chainOf(length, kernel, 'chain-a');
      const log = new MemoryLog();
      await integrateAll(log, messagesOf(receipts));
      const c = correctionOf(receipts[target]!, receipts.at(-1)!);
      const plan = await integrateAll(log, messagesOf([c], length + 1));
      expect(plan.quarantined).toEqual([]);
      expect(plan.indexEntries).toEqual([
        { id: c.id, entry: { index: length, seq: length + 1 } },
        { id: receipts[target]!.id, entry: { index: target, seq: target + 1, corrected_by: c.id } },
      ]);
      expect(log.index.get(receipts[target]!.id)).toEqual({ index: target, seq: target + 1, corrected_by: c.id });
    });
  });

  describe('that does not name a receipt integrated earlier on its chain', () => {
    const [a1, a2] = chainOf(2, kernel, 'chain-a') as [Receipt, Receipt];
    const [b1] = chainOf(1, kernel, 'chain-b') as [Receipt];
    const untrusted = signReceipt(draftOf(5), { chain: 'chain-a', seq: 3, prev: a2.id }, stranger);
    const cases: Array<{ name: string; batch: () => Receipt[]; bad: number }> = [
      { name: 'an id no stored receipt has', batch: () => [a1, a2, correctionOf({ ...a2, id: 'ab'.repeat(32) }, a2)], bad: 2 },
      { name: 'a receipt of another chain', batch: () => [b1, a1, a2, correctionOf(b1, a2)], bad: 3 },
      { name: 'a receipt that was quarantined', batch: () => [a1, a2, untrusted, correctionOf(untrusted, a2)], bad: 3 },
      { name: 'a receipt stored after it', batch: () => [a1, correctionOf(a2, a1), a2], bad: 1 },
      { name: 'a receipt already corrected', batch: () => { const c = correctionOf(a2, a2); return [a1, a2, c, correctionOf(a2, c)]; }, bad: 3 },
    ];

    it.each(cases)('quarantines one that names $name as CORRECTION_INVALID', async ({ batch, bad }) => {
      const receipts = batch();
      const plan = await integrate(new MemoryLog().state, messagesOf(receipts), new MemoryLog().reader(), checks);
      expect(plan.quarantined.filter((q) => q.seq === bad + 1)).toEqual([
        { seq: bad + 1, line: 0, data: canonicalBytes(receipts[bad]!), chain: 'chain-a', code: 'CORRECTION_INVALID', reason: expect.any(String) },
      ]);
      expect(plan.leaves.map((l) => l.receipt.id)).not.toContain(receipts[bad]!.id);
      expect(plan.indexEntries.filter((e) => e.entry.corrected_by === receipts[bad]!.id)).toEqual([]);
    });

    it('quarantines a second correction of a receipt corrected in an earlier batch', async () => {
      const c = correctionOf(a2, a2);
      const log = new MemoryLog();
      await integrateAll(log, messagesOf([a1, a2, c]));
      const again = correctionOf(a2, c);
      const plan = await integrateAll(log, messagesOf([again], 4));
      expect(plan.quarantined.map((q) => q.code)).toEqual(['CORRECTION_INVALID']);
      expect(log.index.get(a2.id)).toEqual({ index: 1, seq: 2, corrected_by: c.id });
    });

    it('quarantines a correction that fails a receipt check with that check\'s code', async () => {
      const c = correctionOf(a2, a2, stranger);
      const plan = await integrate(new MemoryLog().state, messagesOf([a1, a2, c]), new MemoryLog().reader(), checks);
      expect(plan.quarantined.map((q) => q.code)).toEqual(['UNTRUSTED_KEY']);
    });
  });

  describe('when a batch with corrections is integrated again after a crash at any write', () => {
    it('plans the same bytes, corrected_by entries included', async () => {
      const receipts = chainOf(6, kernel, 'chain-a');
      const committed = new MemoryLog();
      await integrateAll(committed, messagesOf(receipts.slice(0, 4)));
      // Batch: r5, the correction of r2 (committed), r6 after it, the correction of r6 (in the batch).
      const c2 = correctionOf(receipts[1]!, receipts[3]!);
      const r5 = nextOf(c2);
      const c5 = correctionOf(r5, r5);
      const batch = messagesOf([c2, r5, c5], 5);
      const plan = await integrate(committed.state, batch, committed.reader(), checks);
      expect(plan.quarantined).toEqual([]);
      expect(plan.indexEntries.filter((e) => e.entry.corrected_by).map((e) => [e.id, e.entry.corrected_by])).toEqual([
        [receipts[1]!.id, c2.id],
        [r5.id, c5.id],
      ]);
      for (let budget = 0; budget < writesOf(plan); budget++) {
        const log = committed.clone();
        expect(() => log.apply(plan, budget)).toThrow(Crash);
        const replanned = await integrate(log.state, batch, log.reader(), checks);
        expect(planText(replanned), `after ${budget} writes`).toBe(planText(plan));
      }
    });
  });
});
