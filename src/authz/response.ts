/**
 * Decision + stored receipt → CheckResponse: the one place the header contract of SPEC §2 is
 * written. Statuses are read from the status table (errors/status.ts): a deny is answered with
 * its code's gRPC status and the HTTP status its receipt records. Every header sets
 * append_action OVERWRITE_IF_EXISTS_OR_ADD explicitly, and an allow removes Chio's headers it
 * does not set, so that a client cannot smuggle its own x-chio-* headers past Chio.
 */
import { assert, clientReason, GRPC, statusOf, type ChioErrorCode, type DenialGuard } from '../errors/index.js';
import type { Receipt } from '../receipt/receipt.js';
import type { Decision, PolicyHeader, PolicyResponse } from '../decision/decision.js';
import { OVERWRITE_IF_EXISTS_OR_ADD, type CheckResponse, type HeaderValueOption, type ProtoStruct, type StructValue } from './wire.js';

/** Headers minted for Chio that never reach upstream, whatever the decision says. */
export const HEADERS_TO_REMOVE = ['x-chio-capability-token'];

/** Every header Chio writes on an answer (SPEC §2); which of them an answer sets depends on it. */
const CHIO_ANSWER_HEADERS = ['x-chio-receipt-id', 'x-chio-policy-hash', 'x-chio-verdict', 'x-chio-shadow-verdict', 'x-chio-denial-guard', 'x-chio-denial-reason'];

interface DenyAnswer {
  guard: DenialGuard;
  reason: string;
  grpc: number;
  http: number;
}

/** The answer for a decision whose receipt was stored. */
export function toCheckResponse(decision: Decision, receipt: Receipt): CheckResponse {
  if (decision.verdict === 'allow' || decision.shadow) {
    const headers = allowHeaders(decision, receipt.id);
    // A CEL policy's changes apply to an allow only (never to a shadowed deny); Chio's own come last and win.
    const policy = decision.verdict === 'allow' ? decision.policyResponse : undefined;
    return {
      status: { code: GRPC.OK },
      ok_response: {
        headers: policy ? [...policy.headers.map(policyHeader), ...headers] : headers,
        headers_to_remove: headersToRemoveOnAllow(decision),
        response_headers_to_add: policy ? [...policy.responseHeaders.map(policyHeader), ...headers] : [...headers],
        ...(policy?.queryParametersToSet?.length ? { query_parameters_to_set: policy.queryParametersToSet.map((p) => ({ key: p.key, value: p.value })) } : {}),
        ...(policy?.queryParametersToRemove?.length ? { query_parameters_to_remove: [...policy.queryParametersToRemove] } : {}),
      },
      dynamic_metadata: metadata(decision.verdict, receipt.id, decision.policyHash, decision.verdict === 'deny' ? decision.guard : undefined, policy?.metadata),
    };
  }
  const answer = { guard: decision.guard, reason: decision.reason, grpc: statusOf(decision.code).grpc, http: decision.httpStatus };
  return denied(answer, decision.policyHash, receipt.id, decision.policyResponse);
}

/** Chio's own headers on an allow, to upstream and to the client alike. */
function allowHeaders(decision: Decision, receiptId: string): HeaderValueOption[] {
  const headers = [header('x-chio-receipt-id', receiptId), header('x-chio-policy-hash', decision.policyHash), header('x-chio-verdict', 'allow')];
  if (decision.shadow) headers.push(header('x-chio-shadow-verdict', decision.verdict));
  return headers;
}

/** Chio's own headers an allow does not set, by whether it is shadowed: the one thing that changes which. */
const forgeableOnAllow = new Map<boolean, string[]>();

/**
 * What an allow removes from the request before upstream: the credentials Chio consumed, what
 * an allowing policy asked, and each of Chio's own headers this answer does not set. A client
 * sends any header it likes, so its own x-chio-shadow-verdict or x-chio-denial-reason would
 * reach upstream beside Chio's real ones as if Chio had written it. The headers the answer sets
 * are never named: Envoy applies headers_to_remove after the headers it sets, so naming one
 * would remove Chio's own value.
 */
