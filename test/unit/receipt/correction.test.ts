import { describe, expect, it } from 'vitest';
import { statusOf } from '../../../src/errors/index.js';
import { receiptBytes } from '../../../src/receipt/receipt.js';
import { correctionDecision, toCorrectionDraft } from '../../../src/receipt/correction.js';
import { verifyReceiptBytes } from '../../../src/receipt/verify.js';
import { chainOf, draftOf, kernelOf, signReceipt } from './helpers.js';

const KERNEL = kernelOf(7);
const [, R2] = chainOf(2, KERNEL, 'chain-c');
const TIME = '2025-01-01T00:01:00.000Z';

describe('correctionDecision', () => {
  it("is the status table's answer for RECEIPT_NOT_STORED: deny, ReceiptLedger, its reason, 503, not shadow", () => {
    const row = statusOf('RECEIPT_NOT_STORED');
    expect(correctionDecision()).toEqual({ verdict: 'deny', guard: row.guard, reason: row.reason, http_status: row.http, shadow: false });
    expect(correctionDecision()).toEqual({ verdict: 'deny', guard: 'ReceiptLedger', reason: 'receipt could not be stored', http_status: 503, shadow: false });
  });
});

describe('toCorrectionDraft', () => {
  describe('when the corrected receipt is an allow', () => {
    it('names it, keeps its request, subject and policy hash, and records the answer given', () => {
      expect(toCorrectionDraft(R2!, TIME)).toEqual({
        time: TIME,
        request: R2!.request,
        subject: R2!.subject,
        decision: correctionDecision(),
        evidence: [{ guard: 'ReceiptLedger', verdict: 'deny' }],
        policy_hash: R2!.policy_hash,
        corrects: R2!.id,
      });
    });
  });

  describe('when the corrected receipt is a shadow deny', () => {
    it('records the answer actually given, which was not shadow', () => {
      const shadow = signReceipt(draftOf(5, { decision: { verdict: 'deny', guard: 'Policy', reason: 'no', http_status: 403, shadow: true } }), { chain: 'chain-c', seq: 3, prev: R2!.id }, KERNEL);
      expect(toCorrectionDraft(shadow, TIME).decision).toEqual(correctionDecision());
    });
  });

  describe('when signed as the next receipt of the chain', () => {
    it('is a receipt that verifies on its own with the kernel key, corrects included', () => {
      const correction = signReceipt(toCorrectionDraft(R2!, TIME), { chain: 'chain-c', seq: 3, prev: R2!.id }, KERNEL);
      expect(verifyReceiptBytes(receiptBytes(correction), [KERNEL.verifierKey])).toEqual(correction);
      expect(new TextDecoder().decode(receiptBytes(correction))).toContain(`"corrects":"${R2!.id}"`);
    });
  });
});
