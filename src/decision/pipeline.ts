/**
 * The decision pipeline: CheckRequest → Decision, never throwing (SPEC §2, fail closed).
 *
 * Order: Request (is the input well-formed and bounded?) → Capability → Policy. The first deny
 * ends the pipeline and names its guard; an exception anywhere is a deny by guard Internal.
 * In shadow mode (CHIO_MODE=shadow, or a policy annotated chio.dev/shadow) the whole pipeline
 * runs and the would-be verdict is recorded with shadow: true; the answer (response.ts) is then
 * allow. An Internal deny is never shadowed: an error is not a verdict.
 */
import { toChioError } from '../errors/index.js';
import type { Evidence, ReceiptRequest, ReceiptSubject } from '../receipt/receipt.js';
import { sha256Hex } from '../crypto/sha256.js';
import { utf8 } from '../encoding.js';
import { toCheckInput, type CheckInput } from './check-input.js';
import { GUARDS, type DecisionContext, type DenyKind, type GuardName } from './guards.js';
import type { CapabilityClaims } from '../credentials/capability.js';
import type { PolicySet } from '../policy/policy-set.js';
import { VerificationCache } from '../credentials/verification-cache.js';
import type { CheckRequest } from '../authz/wire.js';

/** Request fields longer than this are cut in the receipt (the SHA-256 of the full path is kept). */
export const MAX_RECEIPT_PATH_CHARS = 2048;

export interface Decision {
  verdict: 'allow' | 'deny';
  guard?: GuardName;
  reason?: string;
  denyKind?: DenyKind;
  shadow: boolean;
  policyHash: string;
  request: ReceiptRequest;
  subject: ReceiptSubject;
  evidence: Evidence[];
  /** Request headers that carried credentials, removed before upstream on allow. */
  removeHeaders?: string[];
  /** What was thrown, for the log only (guard Internal); never in a receipt or an answer. */
  error?: unknown;
}

export interface PipelineOptions {
  policies: () => PolicySet;
  mode: 'enforce' | 'shadow';
  defaultVerdict: 'allow' | 'deny';
  isRevoked?: (capabilityId: string) => boolean;
  now?: () => number;
}

export class DecisionPipeline {
  private readonly opts: PipelineOptions;
  private readonly now: () => number;
  private cache: { forSet: PolicySet; cache: VerificationCache<CapabilityClaims> } | undefined;

  constructor(opts: PipelineOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
  }

  /** Decide one CheckRequest; waiting work gives up by `deadline` (absolute ms). Never rejects. */
  async decide(req: CheckRequest | null | undefined, deadline: number): Promise<Decision> {
    const globalShadow = this.opts.mode === 'shadow';
    let policies: PolicySet | undefined;
    let input: CheckInput | undefined;
    const evidence: Evidence[] = [];
    try {
      policies = this.opts.policies();
      try {
        input = toCheckInput(req);
      } catch (err) {
        evidence.push({ guard: 'Request', verdict: 'deny' });
        return deny({ guard: 'Request', reason: toChioError(err).message, denyKind: 'forbidden', shadow: globalShadow, policies, evidence, request: {} });
      }
      evidence.push({ guard: 'Request', verdict: 'allow' });
      const ctx: DecisionContext = {
        input,
        request: req,
        policies,
        nowSeconds: Math.floor(this.now() / 1000),
        deadline,
        defaultVerdict: this.opts.defaultVerdict,
        capabilityCache: this.cacheFor(policies),
        isRevoked: this.opts.isRevoked ?? (() => false),
        removeHeaders: new Set(),
      };
      let shadowDeny: { guard: GuardName; reason: string } | undefined;
      for (const guard of GUARDS) {
        const result = await guard.check(ctx);
        evidence.push({ guard: guard.name, verdict: result.verdict, ...(result.details ? { details: result.details } : {}) });
        if (result.verdict === 'deny') {
          const denied = deny({ guard: guard.name, reason: result.reason, denyKind: result.kind, shadow: globalShadow, policies, evidence, request: toReceiptRequest(input), subject: subjectOf(ctx) });
          // Global shadow answers allow even here: credentials still stay out of upstream.
          return { ...denied, removeHeaders: [...ctx.removeHeaders] };
        }
        if (result.verdict === 'allow' && result.shadowDeny) shadowDeny ??= { guard: guard.name, ...result.shadowDeny };
      }
      // A policy in shadow mode would have denied: record that verdict, answer allow (SPEC §2).
      if (shadowDeny) {
        return { ...deny({ ...shadowDeny, denyKind: 'forbidden', shadow: true, policies, evidence, request: toReceiptRequest(input), subject: subjectOf(ctx) }), removeHeaders: [...ctx.removeHeaders] };
      }
      return { verdict: 'allow', shadow: globalShadow, policyHash: policies.hash, request: toReceiptRequest(input), subject: subjectOf(ctx), evidence, removeHeaders: [...ctx.removeHeaders] };
    } catch (err) {
      evidence.push({ guard: 'Internal', verdict: 'deny' });
      return deny({ guard: 'Internal', reason: 'internal error', denyKind: 'forbidden', shadow: false, policies, evidence, request: input ? toReceiptRequest(input) : {}, cause: err });
    }
  }