export function headersToRemoveOnAllow(decision: Decision): string[] {
  const policy = decision.verdict === 'allow' ? decision.policyResponse : undefined;
  let forgeable = forgeableOnAllow.get(decision.shadow);
  if (!forgeable) {
    // Only the names are read: the receipt id does not change which headers are set.
    const set = new Set(allowHeaders(decision, '').map((h) => h.header.key));
    forgeable = CHIO_ANSWER_HEADERS.filter((name) => !set.has(name));
    forgeableOnAllow.set(decision.shadow, forgeable);
  }
  return [...new Set([...HEADERS_TO_REMOVE, ...decision.credentialHeaders, ...(policy?.headersToRemove ?? []), ...forgeable])];
}

/** The answer when the receipt could not be stored in time: deny, guard ReceiptLedger, 503. */
export function toUnstoredResponse(decision: Decision): CheckResponse {
  return denied(denialAnswer('RECEIPT_NOT_STORED', 'receipt was not stored'), decision.policyHash, undefined);
}

/** How the status table answers a Check denied by `code`. */
function denialAnswer(code: ChioErrorCode, message: string): DenyAnswer {
  const { guard, grpc, http } = statusOf(code);
  assert(guard !== undefined, `${code} is not a Check denial`);
  return { guard, reason: clientReason({ code, message }), grpc, http };
}

function denied(answer: DenyAnswer, policyHash: string, receiptId: string | undefined, policy?: PolicyResponse): CheckResponse {
  const { guard, reason } = answer;
  const headers = [
    header('x-chio-verdict', 'deny'),
    header('x-chio-denial-guard', guard),
    header('x-chio-denial-reason', reason),
    ...(receiptId ? [header('x-chio-receipt-id', receiptId)] : []),
  ];
  // A CEL policy's body (envoy.Denied(401).WithBody(…)) replaces Chio's JSON one, with its headers.
  const body = policy?.body || JSON.stringify({ verdict: 'deny', guard, reason, ...(receiptId ? { receipt_id: receiptId } : {}) });
  const ownBody = !policy?.body;
  // Chio's JSON body is typed by Chio alone: Envoy sets each denied header in turn, so a
  // policy's content-type beside it would reach the client as a second one.
  const policyHeaders = (policy?.headers ?? []).filter((h) => !(ownBody && h.key === 'content-type')).map(policyHeader);
  const bodyHeaders = ownBody ? [...policyHeaders, header('content-type', 'application/json')] : policyHeaders;
  return {
    status: { code: answer.grpc, message: reason },
    denied_response: { status: { code: answer.http }, headers: [...headers, ...bodyHeaders], body },
    dynamic_metadata: metadata('deny', receiptId, policyHash, guard, policy?.metadata),
  };
}

/** A policy's header, with its keep_empty_value when it asked for it (KeepEmptyValue()). */
function policyHeader(h: PolicyHeader): HeaderValueOption {
  const option = header(h.key, h.value);
  if (h.keepEmptyValue) option.keep_empty_value = true;
  return option;
}

function header(key: string, value: string): HeaderValueOption {
  // Header values must be printable ASCII: anything else (from a policy name or a reason) becomes '?'.
  return { header: { key, value: value.replace(/[^\x20-\x7e]/g, '?') }, append_action: OVERWRITE_IF_EXISTS_OR_ADD };
}

function metadata(verdict: string, receiptId: string | undefined, policyHash: string, guard: string | undefined, policy?: Record<string, unknown>): ProtoStruct {
  // Member by member, not by conditional spreads: this runs on every Check.
  const fields: ProtoStruct['fields'] = { verdict: { stringValue: verdict }, policy_hash: { stringValue: policyHash } };
  if (receiptId) fields.receipt_id = { stringValue: receiptId };
  if (guard) fields.guard = { stringValue: guard };
  const chio: StructValue = { structValue: { fields } };
  if (!policy) return { fields: { chio } };
  // A policy's metadata sits beside Chio's, never over it. fromEntries, not assignment: a
  // policy's `__proto__` key is a member like any other.
  const extra = Object.entries(policy).filter(([key]) => key !== 'chio').map(([key, value]) => [key, toStructValue(value)] as const);
  return { fields: { ...Object.fromEntries(extra), chio } };
}

/** JSON (a policy's metadata, already bounded) → google.protobuf.Value as proto-loader encodes it. */
function toStructValue(value: unknown): StructValue {
  if (value === null || value === undefined) return { nullValue: 0 };
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'number') return { numberValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (Array.isArray(value)) return { listValue: { values: value.map(toStructValue) } };
  return { structValue: { fields: Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toStructValue(v)])) } };
}
