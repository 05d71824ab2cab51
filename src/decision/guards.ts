/**
 * The guards, in their fixed order (SPEC §2): Request → Capability → Jwt → Policy. Each reads
 * the decision context and answers allow, skip or deny; the first deny ends the pipeline.
 * A deny names its error code (errors/index.ts), whose row in the status table says how it is
 * answered, and the reason a client may read (clientReason: never a parser's internals).
 * Request (the input itself) and Internal (any exception) are the pipeline's; ReceiptLedger
 * (storing the receipt) is the check handler's.
 *
 *   Capability  a capability token, if presented, must verify, be unrevoked and cover the request
 *   Jwt         a JWT, if presented, must verify against a RequestAuthentication rule
 *   Policy      AuthorizationPolicy (Istio) and ValidatingPolicy (Kyverno) decide
 */
import { isChioError, statusOf, type ChioErrorCode, type DenialGuard } from '../errors/index.js';
import { sha256HexOfText } from '../crypto/sha256.js';
import type { CheckInput } from './check-input.js';
import { CAPABILITY_SCHEMA, decodeCapabilityToken, verifyCapability, type VerifiedCapability, type VerifiedGrant } from '../credentials/capability.js';
import { JWT_REASONS } from '../credentials/jwt.js';
import { capabilityBearers } from '../credentials/header-values.js';
import { isJsonObject } from '../json.js';
import { evaluateAuthorization, type PolicyContext, type ValidatingVerdicts } from '../policy/istio/authorization-policy.js';
import { matchAny, matchAnyHostPattern } from '../policy/match.js';
import type { PolicySet } from '../policy/policy-set.js';
import type { VerificationCache } from '../credentials/verification-cache.js';
import { toKyvernoInput } from '../policy/kyverno/validating-policy.js';
import { evaluateValidatingPolicies } from '../policy/kyverno/verdicts.js';
import { toCelCheckRequest, type NormalisedHttp } from '../policy/kyverno/kyverno-input.js';
import { evaluateCelPolicies, type CelVerdicts } from '../policy/kyverno-authz/verdicts.js';
import type { CheckRequest } from '../authz/wire.js';
import { denialOf, type Denial, type PolicyResponse } from './decision.js';
import { redactRequestSecrets } from './reason-redaction.js';

type Details = Record<string, string | number | boolean>;

export type GuardResult =
  | { verdict: 'allow'; details?: Details; shadowDeny?: Denial }
  | { verdict: 'skip'; details?: Details }
  | ({ verdict: 'deny'; details?: Details } & Denial);

export interface DecisionContext extends PolicyContext {
  request: CheckRequest | null | undefined;
  policies: PolicySet;
  nowSeconds: number;
  /** Absolute ms: work that waits (JWKS fetches) must give up by then. */
  deadline: number;
  defaultVerdict: 'allow' | 'deny';
  capabilityCache: VerificationCache<VerifiedCapability>;
  isRevoked: (capabilityId: string) => boolean;
  /** SHA-256 of the credential presented, if any (never the credential itself). */
  credentialSha256?: string;
  /** Request headers that carried a credential Chio consumed: never forwarded upstream. */
  credentialHeaders: Set<string>;
  jwtIdentity?: { issuer: string; subject?: string };
  /** An `authorization: Bearer` that is neither a capability token nor a JWT, left to the Jwt guard. */
  unclaimedBearer?: string;
  /** What a CEL policy asked the answer to carry (set by the Policy guard). */
  policyResponse?: PolicyResponse;
}

export interface Guard {
  readonly name: DenialGuard;
  check(ctx: DecisionContext): GuardResult | Promise<GuardResult>;
}

function deny(code: ChioErrorCode, message: string, details?: Details): GuardResult {
  return { verdict: 'deny', ...denialOf(code, message), ...(details ? { details } : {}) };
}

/** A capability token as presented: from x-chio-capability-token, or a dot-less `authorization: Bearer`. */
export interface PresentedCapability {
  token: string;
  header: 'x-chio-capability-token' | 'authorization';
}

