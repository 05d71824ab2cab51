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
import { sha256 } from '@noble/hashes/sha2.js';
import { assert, statusOf } from '../errors/index.js';
import { toHex, utf8 } from '../encoding.js';
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
  return correctionAnswerMismatch(correction) ?? (checkOf(correction) !== checkOf(corrected) ? OTHER_CHECK : undefined);
}

const OTHER_CHECK = 'is not of the Check of the receipt it corrects (request, subject or policy hash differ)';

/** Why `correction` does not record the answer given when a receipt is not stored; undefined when it does. */
export function correctionAnswerMismatch(correction: Pick<Receipt, 'decision'>): string | undefined {
  const answer = correctionDecision();
  const d = correction.decision;
  if (d.verdict !== answer.verdict || d.guard !== answer.guard || d.http_status !== answer.http_status || d.shadow !== answer.shadow) {
    return `does not record the answer given when a receipt is not stored (${answer.verdict} ${answer.http_status} ${answer.guard})`;
  }
  return undefined;
}

/**
 * The Check a receipt is of: SHA-256 of the JCS form of [request, subject, policy_hash]. A
 * correction is of its corrected receipt's Check; a digest, so that a verifier can keep it for
 * every receipt a later one may correct without keeping their requests.
 */
export function checkOf(receipt: Partial<Pick<Receipt, 'request' | 'subject' | 'policy_hash'>>): string {
  return toHex(sha256(utf8(canonicalize([receipt.request ?? null, receipt.subject ?? null, receipt.policy_hash ?? null]))));
}

/** What the rule for a correction (correctionTargetMismatch) reads of the receipt it names. */
export interface CorrectionTarget {
  id: string;
  chain: string;
  /** Set when the target is itself a correction. */
  corrects?: string | undefined;
  /** checkOf(the target). */
  check: string;
  /** The correction already recorded for the target, if any. */
  corrected_by?: string | undefined;
}

/**
 * The rule for a correction and the earlier leaf it names (SPEC §5), the ledger's
 * (ledger/correction-link.ts) and a bundle's verifier's (verify/export-bundle.ts) alike: why
 * `correction` may not correct `target`, or undefined when it may. The target is on the
 * correction's chain, is no correction itself (a correction answered no Check, so it has no
 * answer to correct, and no writer makes one: accepted, the log would say the correction itself
 * was answered deny 503), the correction records the answer given when a receipt is not stored
 * for the target's Check, and the target has no other correction.
 */
export function correctionTargetMismatch(correction: Pick<Receipt, 'id' | 'chain' | 'decision' | 'request' | 'subject' | 'policy_hash'>, target: CorrectionTarget): string | undefined {
  if (target.chain !== correction.chain) return `corrects a receipt of chain ${target.chain}`;
  if (target.corrects !== undefined) return `corrects ${target.id.slice(0, 12)}…, which is itself a correction`;
  const answer = correctionAnswerMismatch(correction);
  if (answer !== undefined) return answer;
  if (checkOf(correction) !== target.check) return OTHER_CHECK;
  // The same correction named again is no second one (a crash may have left its link written).
  if (target.corrected_by !== undefined && target.corrected_by !== correction.id) return `corrects a receipt already corrected by ${target.corrected_by.slice(0, 12)}…`;
  return undefined;
}
