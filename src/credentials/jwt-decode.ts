/**
 * A compact JWS read without verifying it (credentials/jwt.ts runs these checks before any key
 * is looked up): the token is attacker-controlled, so each part is strict base64url, each JSON
 * an object, and the claims' types are checked as Envoy's jwt_authn checks them, each failure
 * answered with Envoy's reason.
 */
import type { JWTPayload } from 'jose';
import { fromBase64Url } from '../encoding.js';
import { holdsLoneSurrogate } from '../json.js';
import { JWT_REASONS, SUPPORTED_JWT_ALGORITHMS } from './jwt-rules.js';

/** What a token says before its signature is checked: nothing here is to be trusted yet. */
export interface Unverified {
  alg: string;
  kid: string | undefined;
  payload: JWTPayload;
}

/**
 * Split and decode a compact JWS without verifying it: `token` is attacker-controlled, so each
 * part is strict base64url, each JSON is an object, and claim types are checked as Envoy does.
 * Returns the reason for the first problem instead of throwing.
 */
export function decodeUnverified(token: string): Unverified | string {
  const parts = token.split('.');
  if (parts.length !== 3) return JWT_REASONS.badFormat;
  const [h, p, s] = parts as [string, string, string];
  const header = decodePart(h);
  if (header === 'base64') return JWT_REASONS.headerBadBase64;
  if (header === 'json') return JWT_REASONS.headerBadJson;
  if (typeof header.alg !== 'string') return JWT_REASONS.headerBadAlg;
  // `none`, HMAC and anything unknown stop here, before any key is looked up.
  if (!SUPPORTED_JWT_ALGORITHMS.includes(header.alg)) return JWT_REASONS.algNotSupported;
  if (header.kid !== undefined && typeof header.kid !== 'string') return JWT_REASONS.headerBadKid;
  // RFC 7515 §4.1.11: a recipient MUST reject a token whose crit names an extension it does not
  // understand. Chio understands none, so any crit, even b64 (RFC 7797) or a malformed one, is
  // refused here: jose would take crit ["b64"] and name others as an unsupported alg.
  if (Object.hasOwn(header, 'crit')) return JWT_REASONS.critNotSupported;
  const payload = decodePart(p);
  if (payload === 'base64') return JWT_REASONS.payloadBadBase64;
  if (payload === 'json') return JWT_REASONS.payloadBadJson;
  if (payload.iss !== undefined && typeof payload.iss !== 'string') return JWT_REASONS.issNotString;
  if (payload.sub !== undefined && typeof payload.sub !== 'string') return JWT_REASONS.subNotString;
  for (const claim of ['iat', 'nbf', 'exp'] as const) {
    // Envoy reads these as uint64: a fraction, a negative number or 1e300 is "not an integer".
    const value = payload[claim];
    if (value !== undefined && !(Number.isSafeInteger(value) && (value as number) >= 0)) return JWT_REASONS[`${claim}NotInteger`];
  }
  const aud = payload.aud;
  if (aud !== undefined && typeof aud !== 'string' && !(Array.isArray(aud) && aud.every((a) => typeof a === 'string'))) {
    return JWT_REASONS.audNotString;
  }
  if (decodeBytes(s) === undefined) return JWT_REASONS.signatureBadBase64;
  return { alg: header.alg, kid: header.kid as string | undefined, payload: payload as JWTPayload };
}

function decodePart(part: string): Record<string, unknown> | 'base64' | 'json' {
  const bytes = decodeBytes(part);
  if (bytes === undefined) return 'base64';
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return 'json';
  }
  // An escaped lone surrogate ("sub":"\ud83d") is JSON.parse's but no text: a verified token's
  // subject went into its receipt, which then had no canonical form and could not be signed,
  // and the Check was answered 503 as if the ledger were down.
  if (typeof value !== 'object' || value === null || Array.isArray(value) || holdsLoneSurrogate(value)) return 'json';
  return value as Record<string, unknown>;
}

function decodeBytes(part: string): Uint8Array | undefined {
  try {
    return fromBase64Url(part); // strict: alphabet, no padding, canonical trailing bits
  } catch {
    return undefined;
  }
}

