/**
 * What the explorer shows for a served GET /v1/receipts/<id> answer: every check holds for a
 * genuine answer, and each kind of damage turns the checks it touches red and no others.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { generateSignerKey } from '../../../src/tlog/index.js';
import { reportServedCorrection, reportServedProof, type ExplorerCheckName, type ServedProofReport } from '../../../src/explorer/served-proof.js';
import { toCorrectionDraft } from '../../../src/receipt/correction.js';
import type { Receipt } from '../../../src/receipt/receipt.js';
import type { ReceiptProof } from '../../../src/verify/receipt-proof.js';
import { chainOf, kernelOf, signReceipt } from '../receipt/helpers.js';
import { receiptProofOf } from '../verify/proofs.js';

const LOG = generateSignerKey('chio.local/receipts', () => new Uint8Array(32).fill(81));
const OTHER_LOG = generateSignerKey('chio.local/receipts', () => new Uint8Array(32).fill(82));
const KERNEL = kernelOf(83);
const TRUST = { logKey: LOG.verifierKey, kernelKeys: [KERNEL.verifierKey] };
const RECEIPTS = chainOf(6, KERNEL);
const ID = RECEIPTS[3]!.id;

const statuses = (report: ServedProofReport) => Object.fromEntries(report.checks.map((c) => [c.check, c.code ?? c.status])) as Partial<Record<ExplorerCheckName, string>>;
const ALL_HOLD = {
  'receipt.form': 'holds', 'receipt.id': 'holds', 'receipt.kernel_key': 'holds', 'receipt.signature': 'holds', 'receipt.chain': 'holds',
  'receipt.requested': 'holds', 'proof.form': 'holds', 'checkpoint.signature': 'holds', inclusion: 'holds',
};

describe('reportServedProof', () => {
  let served: ReceiptProof;
  beforeAll(async () => {
    served = await receiptProofOf(RECEIPTS, 3, LOG.signerKey);
  });
  const damaged = (change: (copy: ReceiptProof) => void): ServedProofReport => {
    const copy = structuredClone(served);
    change(copy);
    return reportServedProof(copy, ID, TRUST);
  };

  describe('when the answer is genuine', () => {
    it('reports every check as holding and where the leaf is', () => {
      const report = reportServedProof(served, ID, TRUST);
      expect(statuses(report)).toEqual(ALL_HOLD);
      expect(report).toMatchObject({ ok: true, included: { index: 3, tree_size: 6, origin: 'chio.local/receipts' } });
    });
  });

  describe('when the answer is damaged', () => {
    it('fails inclusion alone when a proof hash is changed', () => {
      const report = damaged((p) => (p.inclusion_proof[0] = p.inclusion_proof[1]!));
      expect(report.ok).toBe(false);
      expect(statuses(report)).toEqual({ ...ALL_HOLD, inclusion: 'PROOF_INVALID' });
    });

    it('fails inclusion when the index is moved', () => {
      expect(statuses(damaged((p) => (p.index = 2))).inclusion).toBe('PROOF_INVALID');
    });

    it('fails the id and the signature, and inclusion, when the verdict is changed', () => {
      const report = damaged((p) => (p.receipt.decision.verdict = 'deny'));
      expect(statuses(report)).toMatchObject({ 'receipt.id': 'RECEIPT_INVALID', 'receipt.signature': 'SIGNATURE_INVALID', inclusion: 'PROOF_INVALID', 'checkpoint.signature': 'holds' });
    });

    it('fails the checkpoint signature when another log key signed it, and skips inclusion', async () => {
      const other = await receiptProofOf(RECEIPTS, 3, OTHER_LOG.signerKey);
      expect(statuses(reportServedProof(other, ID, TRUST))).toMatchObject({ 'checkpoint.signature': 'UNTRUSTED_KEY', inclusion: 'skipped', 'receipt.signature': 'holds' });
    });

    it('fails "the receipt asked for" when another genuine receipt is served', async () => {
      const report = reportServedProof(await receiptProofOf(RECEIPTS, 4, LOG.signerKey), ID, TRUST);
      expect(statuses(report)).toEqual({ ...ALL_HOLD, 'receipt.requested': 'RECEIPT_INVALID' });
    });

    it.each([
      ['a hash is not base64', (p: ReceiptProof) => (p.inclusion_proof[0] = 'not base64!')],
      ['the proof is not a list', (p: ReceiptProof) => ((p as unknown as Record<string, unknown>).inclusion_proof = 'x')],
      ['the index is a string', (p: ReceiptProof) => ((p as unknown as Record<string, unknown>).index = '3')],
      ['the checkpoint is missing', (p: ReceiptProof) => delete (p as Partial<ReceiptProof>).checkpoint],
    ])('fails the proof form, skipping checkpoint and inclusion, when %s', (_, change) => {
      const report = damaged(change);
      expect(statuses(report)).toMatchObject({ 'proof.form': 'MALFORMED', 'checkpoint.signature': 'skipped', inclusion: 'skipped', 'receipt.signature': 'holds' });
      expect(report.ok).toBe(false);
    });

    it.each([null, 'text', 42, [], {}])('reports, without throwing, an answer that is %j', (answer) => {
      const report = reportServedProof(answer, ID, TRUST);
      expect(report.ok).toBe(false);
      expect(report.checks.find((c) => c.check === 'receipt.form')?.status).toBe('fails');
      expect(statuses(report)).toMatchObject({ 'receipt.requested': 'RECEIPT_INVALID', 'proof.form': 'MALFORMED' });
    });
  });
});

describe('reportServedCorrection', () => {
  // Receipts 0…3 of a chain, then the correction of receipt 3, next on that chain.
  const chain = chainOf(4, KERNEL);
  const corrected = chain[3]!;
  const correction = signReceipt(toCorrectionDraft(corrected, '2025-01-01T00:01:00.000Z'), { chain: corrected.chain, seq: 5, prev: corrected.id }, KERNEL);
  const log: Receipt[] = [...chain, correction];
  let served: ReceiptProof & { corrected_by?: string };
  let correctionServed: ReceiptProof;
  beforeAll(async () => {
    served = { ...(await receiptProofOf(log, 3, LOG.signerKey)), corrected_by: correction.id };
    correctionServed = await receiptProofOf(log, 4, LOG.signerKey);
  });
  const reportOf = (receiptAnswer: unknown, correctionAnswer: unknown) =>
    reportServedCorrection(receiptAnswer, reportServedProof(receiptAnswer, corrected.id, TRUST), correctionAnswer, TRUST);

  it('holds, with the correction, when the named correction verifies and corrects the receipt', () => {
    const report = reportOf(served, correctionServed);
    expect(report.check).toMatchObject({ check: 'correction', status: 'holds' });
    expect(report.correction).toEqual(correction);
  });

  it('fails, with no correction, when the correction served does not verify', () => {
    const damaged = structuredClone(correctionServed);
    damaged.receipt.decision.verdict = 'allow';
    const report = reportOf(served, damaged);
    expect(report.check).toMatchObject({ status: 'fails', code: 'RECEIPT_INVALID' });
    expect(report.correction).toBeUndefined();
  });

  it('fails when the verifier names a genuine receipt that corrects nothing', async () => {
    const other = await receiptProofOf(log, 2, LOG.signerKey);
    const report = reportOf({ ...served, corrected_by: log[2]!.id }, other);
    expect(report.check).toMatchObject({ status: 'fails', code: 'CORRECTION_INVALID' });
    expect(report.correction).toBeUndefined();
  });

  it('fails when corrected_by is not a receipt id', () => {
    expect(reportOf({ ...served, corrected_by: 'x' }, correctionServed).check).toMatchObject({ status: 'fails', code: 'MALFORMED' });
  });

  it('is skipped, with no correction, when the receipt itself does not verify', () => {
    const damaged = structuredClone(served);
    damaged.inclusion_proof[0] = damaged.inclusion_proof[1]!;
    const report = reportOf(damaged, correctionServed);
    expect(report.check.status).toBe('skipped');
    expect(report.correction).toBeUndefined();
  });
});
