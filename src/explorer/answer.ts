/**
 * The answer a Check was given, as the explorer says it (SPEC §2, §5): a receipt records what
 * was decided, which is not always what was answered.
 *
 * - Shadow mode (`decision.shadow`): the receipt records the would-be verdict; the Check was
 *   answered allow (src/authz/response.ts).
 * - A corrected receipt: stored, but its Check was answered deny 503 (ReceiptLedger); the
 *   answer given is its correction's, and only once that correction verifies.
 *
 * Pure and DOM-free: the chart (decisions.ts) and the receipt view (page.ts) read it.
 */
import { answeredVerdict as answerOf, type Verdict } from '../receipt/receipt.js';

export type AnsweredVerdict = Verdict;

/** A receipt's `decision`, as served (attacker-controlled: any member may be missing or wrong). */
export interface ServedDecision {
  verdict?: unknown;
  http_status?: unknown;
  guard?: unknown;
  shadow?: unknown;
}

/** The answer a receipt's own decision gave: allow in shadow mode, else its verdict; undefined when it has none. */
export function answeredVerdict(d: ServedDecision | null | undefined): AnsweredVerdict | undefined {
  const verdict = d?.verdict;
  if (verdict !== 'allow' && verdict !== 'deny') return undefined;
  return answerOf({ verdict, shadow: d!.shadow === true });
}

/** A decision as one phrase, as `chio prove` writes an answer: `allow`, `deny 401 by Policy`. */
export function describeDecision(d: ServedDecision | null | undefined): string {
  const verdict = typeof d?.verdict === 'string' ? d.verdict : '(no verdict)';
  if (verdict === 'allow') return 'allow';
  const status = typeof d?.http_status === 'number' ? ` ${d.http_status}` : '';
  const guard = typeof d?.guard === 'string' && d.guard !== '' ? ` by ${d.guard}` : '';
  return `${verdict}${status}${guard}`;
}
