import { beforeAll, describe, expect, it } from 'vitest';
import { toCorrectionDraft } from '../../../src/receipt/correction.js';
import type { Receipt } from '../../../src/receipt/receipt.js';
import { generateSignerKey } from '../../../src/tlog/index.js';
import { verifyCorrection } from '../../../src/verify/correction.js';
import { verifyReceiptProof, type ProvenReceipt } from '../../../src/verify/receipt-proof.js';
import { chainOf, expectCode, kernelOf, signReceipt } from '../receipt/helpers.js';
import { receiptProofOf } from './proofs.js';

const LOG = generateSignerKey('chio.local/receipts', () => new Uint8Array(32).fill(31));
const KERNEL = kernelOf(32);
const TRUST = { logKey: LOG.verifierKey, kernelKeys: [KERNEL.verifierKey] };
const TIME = '2025-01-01T00:59:00.000Z';

// chain-a: a1 a2 c(a2); chain-b: b1 — a log of all five, in this order.
const [a1, a2] = chainOf(2, KERNEL, 'chain-a') as [Receipt, Receipt];
const correction = signReceipt(toCorrectionDraft(a2, TIME), { chain: 'chain-a', seq: 3, prev: a2.id }, KERNEL);
const [b1] = chainOf(1, KERNEL, 'chain-b') as [Receipt];
const LOGGED = [a1, a2, correction, b1];

/** The verifier's answer for `receipt`, verified, saying `correctedBy`. */
async function proven(receipt: Receipt, correctedBy?: string): Promise<ProvenReceipt> {
  const proof = await receiptProofOf(LOGGED, LOGGED.indexOf(receipt), LOG.signerKey);
  return verifyReceiptProof({ ...proof, ...(correctedBy ? { corrected_by: correctedBy } : {}) }, TRUST, receipt.id);
}

describe('verifyCorrection', () => {
  let corrected: ProvenReceipt;
  let fix: ProvenReceipt;
  beforeAll(async () => {
    corrected = await proven(a2, correction.id);
    fix = await proven(correction);
  });

  describe('when the correction names the receipt, on its chain, after it', () => {
    it('holds', () => {
      expect(() => verifyCorrection(corrected, fix)).not.toThrow();
    });
  });

  describe('when it does not', () => {
    it('throws CORRECTION_INVALID for a receipt the verifier did not name', async () => {
      const named = await proven(a2, 'ee'.repeat(32));
      expectCode(() => verifyCorrection(named, fix), 'CORRECTION_INVALID');
    });

    it('throws CORRECTION_INVALID for a correction of another receipt', async () => {
      const other = await proven(a1, correction.id);
      expectCode(() => verifyCorrection(other, fix), 'CORRECTION_INVALID');
    });

    it('throws CORRECTION_INVALID for a receipt that corrects nothing', async () => {
      const [named, plain] = [await proven(a2, b1.id), await proven(b1)];
      expectCode(() => verifyCorrection(named, plain), 'CORRECTION_INVALID');
    });

    it('throws CORRECTION_INVALID when the two are swapped', () => {
      expectCode(() => verifyCorrection(fix, corrected), 'CORRECTION_INVALID');
    });

    it('throws CORRECTION_INVALID for a correction that records another answer, or another Check', () => {
      const allow = { ...fix.receipt.decision, verdict: 'allow' as const, http_status: 200 };
      expect(() => verifyCorrection(corrected, { ...fix, receipt: { ...fix.receipt, decision: allow } })).toThrow(/does not record the answer given when a receipt is not stored/);
      expect(() => verifyCorrection(corrected, { ...fix, receipt: { ...fix.receipt, request: { ...fix.receipt.request, path: '/elsewhere' } } })).toThrow(/is not of the Check of the receipt it corrects/);
      expect(() => verifyCorrection(corrected, { ...fix, receipt: { ...fix.receipt, policy_hash: `sha256:${'0'.repeat(64)}` } })).toThrow(/is not of the Check/);
    });

    it('throws CORRECTION_INVALID for a correction on another chain or before the receipt', () => {
      expectCode(() => verifyCorrection(corrected, { ...fix, receipt: { ...fix.receipt, chain: 'chain-b' } }), 'CORRECTION_INVALID');
      expectCode(() => verifyCorrection(corrected, { ...fix, receipt: { ...fix.receipt, seq: 2 } }), 'CORRECTION_INVALID');
      expectCode(() => verifyCorrection(corrected, { ...fix, index: 1 }), 'CORRECTION_INVALID');
    });
  });
});
