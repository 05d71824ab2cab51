/**
 * Capability tokens, `chio.capability.v1` (SPEC §3).
 *
 *   token     = base64url (no padding) of JCS(claims ‖ signature)
 *   claims    = { schema, id, issuer, subject, scope: { grants: [{ hosts?, methods, paths }] },
 *                 issued_at, expires_at }          (Unix seconds)
 *   signature = base64 Ed25519 over JCS(claims), by the key `issuer` names (a C2SP verifier key)
 *
 * Verification reads top to bottom: size → decode → canonical JSON → shape → trusted issuer →
 * time → signature. The token is attacker-controlled until the signature holds.
 */
import { verify as nodeVerify, type KeyObject } from 'node:crypto';
import { ChioError } from '../errors/index.js';
import { isJsonObject } from '../json.js';
import { DEFAULT_CLOCK_SKEW_SECONDS } from '../time.js';
import { fromBase64, fromBase64Url, toBase64, toBase64Url } from '../encoding.js';
import { canonicalBytes, parseCanonical } from '../receipt/jcs.js';
import { KEY_NO_ONE_HOLDS, canHoldSignatures, parseVerifierKey } from '../tlog/note.js';
import { nodePublicKey, type Ed25519Signer } from '../crypto/ed25519.js';
import { normalizePathPattern } from '../decision/path.js';
import { hostPatterns, type HostPattern } from '../policy/match.js';

export const CAPABILITY_SCHEMA = 'chio.capability.v1';
/** A token longer than this is refused before it is decoded. */
export const MAX_TOKEN_CHARS = 8 * 1024;
export const MAX_GRANTS = 64;

export interface Grant {
  hosts?: string[];
  methods: string[];
  paths: string[];
}

export interface CapabilityClaims {
  schema: typeof CAPABILITY_SCHEMA;
  id: string;
  issuer: string;
  subject: string;
  scope: { grants: Grant[] };
  issued_at: number;
  expires_at: number;
}

/**
 * A grant as a verified token holds it: paths and host patterns in the form requests are
 * matched in (decision/path.ts, policy/match.ts), brought to it once, when the token is read.
 */
export interface VerifiedGrant extends Grant {
  hosts?: HostPattern[];
}

/** The claims of a verified token (verifyCapability). */
export interface VerifiedCapability extends CapabilityClaims {
  scope: { grants: VerifiedGrant[] };
}

export interface CapabilityToken extends VerifiedCapability {
  signature: string;
}

/** Sign claims into a token string. */
export function issueCapability(claims: CapabilityClaims, signer: Ed25519Signer): string {
  const signature = toBase64(signer.sign(canonicalBytes(claims)));
  return toBase64Url(canonicalBytes({ ...claims, signature }));
}

/**
 * What verifyCapability refuses in `token` whoever trusts its issuer and whatever the clock:
 * its length, form and shape, and a lifetime that ends before it begins. `chio token issue`
 * checks the token it signed, so that it never prints one every Check refuses. Throws
 * CAPABILITY_MALFORMED naming why.
 */
export function checkCapabilityForm(token: string): void {
  const claims = toCapabilityToken(decodeCapabilityToken(token));
  if (claims.expires_at <= claims.issued_at) throw new ChioError('CAPABILITY_MALFORMED', 'capability expires before it is issued');
}

/**
 * Trusted issuers: C2SP verifier key → public key, built once per policy set. A key no one holds
 * the secret of is refused (KEY_INVALID): tokens are checked with node:crypto, which takes a
 * signature of a small-order R and S = 0 under it, so anyone could mint them.
 */
export class IssuerTrust {
  private readonly keys = new Map<string, KeyObject>();
  readonly maxTtlSeconds: number | undefined;

  constructor(verifierKeys: Iterable<string>, maxTtlSeconds?: number) {
    for (const vkey of verifierKeys) {
      const { publicKey } = parseVerifierKey(vkey);
      if (!canHoldSignatures(publicKey)) throw new ChioError('KEY_INVALID', `capability issuer: ${KEY_NO_ONE_HOLDS}`);
      this.keys.set(vkey, nodePublicKey(publicKey));
    }
    this.maxTtlSeconds = maxTtlSeconds;
  }

  keyFor(issuer: string): KeyObject | undefined {
    return this.keys.get(issuer);
  }
}

/**
 * Verify a token and return its claims. Throws ChioError: CAPABILITY_MALFORMED (not a
 * well-formed token; the parser's detail is the cause), CAPABILITY_UNTRUSTED_ISSUER,
 * CAPABILITY_TTL_EXCEEDED, CAPABILITY_NOT_YET_VALID, CAPABILITY_EXPIRED,
 * CAPABILITY_SIGNATURE_INVALID. The signature is checked over the claims exactly as received (every
 * field but `signature`), so nothing can be added to a signed token.
 */
