/**
 * The pure integrate() against what a compromised or buggy publisher of the receipts stream can
 * store: receipts signed by a trusted kernel key that no honest writer would store so.
 */
import { describe, expect, it } from 'vitest';
import { integrate, type IntegrationChecks } from '../../../src/ledger/integrate.js';
import { createNodeSignatureCheck } from '../../../src/crypto/ed25519.js';
import { canonicalBytes } from '../../../src/receipt/jcs.js';
import { toCorrectionDraft } from '../../../src/receipt/correction.js';
import type { Receipt } from '../../../src/receipt/receipt.js';
import type { StoredMessage } from '../../../src/store/receipts.js';
import { joinReceiptMessage } from '../../../src/store/receipt-message.js';
import { chainOf, draftOf, kernelOf, signReceipt } from '../receipt/helpers.js';
import { MemoryLog } from './memory-log.js';

const kernel = kernelOf(7);
const checks: IntegrationChecks = { kernelKeys: [kernel.verifierKey], checkSignature: createNodeSignatureCheck() };
const TIME = '2025-01-01T00:59:00.000Z';

/** One message per receipt, each on the subject of its own chain unless `subjectChain` says otherwise. */
const stored = (r: Receipt, seq: number, subjectChain = r.chain): StoredMessage => ({ seq, subjectChain, data: canonicalBytes(r) });

describe('integrate, against a hostile receipts stream', () => {
  describe('a receipt stored on another chain\'s subject', () => {
    it('is quarantined, so that it cannot take the place of its chain\'s own next receipt, which the server let through as no fork', async () => {
      const [r1, r2] = chainOf(2, kernel, 'chain-a') as [Receipt, Receipt];
      // Signed as chain-a's seq 2, but published on chain-b's subject: the server's
      // Nats-Expected-Last-Subject-Sequence on chain-a's subject never saw it.
      const imposter = signReceipt(draftOf(99), { chain: 'chain-a', seq: 2, prev: r1.id }, kernel);
      const batch = [stored(r1, 1), stored(imposter, 2, 'chain-b'), stored(r2, 3)];
      const plan = await integrate(new MemoryLog().state, batch, new MemoryLog().reader(), checks);
      expect(plan.quarantined).toEqual([{ seq: 2, line: 0, data: batch[1]!.data, chain: 'chain-a', code: 'RECEIPT_INVALID', reason: 'receipt of chain chain-a stored on the subject of chain chain-b' }]);
      expect(plan.leaves.map((l) => l.receipt.id)).toEqual([r1.id, r2.id]);
    });

    it('is quarantined alone when it is one line of a message of its chain\'s subject', async () => {
      const [a1] = chainOf(1, kernel, 'chain-a') as [Receipt];
      const [b1] = chainOf(1, kernel, 'chain-b') as [Receipt];
      const data = joinReceiptMessage([canonicalBytes(a1), canonicalBytes(b1)]);
      const plan = await integrate(new MemoryLog().state, [{ seq: 1, subjectChain: 'chain-a', data }], new MemoryLog().reader(), checks);
      expect(plan.quarantined.map((q) => [q.line, q.chain, q.code])).toEqual([[1, 'chain-b', 'RECEIPT_INVALID']]);
      expect(plan.leaves.map((l) => l.receipt.id)).toEqual([a1.id]);
    });
  });

  describe('a correction of a correction', () => {
    it('is quarantined as CORRECTION_INVALID: a correction answered no Check, so there is no answer to correct', async () => {
      const [r1] = chainOf(1, kernel, 'chain-a') as [Receipt];
      const c1 = signReceipt(toCorrectionDraft(r1, TIME), { chain: 'chain-a', seq: 2, prev: r1.id }, kernel);
      const c2 = signReceipt(toCorrectionDraft(c1, TIME), { chain: 'chain-a', seq: 3, prev: c1.id }, kernel);
      // In the same batch, and with the correction already committed.
      const plan = await integrate(new MemoryLog().state, [stored(r1, 1), stored(c1, 2), stored(c2, 3)], new MemoryLog().reader(), checks);
      expect(plan.quarantined.map((q) => [q.seq, q.code])).toEqual([[3, 'CORRECTION_INVALID']]);
      expect(plan.leaves.map((l) => l.receipt.id)).toEqual([r1.id, c1.id]);

      const log = new MemoryLog();
      log.apply(await integrate(log.state, [stored(r1, 1), stored(c1, 2)], log.reader(), checks));
      const later = await integrate(log.state, [stored(c2, 3)], log.reader(), checks);
      expect(later.quarantined.map((q) => [q.seq, q.code, q.reason])).toEqual([[3, 'CORRECTION_INVALID', expect.stringMatching(/itself a correction/)]]);
      expect(later.leaves).toEqual([]);
    });
  });

  describe('a correction that rewrites the answer', () => {
    // Signed like any receipt, a correction changes what an earlier one means: one that said
    // allow, or named another Check, would make the log say an answer was given that was not.
    const [r1] = chainOf(1, kernel, 'chain-a') as [Receipt];
    const draft = toCorrectionDraft(r1, TIME);
    it.each([
      ['an allow', { ...draft, decision: { ...draft.decision, verdict: 'allow' as const, http_status: 200 } }, /does not record the answer given when a receipt is not stored/],
      ['another Check', { ...draft, request: { ...draft.request, path: '/other' } }, /is not of the Check of the receipt it corrects/],
      ['another policy', { ...draft, policy_hash: `sha256:${'0'.repeat(64)}` }, /is not of the Check/],
    ])('is quarantined as CORRECTION_INVALID when it records %s, in its batch or later', async (_what, forged, reason) => {
      const c1 = signReceipt(forged, { chain: 'chain-a', seq: 2, prev: r1.id }, kernel);
      const plan = await integrate(new MemoryLog().state, [stored(r1, 1), stored(c1, 2)], new MemoryLog().reader(), checks);
      expect(plan.quarantined.map((q) => [q.seq, q.code, q.reason])).toEqual([[2, 'CORRECTION_INVALID', expect.stringMatching(reason)]]);
      const log = new MemoryLog();
      log.apply(await integrate(log.state, [stored(r1, 1)], log.reader(), checks));
      const later = await integrate(log.state, [stored(c1, 2)], log.reader(), checks);
      expect(later.quarantined.map((q) => [q.seq, q.code, q.reason])).toEqual([[2, 'CORRECTION_INVALID', expect.stringMatching(reason)]]);
    });

    it('is integrated when it is what the chain writer makes', async () => {
      const c1 = signReceipt(draft, { chain: 'chain-a', seq: 2, prev: r1.id }, kernel);
      const plan = await integrate(new MemoryLog().state, [stored(r1, 1), stored(c1, 2)], new MemoryLog().reader(), checks);
      expect(plan.quarantined).toEqual([]);
      expect(plan.leaves.map((l) => l.receipt.id)).toEqual([r1.id, c1.id]);
    });
  });
});
