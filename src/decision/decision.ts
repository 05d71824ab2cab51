/**
 * A Decision: what the guards decided about one CheckRequest, in the receipt's terms (SPEC §5:
 * request, subject, decision, evidence, policy_hash), plus one fact the answer needs and a
 * receipt never holds: the request headers that carried a credential Chio consumed.
 *
 * A deny carries the error code it was denied with; its HTTP status is that code's row in the
 * status table (errors/status.ts), the same row the answer reads its gRPC status from, so the
 * receipt and the answer cannot disagree.
 */
import { clientReason, statusOf, type ChioErrorCode, type DenialGuard } from '../errors/index.js';
import type { Evidence, ReceiptDecision, ReceiptDraft, ReceiptRequest, ReceiptSubject } from '../receipt/receipt.js';
import { boundedText } from '../text.js';

/** The HTTP status an allow is recorded with. */
export const HTTP_OK = 200;
/** Reasons longer than this are cut: they travel in headers, receipts and logs. */
export const MAX_REASON_CHARS = 256;

export interface DecisionFacts {
  /** Decided in shadow mode: `verdict` is what would have been answered; the answer is allow. */
  shadow: boolean;
  policyHash: string;
  request: ReceiptRequest;
  subject: ReceiptSubject;
  evidence: Evidence[];
  /** Request headers that carried a credential Chio consumed: never forwarded upstream. */
  credentialHeaders: readonly string[];
  /** What a kyverno-authz CEL policy asked the answer to carry; absent for every other decision. */
  policyResponse?: PolicyResponse;
  /**
   * The instant (ms since the epoch) the credentials' times were judged at: the receipt's
   * `time`. Read later, an allow at the edge of a capability's expiry was recorded after it.
   */
  decidedAt?: number;
}

/**
 * A CEL policy's headers and body (its envoy library response), checked by
 * policy/kyverno-authz/policy-answer. On an allow: `headers` are added to the request upstream,
 * `headersToRemove` removed from it, `responseHeaders` added to the client's response, and the
 * query parameters set on and removed from the request upstream. On a deny: `headers` and
 * `body` are the denied response's.
 */
export interface PolicyResponse {
  headers: ReadonlyArray<PolicyHeader>;
  headersToRemove: readonly string[];
  responseHeaders: ReadonlyArray<PolicyHeader>;
  queryParametersToSet?: ReadonlyArray<{ key: string; value: string }>;
  queryParametersToRemove?: readonly string[];
  body?: string;
  metadata?: Record<string, unknown>;
}

/** A header a policy set; `keepEmptyValue` is HeaderValueOption.keep_empty_value (KeepEmptyValue()). */
export interface PolicyHeader {
  key: string;
  value: string;
  keepEmptyValue?: boolean;
}

export interface Allowed extends DecisionFacts {
  verdict: 'allow';
  httpStatus: typeof HTTP_OK;
}

export interface Denied extends DecisionFacts {
  verdict: 'deny';
  guard: DenialGuard;
  code: ChioErrorCode;
  /** What the client and the receipt are told; never internals (see clientReason). */
  reason: string;
  httpStatus: number;
}

export type Decision = Allowed | Denied;

/** What a guard says when it denies: the code, and the reason a client may read. */
export interface Denial {
  code: ChioErrorCode;
  reason: string;
  /** The HTTP status when a policy chose it (envoy.Denied(401)); else the code's row decides. */
  httpStatus?: number;
}

/** A deny by `code`, telling the client the table's fixed text where `message` could leak internals. */
export function denialOf(code: ChioErrorCode, message: string): Denial {
  return { code, reason: clientReason({ code, message }) };
}

export function allowed(facts: DecisionFacts): Allowed {
  return { verdict: 'allow', httpStatus: HTTP_OK, ...facts };
}

export function denied(guard: DenialGuard, denial: Denial, facts: DecisionFacts): Denied {
  return {
    verdict: 'deny',
    guard,
    code: denial.code,
    reason: boundedText(denial.reason, MAX_REASON_CHARS),
    httpStatus: denial.httpStatus ?? statusOf(denial.code).http,
    ...facts,
  };
}

/** The receipt a decision is recorded as, before the chain and the signer add theirs. */
export function toReceiptDraft(decision: Decision, time: string): ReceiptDraft {
  // One literal per shape, in the receipt's order: conditional spreads cost about ten times as
  // much on every Check (Node 20's V8).
  const { verdict, httpStatus: http_status, shadow } = decision;
  const outcome: ReceiptDecision =
    verdict === 'allow' ? { verdict, http_status, shadow }
    : decision.reason ? { verdict, guard: decision.guard, reason: decision.reason, http_status, shadow }
    : { verdict, guard: decision.guard, http_status, shadow };
  return { time, request: decision.request, subject: decision.subject, decision: outcome, evidence: decision.evidence, policy_hash: decision.policyHash };
}
