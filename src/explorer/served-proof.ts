/**
 * What the explorer page shows for a receipt: every check of src/verify/report.ts run on what
 * the verifier served for `GET /v1/receipts/<id>` (SPEC §7), plus one the report cannot know —
 * that the receipt served is the one asked for. Pure: it runs in the page, against the keys
 * the page was given, so the answer is the browser's own, not the verifier's word.
 *
 * The served JSON carries the proof as fields (index, inclusion_proof, checkpoint); they are
 * put into tlog-proof@v1 text so that the same report code reads them as it reads a posted or
 * downloaded proof. Fields that cannot make such a text fail the `proof.form` check.
 *
 * A receipt the verifier says was corrected (`corrected_by`, not signed) has one more check,
 * `correction`: the correction's own served answer passes every check above, and it corrects
 * this receipt (src/verify/correction.ts, as `chio prove` checks it). Only then is the
 * correction's answer shown as the answer given.
 */
import { ChioError, isChioError, type ChioErrorCode } from '../errors/index.js';
import { RECEIPT_ID_PATTERN, type Receipt } from '../receipt/receipt.js';
import { verifyCorrection } from '../verify/correction.js';
import { reportVerification, type CheckOutcome, type ReceiptCheckName, type VerifyReport } from '../verify/report.js';
import type { ProofTrust } from '../verify/receipt-proof.js';
import { decodeProofHashes } from '../verify/proof-hashes.js';
import { formatTlogProof } from '../verify/tlog-proof.js';

export type ExplorerCheckName = ReceiptCheckName | 'receipt.requested' | 'correction';

export interface ExplorerCheck extends Omit<CheckOutcome, 'check'> {
  check: ExplorerCheckName;
}

export interface ServedProofReport {
  /** True when no check fails. */
  ok: boolean;
  included?: VerifyReport['included'];
  checks: ExplorerCheck[];
}

/** Check a served answer (attacker-controlled JSON) for receipt `requestedId`; never throws for what was served. */
export function reportServedProof(answer: unknown, requestedId: string, trust: ProofTrust): ServedProofReport {
  const served = (typeof answer === 'object' && answer !== null ? answer : {}) as Record<string, unknown>;
  const proof = toProofText(served);
  const report = reportVerification(typeof proof === 'string' ? { receipt: served.receipt, proof } : { receipt: served.receipt }, trust);
  const checks: ExplorerCheck[] = report.checks.filter((c) => c.check !== 'receipt.chain_link');
  if (typeof proof !== 'string') {
    checks.push(
      { check: 'proof.form', status: 'fails', code: proof.code, message: proof.message },
      { check: 'checkpoint.signature', status: 'skipped', message: 'the proof is malformed' },
      { check: 'inclusion', status: 'skipped', message: 'the proof is malformed' },
    );
  }
  checks.push(requestedCheck(served.receipt, requestedId));
  const ok = checks.every((c) => c.status !== 'fails');
  return { ok, ...(report.included ? { included: report.included } : {}), checks };
}

function toProofText(served: Record<string, unknown>): string | { code: ChioErrorCode; message: string } {
  try {
    const { index, checkpoint } = served;
    if (typeof index !== 'number') throw new ChioError('MALFORMED', 'index is not a leaf index');
    if (typeof checkpoint !== 'string') throw new ChioError('MALFORMED', 'checkpoint is not a signed note');
    return formatTlogProof({ index, hashes: decodeProofHashes(served.inclusion_proof, 'inclusion_proof'), checkpoint });
  } catch (err) {
    if (!(err instanceof ChioError)) throw err;
    return { code: err.code, message: err.message };
  }
}

function requestedCheck(receipt: unknown, requestedId: string): ExplorerCheck {
  const id = (receipt as { id?: unknown } | null | undefined)?.id;
  if (id === requestedId) return { check: 'receipt.requested', status: 'holds', message: 'the receipt served is the one asked for' };
  return { check: 'receipt.requested', status: 'fails', code: 'RECEIPT_INVALID', message: 'the receipt served is not the one asked for' };
}

/** What the `correction` check found: the correction, when it holds. */
export interface CorrectionReport {
  check: ExplorerCheck;
  correction?: Receipt;
}

/**
 * Check the correction the verifier named for a receipt: `served` and `report` are the receipt's
 * answer and its report (reportServedProof), `correctionAnswer` the verifier's answer for
 * GET /v1/receipts/<corrected_by> (attacker-controlled JSON). Never throws for what was served.
 */
export function reportServedCorrection(served: unknown, report: ServedProofReport, correctionAnswer: unknown, trust: ProofTrust): CorrectionReport {
  const fails = (code: ChioErrorCode, message: string): CorrectionReport => ({ check: { check: 'correction', status: 'fails', code, message } });
  const s = (typeof served === 'object' && served !== null ? served : {}) as Record<string, unknown>;
  const correctedBy = s.corrected_by;
  if (typeof correctedBy !== 'string' || !RECEIPT_ID_PATTERN.test(correctedBy)) return fails('MALFORMED', 'corrected_by is not a receipt id');
  const correctionReport = reportServedProof(correctionAnswer, correctedBy, trust);
  const failed = correctionReport.checks.find((c) => c.status === 'fails');
  if (failed) return fails(failed.code ?? 'CORRECTION_INVALID', `the correction ${correctedBy} does not verify: ${failed.message}`);
  if (!report.included || !correctionReport.included) return { check: { check: 'correction', status: 'skipped', message: 'this receipt does not verify' } };
  const correction = (correctionAnswer as { receipt: Receipt }).receipt;
  const proven = (receipt: Receipt, at: NonNullable<ServedProofReport['included']>) => ({ receipt, index: at.index, treeSize: at.tree_size, origin: at.origin });
  try {
    verifyCorrection({ ...proven(s.receipt as Receipt, report.included), correctedBy }, proven(correction, correctionReport.included));
  } catch (err) {
    if (!isChioError(err)) throw err;
    return fails(err.code, err.message);
  }
  return { check: { check: 'correction', status: 'holds', message: `receipt ${correctedBy} is signed, included after this one, and corrects it` }, correction };
}

/** The `correction` check when the correction could not be fetched. */
export function unfetchedCorrection(correctedBy: string, why: string): CorrectionReport {
  return { check: { check: 'correction', status: 'fails', code: 'CORRECTION_INVALID', message: `the correction ${correctedBy} could not be read: ${why}` } };
}
