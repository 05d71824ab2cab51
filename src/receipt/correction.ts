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
