/**
 * The guards, in their fixed order (SPEC §2): Request → Capability → Policy. Each guard reads
 * the decision context and answers pass, skip or deny; the first deny ends the pipeline.
 * ReceiptLedger (storing the receipt) and Internal (any exception) are added by the pipeline.
 */
import { ChioError } from '../errors.js';
import { sha256Hex } from '../receipt/signer.js';
import { utf8 } from '../encoding.js';
import type { CheckInput } from './check-input.js';
import { verifyCapability, type CapabilityClaims, type Grant } from './capability.js';
import { evaluateAuthorization } from './authorization-policy.js';
import { matchAny, matchAnyHost } from './match.js';
import type { PolicySet } from './policy-set.js';
import { VerificationCache } from './verification-cache.js';

export type GuardName = 'Request' | 'Capability' | 'Jwt' | 'Policy' | 'ReceiptLedger' | 'Internal';

/** How a deny is answered: 401/UNAUTHENTICATED or 403/PERMISSION_DENIED. */
export type DenyKind = 'unauthenticated' | 'forbidden';

export type GuardResult =
  | { verdict: 'allow'; details?: Record<string, string | number | boolean> }
  | { verdict: 'skip'; details?: Record<string, string | number | boolean> }
  | { verdict: 'deny'; kind: DenyKind; reason: string; details?: Record<string, string | number | boolean> };

export interface DecisionContext {
  input: CheckInput;
  policies: PolicySet;
  nowSeconds: number;
  defaultVerdict: 'allow' | 'deny';
  capabilityCache: VerificationCache<CapabilityClaims>;
  /** Filled in by the Capability guard. */
  capability?: CapabilityClaims;
  /** SHA-256 of the credential presented, if any (never the credential itself). */
  credentialSha256?: string;
}

export interface Guard {
  readonly name: GuardName;
  check(ctx: DecisionContext): GuardResult;
}

/** The capability token, from x-chio-capability-token or a non-JWT `authorization: Bearer`. */
export function capabilityTokenOf(input: CheckInput): string | undefined {
  const header = input.headers.get('x-chio-capability-token');
  if (header !== undefined) return header.trim();
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(input.headers.get('authorization') ?? '')?.[1];
  // A JWT has three dot-separated parts; a capability token is one base64url string.
  return bearer !== undefined && !bearer.includes('.') ? bearer : undefined;
}

export const capabilityGuard: Guard = {
  name: 'Capability',
  check(ctx) {
    const token = capabilityTokenOf(ctx.input);
    if (token === undefined) return { verdict: 'skip' };
    const credentialSha256 = sha256Hex(utf8(token));
    ctx.credentialSha256 = credentialSha256;
    let claims: CapabilityClaims;
    try {
      claims = ctx.capabilityCache.get(credentialSha256, ctx.nowSeconds) ?? verifyFresh(token, credentialSha256, ctx);
    } catch (err) {
      if (err instanceof ChioError) return { verdict: 'deny', kind: 'unauthenticated', reason: err.message };
      throw err;
    }
    ctx.capability = claims;
    const details = { capability_id: claims.id, subject: claims.subject };
    if (!claims.scope.grants.some((g) => grantCovers(g, ctx.input))) {
      return { verdict: 'deny', kind: 'forbidden', reason: 'request is outside the capability grants', details };
    }
    return { verdict: 'allow', details };
  },
};

function verifyFresh(token: string, key: string, ctx: DecisionContext): CapabilityClaims {
  const claims = verifyCapability(token, ctx.policies.issuers, ctx.nowSeconds);
  ctx.capabilityCache.set(key, claims, claims.expires_at);
  return claims;
}

function grantCovers(grant: Grant, input: CheckInput): boolean {
  if (grant.hosts && !matchAnyHost(grant.hosts, input.host)) return false;
  return matchAny(grant.methods, input.method) && matchAny(grant.paths, input.path);
}

export const policyGuard: Guard = {
  name: 'Policy',
  check(ctx) {
    const outcome = evaluateAuthorization(ctx.policies.authorization, ctx, ctx.defaultVerdict);
    if (outcome.verdict === 'allow') return { verdict: 'allow', ...(outcome.policy ? { details: { policy: outcome.policy } } : {}) };
    const details = outcome.policy ? { policy: outcome.policy } : undefined;
    // Nothing presented and nothing allowed: the caller must authenticate (401), as SPEC §2 asks.
    if (ctx.credentialSha256 === undefined) {
      return { verdict: 'deny', kind: 'unauthenticated', reason: `${outcome.reason}; no credentials presented`, ...(details ? { details } : {}) };
    }
    return { verdict: 'deny', kind: 'forbidden', reason: outcome.reason, ...(details ? { details } : {}) };
  },
};

/** The guards after Request, in order. */
export const GUARDS: readonly Guard[] = [capabilityGuard, policyGuard];
