/**
 * The one table from an error code to what the wire says (STYLE §6): the google.rpc.Code a
 * Check answer or gRPC call carries, the HTTP status (a Check's denied_response, or an HTTP
 * API answer), the guard a Check denial names, the CLI's exit code, and — where the message a
 * code is thrown with may carry internals — the fixed reason a client is told instead.
 *
 * Where `reason` is absent the message is written for the client on purpose (Envoy's JWT
 * reasons, which part of a request is malformed, a policy's own message) and is sent as is.
 */
import type { ChioErrorCode } from './index.js';

/** google.rpc.Code values Chio answers with. */
export const GRPC = {
  OK: 0,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  RESOURCE_EXHAUSTED: 8,
  PERMISSION_DENIED: 7,
  FAILED_PRECONDITION: 9,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** The guards a Check denial can name (SPEC §2), in pipeline order. */
export type DenialGuard = 'Request' | 'Capability' | 'Jwt' | 'Policy' | 'ReceiptLedger' | 'Internal';

export interface WireStatus {
  grpc: number;
  http: number;
  /** The guard that denies a Check with this code; absent for codes that are not Check denials. */
  guard?: DenialGuard;
  /** CLI exit code: 1 failure, 2 bad configuration or arguments, 3 something did not verify. */
  exit: 1 | 2 | 3;
  /** What a client is told, when the message may carry internals. */
  reason?: string;
}

const unauthenticated = (guard: DenialGuard, reason?: string): WireStatus => ({ grpc: GRPC.UNAUTHENTICATED, http: 401, guard, exit: 1, ...(reason ? { reason } : {}) });
const forbidden = (guard: DenialGuard, reason?: string): WireStatus => ({ grpc: GRPC.PERMISSION_DENIED, http: 403, guard, exit: 1, ...(reason ? { reason } : {}) });
const notVerified = (grpc: number, http: number): WireStatus => ({ grpc, http, exit: 3 });

export const STATUS: Readonly<Record<ChioErrorCode, WireStatus>> = {
  MALFORMED: { grpc: GRPC.INVALID_ARGUMENT, http: 400, exit: 1 },
  JCS_UNSUPPORTED: { grpc: GRPC.INVALID_ARGUMENT, http: 400, exit: 1 },
  KEY_INVALID: { grpc: GRPC.INVALID_ARGUMENT, http: 400, exit: 2 },
  SIGNATURE_INVALID: notVerified(GRPC.INVALID_ARGUMENT, 422),
  UNTRUSTED_KEY: notVerified(GRPC.INVALID_ARGUMENT, 422),
  PROOF_INVALID: notVerified(GRPC.INVALID_ARGUMENT, 422),
  TREE_INCONSISTENT: notVerified(GRPC.FAILED_PRECONDITION, 409),
  NOTE_INVALID: notVerified(GRPC.INVALID_ARGUMENT, 422),
  RECEIPT_INVALID: notVerified(GRPC.INVALID_ARGUMENT, 422),
  CHAIN_BROKEN: notVerified(GRPC.INVALID_ARGUMENT, 422),
  CORRECTION_INVALID: notVerified(GRPC.INVALID_ARGUMENT, 422),
  BUNDLE_INVALID: notVerified(GRPC.INVALID_ARGUMENT, 422),

  REQUEST_MALFORMED: forbidden('Request'),
  CAPABILITY_MALFORMED: unauthenticated('Capability', 'capability token is malformed'),
  CAPABILITY_UNTRUSTED_ISSUER: unauthenticated('Capability', 'capability issuer is not trusted'),
  CAPABILITY_SIGNATURE_INVALID: unauthenticated('Capability', 'capability signature is invalid'),
  CAPABILITY_NOT_YET_VALID: unauthenticated('Capability', 'capability is not yet valid'),
  CAPABILITY_EXPIRED: unauthenticated('Capability', 'capability is expired'),
  CAPABILITY_TTL_EXCEEDED: unauthenticated('Capability', 'capability lifetime exceeds the authority maxTtl'),
  CAPABILITY_REVOKED: unauthenticated('Capability', 'capability is revoked'),
  CAPABILITY_OUT_OF_SCOPE: forbidden('Capability', 'request is outside the capability grants'),
  CAPABILITY_AMBIGUOUS: unauthenticated('Capability', 'more than one capability token'),
  JWT_MALFORMED: unauthenticated('Jwt'),
  JWT_UNKNOWN_ISSUER: unauthenticated('Jwt'),
  JWT_AUDIENCE_NOT_ALLOWED: unauthenticated('Jwt'),
  JWT_NOT_YET_VALID: unauthenticated('Jwt'),
  JWT_EXPIRED: unauthenticated('Jwt'),
  JWT_SIGNATURE_INVALID: unauthenticated('Jwt'),
  JWT_KEYS_UNAVAILABLE: unauthenticated('Jwt'),
  JWT_INVALID: unauthenticated('Jwt'),
  POLICY_DENIED: forbidden('Policy'),
  POLICY_NO_MATCH: forbidden('Policy'),
  POLICY_UNAUTHENTICATED: unauthenticated('Policy'),
  POLICY_UNEVALUABLE: forbidden('Policy'),
  DECISION_FAILED: forbidden('Internal', 'internal error'),
  RECEIPT_NOT_STORED: { grpc: GRPC.PERMISSION_DENIED, http: 503, guard: 'ReceiptLedger', exit: 1, reason: 'receipt could not be stored' },

  NOT_FOUND: { grpc: GRPC.NOT_FOUND, http: 404, exit: 1 },
  TOO_LARGE: { grpc: GRPC.RESOURCE_EXHAUSTED, http: 413, exit: 1 },
  HEADERS_TOO_LARGE: { grpc: GRPC.RESOURCE_EXHAUSTED, http: 431, exit: 1 },
  REQUEST_TIMEOUT: { grpc: GRPC.DEADLINE_EXCEEDED, http: 408, exit: 1 },
  PENDING: { grpc: GRPC.UNAVAILABLE, http: 202, exit: 1 },
  UNAVAILABLE: { grpc: GRPC.UNAVAILABLE, http: 503, exit: 1 },
  TIMEOUT: { grpc: GRPC.DEADLINE_EXCEEDED, http: 504, exit: 1 },
  LEDGER_FENCED: { grpc: GRPC.UNAVAILABLE, http: 503, exit: 1, reason: 'ledger is standby' },
  CONFIG_INVALID: { grpc: GRPC.FAILED_PRECONDITION, http: 500, exit: 2 },
  INTERNAL: { grpc: GRPC.INTERNAL, http: 500, exit: 1, reason: 'internal error' },
};

/** What the wire says for a code. */
export function statusOf(code: ChioErrorCode): WireStatus {
  return STATUS[code];
}

/** The reason a client may be told for an error: the table's fixed text, else the message. */
export function clientReason(err: { code: ChioErrorCode; message: string }): string {
  return STATUS[err.code].reason ?? err.message;
}

/**
 * The `error` of the 404 every Chio HTTP port answers for a path it has no route for: told
 * apart from a route's own 404 ("no receipt with this id is stored") by `chio prove`, to say
 * that its --url is no verifier.
 */
export const NO_SUCH_ROUTE = 'not found';

/**
 * The code an HTTP status from a Chio service stands for (the CLI reading the verifier's
 * answers). Only statuses the API uses are mapped back; anything else is UNAVAILABLE.
 */
export function codeOfHttpStatus(status: number): ChioErrorCode {
  switch (status) {
    case 202: return 'PENDING';
    case 400: return 'MALFORMED';
    case 404: return 'NOT_FOUND';
    case 408: return 'REQUEST_TIMEOUT';
    case 413: return 'TOO_LARGE';
    case 431: return 'HEADERS_TOO_LARGE';
    case 504: return 'TIMEOUT';
    default: return 'UNAVAILABLE';
  }
}
