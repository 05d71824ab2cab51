/**
 * What the explorer page shows for a receipt: every check of src/verify/report.ts run on what
 * the verifier served for `GET /v1/receipts/<id>` (SPEC §7), plus one the report cannot know —
 * that the receipt served is the one asked for. Pure: it runs in the page, against the keys
 * the page was given, so the answer is the browser's own, not the verifier's word.
 *
 * The served JSON carries the proof as fields (index, inclusion_proof, checkpoint); they are
 * put into tlog-proof@v1 text so that the same report code reads them as it reads a posted or
 * downloaded proof. Fields that cannot make such a text fail the `proof.form` check.
 */
import { ChioError, type ChioErrorCode } from '../errors/index.js';
import { reportVerification, type CheckOutcome, type ReceiptCheckName, type VerifyReport } from '../verify/report.js';
import type { ProofTrust } from '../verify/receipt-proof.js';
import { decodeProofHashes } from '../verify/proof-hashes.js';
import { formatTlogProof } from '../verify/tlog-proof.js';

export type ExplorerCheckName = ReceiptCheckName | 'receipt.requested';

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