/**
 * The capability tokens a request presents, x-chio-capability-token first. A repeated
 * `authorization` header arrives joined by `,` (check-input.ts): each of its Bearer values is
 * presented (credentials/header-values.ts), so that none is overlooked and forwarded.
 */
export function capabilityTokensOf(input: CheckInput): PresentedCapability[] {
  const presented: PresentedCapability[] = [];
  const header = input.headers.get('x-chio-capability-token');
  if (header !== undefined) presented.push({ token: header.trim(), header: 'x-chio-capability-token' });
  for (const token of capabilityBearers(input.headers.get('authorization'))) presented.push({ token, header: 'authorization' });
  return presented;
}

export const capabilityGuard: Guard = {
  name: 'Capability',
  check(ctx) {
    const all = capabilityTokensOf(ctx.input);
    // A Bearer that is not Chio's at all is a malformed JWT when JWT rules exist: the Jwt guard's.
    const ours = all.filter((p) => {
      if (p.header !== 'authorization' || !isJwtsBearer(p, ctx)) return true;
      ctx.unclaimedBearer ??= p.token;
      return false;
    });
    const presented = ours[0];
    if (presented === undefined) return { verdict: 'skip' };
    const { token } = presented;
    // Minted for Chio: every header that carried one is removed before upstream, whatever the outcome.
    for (const p of ours) ctx.credentialHeaders.add(p.header);
    const credentialSha256 = sha256HexOfText(token);
    ctx.credentialSha256 = credentialSha256;
    if (ours.some((p) => p.token !== token)) return deny('CAPABILITY_AMBIGUOUS', 'two different capability tokens in one request');
    let claims: VerifiedCapability;
    try {
      claims = ctx.capabilityCache.get(credentialSha256, ctx.nowSeconds) ?? verifyFresh(token, credentialSha256, ctx);
    } catch (err) {
      // A capability failure is a deny; anything else is a bug, and the pipeline's Internal deny.
      if (isChioError(err) && statusOf(err.code).guard === 'Capability') return deny(err.code, err.message);
      throw err;
    }
    ctx.capability = claims;
    const details = { capability_id: claims.id, subject: claims.subject };
    // Checked on every request, cached or not: a revocation takes effect at once.
    if (ctx.isRevoked(claims.id)) return deny('CAPABILITY_REVOKED', 'capability is revoked', details);
    if (!claims.scope.grants.some((g) => grantCovers(g, ctx.input))) {
      return deny('CAPABILITY_OUT_OF_SCOPE', 'request is outside the capability grants', details);
    }
    return { verdict: 'allow', details };
  },
};

/**
 * True for a Bearer that is not a capability token while a JWT rule reads `authorization:
 * Bearer`: Envoy's jwt_authn reads every such Bearer as a JWT, so it is a malformed JWT, for the Jwt guard.
 * A token is Chio's when it decodes to an object of the capability schema; a malformed one of
 * those stays a capability failure.
 */
function isJwtsBearer(presented: PresentedCapability, ctx: DecisionContext): boolean {
  if (presented.header !== 'authorization' || !ctx.policies.jwt?.readsBearerAuthorization()) return false;
  try {
    const value = decodeCapabilityToken(presented.token);
    return !(isJsonObject(value) && value.schema === CAPABILITY_SCHEMA);
  } catch {
    return true;
  }
}

function verifyFresh(token: string, key: string, ctx: DecisionContext): VerifiedCapability {
  const claims = verifyCapability(token, ctx.policies.issuers, ctx.nowSeconds);
  ctx.capabilityCache.set(key, claims, claims.expires_at);
  return claims;
}

function grantCovers(grant: VerifiedGrant, input: CheckInput): boolean {
  if (input.kind === 'tcp') return false;
  if (grant.hosts && !matchAnyHostPattern(grant.hosts, input.host)) return false;
  return matchAny(grant.methods, input.method) && matchAny(grant.paths, input.path);
}

