/**
 * Corrections (SPEC §5, "the log never contradicts an answer"). When a receipt R was stored
 * but its Check was answered deny / ReceiptLedger / 503 — its PubAck came after the caller gave
 * up on it, or the publish failed and the chain head read back showed R stored — the chain
 * writer appends a correction as the next receipt on R's chain: a receipt like any other, with
 *
 *   corrects  = R.id
 *   request   = R.request, subject = R.subject, policy_hash = R.policy_hash
 *   decision  = the answer actually given: the status table's row for RECEIPT_NOT_STORED
 *               {"verdict":"deny","guard":"ReceiptLedger","reason":"receipt could not be stored",
 *                "http_status":503,"shadow":false}
 *   evidence  = [{"guard":"ReceiptLedger","verdict":"deny"}]
 *
 * Pure: no clock (the caller stamps `time`), no I/O.
 */
import { assert, statusOf } from '../errors/index.js';
import { canonicalize } from './jcs.js';
import type { Receipt, ReceiptDecision, ReceiptDraft } from './receipt.js';

/** The decision a correction records: how a Check is answered when its receipt was not stored. */
export function correctionDecision(): ReceiptDecision {
  const { guard, http, reason } = statusOf('RECEIPT_NOT_STORED');
  assert(guard !== undefined && reason !== undefined, 'RECEIPT_NOT_STORED is a Check denial with a fixed reason');
  return { verdict: 'deny', guard, reason, http_status: http, shadow: false };
}

/** The draft of the correction of `receipt`, made at `time` (RFC 3339). */
export function toCorrectionDraft(receipt: Receipt, time: string): ReceiptDraft {
  const decision = correctionDecision();
  return {
    time,
    request: receipt.request,
    subject: receipt.subject,
    decision,
    evidence: [{ guard: decision.guard!, verdict: 'deny' }],
    policy_hash: receipt.policy_hash,
    corrects: receipt.id,
  };
}

/**
 * Why `correction` is not what a chain writer makes for `corrected` (toCorrectionDraft), or
 * undefined when it is: the answer a Check gets when its receipt was not stored (deny, guard
 * ReceiptLedger, 503), for the same request, subject and policy. A correction is signed like
 * any receipt, but it changes what an earlier one means; one that recorded an allow, or
 * another Check, would rewrite the answer given. The reason text is not compared, so that
 * its wording may change.
 */
export function correctionMismatch(correction: Pick<Receipt, 'decision' | 'request' | 'subject' | 'policy_hash'>, corrected: Partial<Pick<Receipt, 'request' | 'subject' | 'policy_hash'>>): string | undefined {
  const answer = correctionDecision();
  const d = correction.decision;
  if (d.verdict !== answer.verdict || d.guard !== answer.guard || d.http_status !== answer.http_status || d.shadow !== answer.shadow) {
    return `does not record the answer given when a receipt is not stored (${answer.verdict} ${answer.http_status} ${answer.guard})`;
  }
  const same = (a: unknown, b: unknown) => canonicalize(a ?? null) === canonicalize(b ?? null);
  if (!same(correction.request, corrected.request) || !same(correction.subject, corrected.subject) || correction.policy_hash !== corrected.policy_hash) {
    return 'is not of the Check of the receipt it corrects (request, subject or policy hash differ)';
  }
  return undefined;
}