  private cacheFor(policies: PolicySet): VerificationCache<CapabilityClaims> {
    if (this.cache?.forSet !== policies) this.cache = { forSet: policies, cache: new VerificationCache() };
    return this.cache.cache;
  }
}

function deny(d: {
  guard: GuardName; reason: string; denyKind: DenyKind; shadow: boolean; policies: PolicySet | undefined;
  evidence: Evidence[]; request: ReceiptRequest; subject?: ReceiptSubject; cause?: unknown;
}): Decision {
  return {
    verdict: 'deny',
    guard: d.guard,
    reason: d.reason.slice(0, 256),
    denyKind: d.denyKind,
    shadow: d.shadow,
    policyHash: d.policies?.hash ?? 'sha256:unknown',
    request: d.request,
    subject: d.subject ?? {},
    evidence: d.evidence,
    ...(d.cause !== undefined ? { error: d.cause } : {}),
  };
}

function subjectOf(ctx: DecisionContext): ReceiptSubject {
  const c = ctx.capability;
  const j = ctx.jwtIdentity;
  return {
    ...(j ? { issuer: j.issuer, ...(j.subject !== undefined ? { subject: j.subject } : {}) } : {}),
    ...(c ? { capability_id: c.id, subject: c.subject, issuer: c.issuer } : {}),
    ...(ctx.credentialSha256 ? { credential_sha256: ctx.credentialSha256 } : {}),
  };
}

/**
 * The request as a receipt records it: bounded, no headers, no credentials. The query string
 * is never recorded (it can carry credentials, e.g. ?access_token=), only its SHA-256; receipts
 * are public to anyone who can ask the verifier.
 */
function toReceiptRequest(input: CheckInput): ReceiptRequest {
  const cut = input.rawPath.search(/[?#]/);
  const pathOnly = cut < 0 ? input.rawPath : input.rawPath.slice(0, cut);
  const query = cut < 0 ? '' : input.rawPath.slice(cut);
  const truncated = pathOnly.length > MAX_RECEIPT_PATH_CHARS;
  const fields: ReceiptRequest = {
    kind: input.kind,
    id: input.requestId,
    method: input.method,
    host: input.host,
    path: truncated ? pathOnly.slice(0, MAX_RECEIPT_PATH_CHARS) : pathOnly,
    protocol: input.protocol,
    source_principal: input.sourcePrincipal,
    source_address: input.sourceAddress,
    destination_address: input.destinationAddress,
    ...(truncated ? { path_truncated: true, path_sha256: sha256Hex(utf8(pathOnly)) } : {}),
    ...(query ? { query_sha256: sha256Hex(utf8(query)) } : {}),
  };
  // Empty fields are left out so that a TCP check's receipt says only what it knows.
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== '')) as ReceiptRequest;
}