export const jwtGuard: Guard = {
  name: 'Jwt',
  async check(ctx) {
    const authenticator = ctx.policies.jwt;
    if (!authenticator) return { verdict: 'skip' };
    // As in Envoy, every token presented must verify: a Bearer that is no token at all fails first.
    if (ctx.unclaimedBearer !== undefined) {
      ctx.credentialSha256 ??= sha256HexOfText(ctx.unclaimedBearer);
      ctx.credentialHeaders.add('authorization');
      return deny('JWT_MALFORMED', JWT_REASONS.badFormat);
    }
    const outcome = await authenticator.authenticate(ctx.input, ctx.deadline);
    if (outcome.verdict === 'skip') return { verdict: 'skip' };
    ctx.credentialSha256 ??= outcome.credentialSha256;
    // A token is kept from upstream whether it verified or not: in shadow mode a deny is answered
    // allow, and a forged token must not reach an upstream that trusts what the mesh let through.
    for (const header of outcome.removeHeaders) ctx.credentialHeaders.add(header);
    if (outcome.verdict === 'deny') return deny(outcome.code, outcome.reason);
    ctx.jwt = { requestPrincipal: outcome.requestPrincipal, claims: outcome.claims };
    ctx.jwtIdentity = { issuer: outcome.issuer, ...(outcome.subject !== undefined ? { subject: outcome.subject } : {}) };
    return { verdict: 'allow', details: { issuer: outcome.issuer, ...(outcome.subject !== undefined ? { subject: outcome.subject } : {}) } };
  },
};

export const policyGuard: Guard = {
  name: 'Policy',
  check(ctx) {
    ctx.usedClaims = new Map();
    let validating: ValidatingVerdicts;
    let cel: CelVerdicts;
    try {
      ({ validating, cel } = validatingVerdicts(ctx));
    } catch (err) {
      // The request cannot even be shown to the ValidatingPolicies (out of bounds): deny.
      if (isChioError(err, 'MALFORMED')) return deny('POLICY_UNEVALUABLE', `request cannot be evaluated: ${err.message}`);
      throw err;
    }
    const { authorization } = ctx.policies;
    const enforced = evaluateAuthorization(authorization.filter((p) => !p.shadow), ctx, ctx.defaultVerdict, validating);
    const details: Details = {};
    if (enforced.policy) details.policy = enforced.policy;
    if (enforced.rule) details.rule = enforced.rule;
    if (enforced.audited.length > 0) details.audited = enforced.audited.join(',');
    for (const [key, value] of ctx.usedClaims) details[key] = value;
    // Which policy failed where, never the message (it may quote the request): receipts are public.
    if (cel.ignoredErrors.length > 0) details.ignored_errors = cel.ignoredErrors.map((e) => e.split(': ').slice(0, 2).join(': ')).join(', ');
    if (enforced.verdict === 'deny' && cel.deny && enforced.policy === cel.deny.policy && enforced.reason === cel.deny.reason) return celDenial(ctx, cel, details);
    if (enforced.verdict === 'allow' && cel.allows.length > 0) ctx.policyResponse = allowResponseOf(cel);
    if (enforced.verdict === 'deny') {
      // Nothing presented and nothing allowed: the caller must authenticate (401), SPEC §2.
      // An explicit no (DENY policy, failed assert) stays 403, and a TCP check cannot carry
      // credentials, so it is simply forbidden.
      if (ctx.credentialSha256 === undefined && ctx.input.kind === 'http' && !enforced.explicit) {
        return deny('POLICY_UNAUTHENTICATED', `${enforced.reason}; no credentials presented`, details);
      }
      return deny(enforced.explicit ? 'POLICY_DENIED' : 'POLICY_NO_MATCH', enforced.reason, details);
    }
    if (authorization.some((p) => p.shadow)) {
      const wouldBe = evaluateAuthorization(authorization, ctx, ctx.defaultVerdict, validating);
      if (wouldBe.verdict === 'deny') {
        if (wouldBe.policy) details.shadow_policy = wouldBe.policy;
        // A would-be deny is recorded as forbidden, never as a demand to authenticate.
        return { verdict: 'allow', details, shadowDeny: denialOf(wouldBe.explicit ? 'POLICY_DENIED' : 'POLICY_NO_MATCH', wouldBe.reason) };
      }
    }
    return { verdict: 'allow', details };
  },
};