export function verifyCapability(token: string, trust: IssuerTrust, nowSeconds: number, skewSeconds = DEFAULT_CLOCK_SKEW_SECONDS): VerifiedCapability {
  const decoded = decodeCapabilityToken(token);
  const { signature, ...claims } = toCapabilityToken(decoded);
  const { signature: _received, ...signed } = decoded as Record<string, unknown>;
  const key = trust.keyFor(claims.issuer);
  if (!key) throw new ChioError('CAPABILITY_UNTRUSTED_ISSUER', 'capability issuer is not trusted');
  if (claims.expires_at <= claims.issued_at) throw new ChioError('CAPABILITY_MALFORMED', 'capability expires before it is issued');
  if (trust.maxTtlSeconds !== undefined && claims.expires_at - claims.issued_at > trust.maxTtlSeconds) {
    throw new ChioError('CAPABILITY_TTL_EXCEEDED', 'capability lifetime exceeds the authority maxTtl');
  }
  if (nowSeconds + skewSeconds < claims.issued_at) throw new ChioError('CAPABILITY_NOT_YET_VALID', 'capability is not yet valid');
  if (nowSeconds - skewSeconds >= claims.expires_at) throw new ChioError('CAPABILITY_EXPIRED', 'capability is expired');
  const sig = decodeSignature(signature);
  if (sig.length !== 64 || !nodeVerify(null, canonicalBytes(signed), key, sig)) {
    throw new ChioError('CAPABILITY_SIGNATURE_INVALID', 'capability signature is invalid');
  }
  return claims;
}

function decodeSignature(signature: string): Uint8Array {
  try {
    return fromBase64(signature);
  } catch (cause) {
    throw new ChioError('CAPABILITY_MALFORMED', 'capability signature is not base64', { cause });
  }
}

/**
 * Token text (attacker-controlled) → its JSON value: bounded length, strict base64url, canonical
 * JSON. Every failure is CAPABILITY_MALFORMED, with the decoder's own error as the cause.
 */
export function decodeCapabilityToken(token: string): unknown {
  if (token.length === 0 || token.length > MAX_TOKEN_CHARS) throw new ChioError('CAPABILITY_MALFORMED', 'capability token has an invalid length');
  try {
    return parseCanonical(fromBase64Url(token), MAX_TOKEN_CHARS);
  } catch (cause) {
    throw new ChioError('CAPABILITY_MALFORMED', 'capability token is not base64url of canonical JSON', { cause });
  }
}

/**
 * The id inside `text` when `text` is a whole capability token rather than an id, else
 * undefined: `chio token revoke <token>` would revoke an id no token carries, and say it had.
 */
export function capabilityIdInToken(text: string): string | undefined {
  let value: unknown;
  try {
    value = decodeCapabilityToken(text);
  } catch {
    return undefined;
  }
  return isJsonObject(value) && value.schema === CAPABILITY_SCHEMA && typeof value.id === 'string' ? value.id : undefined;
}

// Shape check of attacker-controlled JSON: every field typed, every list bounded.
function toCapabilityToken(value: unknown): CapabilityToken {
  const bad = (why: string) => new ChioError('CAPABILITY_MALFORMED', `capability token: ${why}`);
  if (!isJsonObject(value)) throw bad('not an object');
  const { schema, id, issuer, subject, scope, issued_at, expires_at, signature } = value;
  if (schema !== CAPABILITY_SCHEMA) throw bad('unknown schema');
  for (const [name, v] of Object.entries({ id, issuer, subject, signature })) {
    if (typeof v !== 'string' || v.length === 0 || v.length > 1024) throw bad(`${name} must be a non-empty string`);
  }
  if (!Number.isSafeInteger(issued_at) || !Number.isSafeInteger(expires_at)) throw bad('issued_at and expires_at must be integers');
  if (!isJsonObject(scope) || !Array.isArray(scope.grants) || scope.grants.length === 0 || scope.grants.length > MAX_GRANTS) {
    throw bad(`scope.grants must be a list of 1 to ${MAX_GRANTS} grants`);
  }
  if (Object.keys(scope).some((k) => k !== 'grants')) throw bad('unknown field in scope');
  const allowed = new Set(['schema', 'id', 'issuer', 'subject', 'scope', 'issued_at', 'expires_at', 'signature']);
  if (Object.keys(value).some((k) => !allowed.has(k))) throw bad('unknown field');
  return { ...(value as unknown as CapabilityToken), scope: { grants: scope.grants.map((g) => toGrant(g, bad)) } };
}

function toGrant(value: unknown, bad: (why: string) => ChioError): VerifiedGrant {
  if (!isJsonObject(value)) throw bad('a grant is not an object');
  if (Object.keys(value).some((k) => !['hosts', 'methods', 'paths'].includes(k))) throw bad('unknown field in a grant');
  const list = (v: unknown, name: string, required: boolean): string[] | undefined => {
    if (v === undefined && !required) return undefined;
    if (!Array.isArray(v) || v.length === 0 || v.length > 64 || v.some((s) => typeof s !== 'string' || s.length === 0 || s.length > 1024)) {
      throw bad(`grant.${name} must be a list of non-empty strings`);
    }
    return v as string[];
  };
  const hosts = list(value.hosts, 'hosts', false);
  // Matched as request paths are (decision/path.ts): `/tools/%7e*` grants `/tools/~…`.
  const paths = list(value.paths, 'paths', true)!.map((pattern) => {
    try {
      return normalizePathPattern(pattern);
    } catch (err) {
      throw bad(`grant.paths: ${(err as Error).message}`);
    }
  });
  return { ...(hosts ? { hosts: hostPatterns(hosts) } : {}), methods: list(value.methods, 'methods', true)!, paths };
}

