/**
 * One error type for every Chio domain (STYLE §6). A `ChioError` carries a stable `code`
 * that callers branch on; the message is for humans and logs, never for matching. Detail that
 * would tell an attacker which check failed belongs in `cause`, not in the message sent back.
 *
 * What a code means at the wire (gRPC status, HTTP status, denial guard, CLI exit code) is
 * written once, in status.ts, and read by the Check answer, the HTTP API and the CLI.
 * Pure: no node: imports, so the portable verifier can throw these too.
 */
export type ChioErrorCode =
  // input that is not of the expected form (bytes, JSON, notes, proofs, ids)
  | 'MALFORMED'
  // JCS (RFC 8785): a value that has no canonical form (NaN, Infinity, lone surrogate, …)
  | 'JCS_UNSUPPORTED'
  // signatures and keys
  | 'KEY_INVALID'
  | 'SIGNATURE_INVALID'
  | 'UNTRUSTED_KEY'
  // Merkle log
  | 'PROOF_INVALID'
  | 'TREE_INCONSISTENT'
  | 'NOTE_INVALID'
  // receipts
  | 'RECEIPT_INVALID'
  | 'CHAIN_BROKEN'
  // a correction (SPEC §5) that does not name a receipt integrated earlier on its chain, or
  // names one already corrected
  | 'CORRECTION_INVALID'
  // a compliance bundle (SPEC §9) with a file missing, extra, too large or not of its format
  | 'BUNDLE_INVALID'
  | 'RECEIPT_NOT_STORED'
  // Check denials, one per reason a guard says no (status.ts names the guard and statuses)
  | 'REQUEST_MALFORMED'
  | 'CAPABILITY_MALFORMED'
  | 'CAPABILITY_UNTRUSTED_ISSUER'
  | 'CAPABILITY_SIGNATURE_INVALID'
  | 'CAPABILITY_NOT_YET_VALID'
  | 'CAPABILITY_EXPIRED'
  | 'CAPABILITY_TTL_EXCEEDED'
  | 'CAPABILITY_REVOKED'
  | 'CAPABILITY_OUT_OF_SCOPE'
  | 'CAPABILITY_AMBIGUOUS'
  | 'JWT_MALFORMED'
  | 'JWT_UNKNOWN_ISSUER'
  | 'JWT_AUDIENCE_NOT_ALLOWED'
  | 'JWT_NOT_YET_VALID'
  | 'JWT_EXPIRED'
  | 'JWT_SIGNATURE_INVALID'
  | 'JWT_KEYS_UNAVAILABLE'
  | 'JWT_INVALID'
  | 'POLICY_DENIED'
  | 'POLICY_NO_MATCH'
  | 'POLICY_UNAUTHENTICATED'
  | 'POLICY_UNEVALUABLE'
  | 'DECISION_FAILED'
  // storage, transport, configuration
  | 'NOT_FOUND'
  // a request body over its bound (HTTP 413)
  | 'TOO_LARGE'
  // an HTTP request with more header fields than are counted (HTTP 431)
  | 'HEADERS_TOO_LARGE'
  // an HTTP request whose headers or body did not arrive within their timeouts (HTTP 408)
  | 'REQUEST_TIMEOUT'
  | 'PENDING'
  | 'UNAVAILABLE'
  | 'TIMEOUT'
  /** The ledger's write lost a revision check: another ledger holds the writer lease now. */
  | 'LEDGER_FENCED'
  | 'CONFIG_INVALID'
  | 'INTERNAL';

export class ChioError extends Error {
  readonly code: ChioErrorCode;

  constructor(code: ChioErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ChioError';
    this.code = code;
  }
}

/** True when `err` is a ChioError, optionally with the given code. */
export function isChioError(err: unknown, code?: ChioErrorCode): err is ChioError {
  return err instanceof ChioError && (code === undefined || err.code === code);
}

/** Normalise whatever was thrown into a ChioError (code INTERNAL unless it already is one). */
export function toChioError(err: unknown): ChioError {
  if (err instanceof ChioError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new ChioError('INTERNAL', message, { cause: err });
}

/** A broken internal invariant: a bug, not bad input (STYLE §7). */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`chio: internal invariant broken: ${message}`);
}

export { statusOf, clientReason, codeOfHttpStatus, NO_SUCH_ROUTE, GRPC, type WireStatus, type DenialGuard } from './status.js';