/** The ValidatingPolicies' verdicts (both kinds), joined: any deny first, else the first allow. */
function validatingVerdicts(ctx: DecisionContext): { validating: ValidatingVerdicts; cel: CelVerdicts } {
  const cel: CelVerdicts = { allows: [], ignoredErrors: [] };
  const { validating, cel: celPolicies } = ctx.policies;
  if (validating.length === 0 && celPolicies.length === 0) return { validating: {}, cel };
  // Every policy kind decides on the same normalised request (SPEC §4): the normal path (with
  // the query, as Envoy's `path` carries it), host and headers, not the spelling that was sent.
  const { target, host, headers } = ctx.input;
  const normal: NormalisedHttp = { path: target.path === '' ? '' : `${target.path}${target.query}`, host, headers };
  // One clock for the ValidatingPolicies of both kinds (policy/check-clock.ts): kyverno-json's
  // run first, the CEL policies get what they left.
  const startedAt = performance.now();
  const out = validating.length > 0 ? evaluateValidatingPolicies(validating, toKyvernoInput(ctx.request, normal), startedAt) : {};
  if (out.deny || celPolicies.length === 0) return { validating: out, cel };
  const verdicts = redactedDeny(evaluateCelPolicies(celPolicies, toCelCheckRequest(ctx.request, normal), startedAt), ctx);
  if (verdicts.deny) return { validating: { deny: { policy: verdicts.deny.policy, reason: verdicts.deny.reason } }, cel: verdicts };
  // The rule travels with the allow: a policy of another kind may have the same name.
  const first = verdicts.allows[0];
  return { validating: out.allow === undefined && first ? { allow: first.policy, allowRule: first.rule } : out, cel: verdicts };
}

/**
 * A CEL policy's reason is written from the request at run time; it goes to the client and into
 * the receipt, which never holds a credential header, the query or `;params`: those are redacted
 * from it (reason-redaction.ts). Done before the reason is compared or used anywhere.
 */
function redactedDeny(cel: CelVerdicts, ctx: DecisionContext): CelVerdicts {
  if (!cel.deny) return cel;
  return { ...cel, deny: { ...cel.deny, reason: redactRequestSecrets(cel.deny.reason, ctx.input, ctx.policies.jwt?.headerNames()) } };
}

/** A deny a CEL policy decided: its status, headers and body, or POLICY_UNEVALUABLE on an error. */
function celDenial(ctx: DecisionContext, cel: CelVerdicts, details: Details): GuardResult {
  const denied = cel.deny!;
  details.rule = denied.rule;
  if (!denied.answer) return deny('POLICY_UNEVALUABLE', denied.reason, details);
  const { status, headers, body, metadata } = denied.answer;
  ctx.policyResponse = { headers, headersToRemove: [], responseHeaders: [], body, ...(metadata ? { metadata } : {}) };
  return { verdict: 'deny', ...denialOf('POLICY_DENIED', denied.reason), httpStatus: status, details };
}

/** Every allowing CEL policy's header changes, in policy-name order. */
function allowResponseOf(cel: CelVerdicts): PolicyResponse {
  const metadata = Object.assign({}, ...cel.allows.map((a) => a.answer.metadata ?? {})) as Record<string, unknown>;
  return {
    headers: cel.allows.flatMap((a) => a.answer.headers),
    headersToRemove: cel.allows.flatMap((a) => a.answer.headersToRemove),
    responseHeaders: cel.allows.flatMap((a) => a.answer.responseHeaders),
    queryParametersToSet: cel.allows.flatMap((a) => a.answer.queryParametersToSet),
    queryParametersToRemove: cel.allows.flatMap((a) => a.answer.queryParametersToRemove),
    ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
  };
}

/** The guards after Request, in order. */
export const GUARDS: readonly Guard[] = [capabilityGuard, jwtGuard, policyGuard];
