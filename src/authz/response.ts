/**
 * Decision (+ stored receipt) → CheckResponse: the one place the header contract of SPEC §2 is
 * written. Every header sets append_action OVERWRITE_IF_EXISTS_OR_ADD explicitly, so that a
 * client cannot smuggle its own x-chio-* headers past Chio.
 */
import type { Receipt } from '../receipt/receipt.js';
import type { Decision } from '../decision/pipeline.js';
import { OVERWRITE_IF_EXISTS_OR_ADD, type CheckResponse, type HeaderValueOption, type ProtoStruct } from './wire.js';

/** google.rpc.Code values used at the wire. */
export const GRPC_OK = 0;
export const GRPC_PERMISSION_DENIED = 7;
export const GRPC_UNAUTHENTICATED = 16;

/** Headers minted for Chio that never reach upstream, whatever the decision says. */
export const HEADERS_TO_REMOVE = ['x-chio-capability-token'];

/** The HTTP status a decision is answered with (and recorded as, in the receipt). */
export function httpStatusOf(decision: Decision): number {
  if (decision.verdict === 'allow') return 200;
  return decision.denyKind === 'unauthenticated' ? 401 : 403;
}

/** The answer for a decision whose receipt was stored. */
export function toCheckResponse(decision: Decision, receipt: Receipt): CheckResponse {
  const answerAllow = decision.verdict === 'allow' || decision.shadow;
  if (answerAllow) {
    const headers = [
      header('x-chio-receipt-id', receipt.id),
      header('x-chio-policy-hash', decision.policyHash),
      header('x-chio-verdict', 'allow'),
      ...(decision.shadow ? [header('x-chio-shadow-verdict', decision.verdict)] : []),
    ];
    return {
      status: { code: GRPC_OK },
      ok_response: { headers, headers_to_remove: [...new Set([...HEADERS_TO_REMOVE, ...(decision.removeHeaders ?? [])])], response_headers_to_add: headers },
      dynamic_metadata: metadata(decision.verdict, receipt.id, decision.policyHash, decision.guard),
    };
  }
  return denied(decision.guard ?? 'Internal', decision.reason ?? 'denied', httpStatusOf(decision), decision.policyHash, receipt.id);
}

/** The answer when the receipt could not be stored in time: deny, guard ReceiptLedger, 503. */
export function toUnstoredResponse(decision: Decision): CheckResponse {
  return denied('ReceiptLedger', 'receipt could not be stored', 503, decision.policyHash, undefined);
}

function denied(guard: string, reason: string, httpStatus: number, policyHash: string, receiptId: string | undefined): CheckResponse {
  const headers = [
    header('x-chio-verdict', 'deny'),
    header('x-chio-denial-guard', guard),
    header('x-chio-denial-reason', reason),
    ...(receiptId ? [header('x-chio-receipt-id', receiptId)] : []),
  ];
  const body = JSON.stringify({ verdict: 'deny', guard, reason, ...(receiptId ? { receipt_id: receiptId } : {}) });
  return {
    status: { code: httpStatus === 401 ? GRPC_UNAUTHENTICATED : GRPC_PERMISSION_DENIED, message: reason },
    denied_response: { status: { code: httpStatus }, headers: [...headers, header('content-type', 'application/json')], body },
    dynamic_metadata: metadata('deny', receiptId, policyHash, guard),
  };
}

function header(key: string, value: string): HeaderValueOption {
  // Header values must be printable ASCII: anything else (from a policy name or a reason) becomes '?'.
  return { header: { key, value: value.replace(/[^\x20-\x7e]/g, '?') }, append_action: OVERWRITE_IF_EXISTS_OR_ADD };
}

function metadata(verdict: string, receiptId: string | undefined, policyHash: string, guard: string | undefined): ProtoStruct {
  const fields: ProtoStruct['fields'] = {
    verdict: { stringValue: verdict },
    policy_hash: { stringValue: policyHash },
    ...(receiptId ? { receipt_id: { stringValue: receiptId } } : {}),
    ...(guard ? { guard: { stringValue: guard } } : {}),
  };
  return { fields: { chio: { structValue: { fields } } } };
}
