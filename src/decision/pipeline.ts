/**
 * The decision pipeline: CheckRequest → Decision, never throwing (SPEC §2, fail closed).
 *
 * Order: Request (is the input well-formed and bounded?) → Capability → Jwt → Policy. The first
 * deny ends the pipeline and names its guard; an exception anywhere is a deny by guard Internal
 * (code DECISION_FAILED), reported to `onInternalError` for the log and never to the client.
 * In shadow mode (CHIO_MODE=shadow, or a policy annotated chio.dev/shadow) the whole pipeline
 * runs and the would-be verdict is recorded with shadow: true; the answer (response.ts) is then
 * allow. An Internal deny is never shadowed: an error is not a verdict.
 */
import { isChioError, type DenialGuard } from '../errors/index.js';
import type { Evidence, ReceiptRequest, ReceiptSubject } from '../receipt/receipt.js';
import { sha256HexOfText } from '../crypto/sha256.js';
import { boundedText } from '../text.js';
import { toCheckInput, type CheckInput } from './check-input.js';
import { capabilityBearers } from '../credentials/header-values.js';
import { parseTraceparent } from './traceparent.js';
import { GUARDS, type DecisionContext } from './guards.js';
import { allowed, denialOf, denied, type Decision, type DecisionFacts, type Denial } from './decision.js';
import type { VerifiedCapability } from '../credentials/capability.js';
import type { PolicySet } from '../policy/policy-set.js';
import { VerificationCache } from '../credentials/verification-cache.js';
import type { CheckRequest } from '../authz/wire.js';

/** Request fields longer than this are cut in the receipt (the SHA-256 of the full path is kept). */
export const MAX_RECEIPT_PATH_CHARS = 2048;
/**
 * A credential's id, subject and issuer and a guard's details are cut to this in the receipt
 * (credential_sha256 still names the whole token). A trusted issuer's token may carry a `sub`
 * of thousands of characters, recorded in `subject` and again in the guard's evidence: with a
 * long source principal its receipt was over MAX_RECEIPT_BYTES, refused, and the Check 503.
 */
export const MAX_RECEIPT_TEXT_CHARS = 256;
/** The policy hash recorded when the policy set itself could not be read. */
export const UNKNOWN_POLICY_HASH = 'sha256:unknown';

export interface PipelineOptions {
  policies: () => PolicySet;
  mode: 'enforce' | 'shadow';
  defaultVerdict: 'allow' | 'deny';
  /** Told what was thrown whenever a Check is denied by guard Internal: for the log only. */
  onInternalError: (err: unknown, request: ReceiptRequest) => void;
  isRevoked?: (capabilityId: string) => boolean;
  now?: () => number;
}

export class DecisionPipeline {
  private readonly opts: PipelineOptions;
  private readonly now: () => number;
  private cache: { forSet: PolicySet; cache: VerificationCache<VerifiedCapability> } | undefined;

  constructor(opts: PipelineOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
  }

  /** Decide one CheckRequest; waiting work gives up by `deadline` (absolute ms). Never rejects. */
  async decide(req: CheckRequest | null | undefined, deadline: number): Promise<Decision> {
    const shadow = this.opts.mode === 'shadow';
    // One reading of the clock: what credential times are judged against, and what the receipt
    // records (check-handler.ts), so that no receipt shows an allow at a time its credential
    // had expired at.
    const decidedAt = this.now();
    const evidence: Evidence[] = [];
    let policyHash = UNKNOWN_POLICY_HASH;
    let request: ReceiptRequest = {};
    let ctx: DecisionContext | undefined;
    const factsOf = (shadowed: boolean, subject: ReceiptSubject = {}, credentialHeaders = ctx ? [...ctx.credentialHeaders] : []): DecisionFacts => {
      const facts: DecisionFacts = { shadow: shadowed, policyHash, request, subject, evidence, credentialHeaders, decidedAt };
      if (ctx?.policyResponse) facts.policyResponse = ctx.policyResponse;
      return facts;
    };
    try {
      const policies = this.opts.policies();
      policyHash = policies.hash;
      let input: CheckInput;
      try {
        input = toCheckInput(req);
      } catch (err) {
        if (!isChioError(err, 'REQUEST_MALFORMED')) throw err;
        evidence.push({ guard: 'Request', verdict: 'deny' });
        return denied('Request', denialOf('REQUEST_MALFORMED', err.message), factsOf(shadow, {}, credentialHeaderNames(policies)));
      }
      evidence.push({ guard: 'Request', verdict: 'allow' });
      request = toReceiptRequest(input);
      ctx = {
        input,
        request: req,
        policies,
        nowSeconds: Math.floor(decidedAt / 1000),
        deadline,
        defaultVerdict: this.opts.defaultVerdict,
        capabilityCache: this.cacheFor(policies),
        isRevoked: this.opts.isRevoked ?? (() => false),
        credentialHeaders: new Set(),
      };
      let shadowDeny: { guard: DenialGuard; denial: Denial } | undefined;
      for (const guard of GUARDS) {
        const result = await guard.check(ctx);
        // Member by member here and below, not by conditional spreads: about ten times the cost
        // on every Check (Node 20's V8).
        const said: Evidence = { guard: guard.name, verdict: result.verdict };
        if (result.details) said.details = boundedDetails(result.details);
        evidence.push(said);
        // Global shadow answers allow even here: credentials still stay out of upstream, those
        // the guards after this one would have judged too.
        if (result.verdict === 'deny') {
          if (guard.name === 'Capability') for (const name of unjudgedCredentialHeaders(input.headers, policies)) ctx.credentialHeaders.add(name);
          return denied(guard.name, result, factsOf(shadow, subjectOf(ctx)));
        }
        if (result.verdict === 'allow' && result.shadowDeny) shadowDeny ??= { guard: guard.name, denial: result.shadowDeny };
      }
      // A policy in shadow mode would have denied: record that verdict, answer allow (SPEC §2).
      if (shadowDeny) return denied(shadowDeny.guard, shadowDeny.denial, factsOf(true, subjectOf(ctx)));
      return allowed(factsOf(shadow, subjectOf(ctx)));
    } catch (err) {
      this.report(err, request);
      evidence.push({ guard: 'Internal', verdict: 'deny' });
      return denied('Internal', denialOf('DECISION_FAILED', 'the decision pipeline failed'), factsOf(false));
    }
  }

  /** Verified capability tokens cached for the current policy set (bounded: verification-cache.ts). */
  get cachedCapabilities(): number {
    return this.cache?.cache.size ?? 0;
  }

  private report(err: unknown, request: ReceiptRequest): void {
    try {
      this.opts.onInternalError(err, request);
    } catch {
      // The log failing must not turn a deny into a rejection: decide never rejects.
    }
  }

  private cacheFor(policies: PolicySet): VerificationCache<VerifiedCapability> {
    if (this.cache?.forSet !== policies) this.cache = { forSet: policies, cache: new VerificationCache() };
    return this.cache.cache;
  }
}

/**
 * Every header a credential Chio judges may come in. A guard that denies before the Jwt guard
 * has run leaves its JWTs unjudged; they are kept from upstream all the same, since shadow mode
 * answers that deny allow and a forged token must not reach an upstream that trusts the mesh.
 * A request the Request guard refused cannot be read safely: all of these go.
 */
function credentialHeaderNames(policies: PolicySet): string[] {
  return ['x-chio-capability-token', 'authorization', ...(policies.jwt?.headerNames() ?? [])];
}

/**
 * The headers of `headers` that hold a credential the guards after the Capability guard would
 * have judged: a Basic `authorization` for the upstream stays, a Bearer one goes.
 */
function unjudgedCredentialHeaders(headers: ReadonlyMap<string, string>, policies: PolicySet): string[] {
  const names = new Set<string>(policies.jwt?.headersHoldingTokens((name) => headers.get(name)) ?? []);
  if (headers.has('x-chio-capability-token')) names.add('x-chio-capability-token');
  if (capabilityBearers(headers.get('authorization')).length > 0) names.add('authorization');
  return [...names];
}

function subjectOf(ctx: DecisionContext): ReceiptSubject {
  const c = ctx.capability;
  const j = ctx.jwtIdentity;
  const cut = (text: string) => boundedText(text, MAX_RECEIPT_TEXT_CHARS);
  const subject: ReceiptSubject = {};
  // Issuers are the policy set's own (a JWT rule's, a trusted verifier key): kept whole.
  if (j) {
    subject.issuer = j.issuer;
    if (j.subject !== undefined) subject.subject = cut(j.subject);
  }
  // A capability's subject and issuer are the ones recorded when both were presented.
  if (c) {
    subject.capability_id = cut(c.id);
    subject.subject = cut(c.subject);
    subject.issuer = c.issuer;
  }
  if (ctx.credentialSha256) subject.credential_sha256 = ctx.credentialSha256;
  return subject;
}

/** A guard's details as the receipt records them: each text cut to MAX_RECEIPT_TEXT_CHARS. */
function boundedDetails(details: Record<string, string | number | boolean>): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const key of Object.keys(details)) {
    const value = details[key]!;
    const kept = typeof value === 'string' ? boundedText(value, MAX_RECEIPT_TEXT_CHARS) : value;
    // Defined, not assigned: a `__proto__` member (from a parsed claim) stays a member.
    if (key === '__proto__') Object.defineProperty(out, key, { value: kept, enumerable: true, writable: true, configurable: true });
    else out[key] = kept;
  }
  return out;
}

/**
 * The request as a receipt records it: bounded, no headers, no credentials. The path is the
 * normalised one policies decided on (SPEC §5); the query string, `;params` and the raw
 * spelling are never recorded (they can carry credentials: ?access_token=, ;jsessionid=), only
 * their SHA-256; receipts are public to anyone who can ask the verifier. The host is the
 * normalised one, which never has userinfo (refused by the Request guard).
 */
function toReceiptRequest(input: CheckInput): ReceiptRequest {
  const { path, rawPath, suffix, params } = input.target;
  const truncated = path.length > MAX_RECEIPT_PATH_CHARS;
  const traceparent = parseTraceparent(input.headers.get('traceparent'));
  const fields: ReceiptRequest = { kind: input.kind };
  // Empty fields are left out so that a TCP check's receipt says only what it knows. Set one
  // by one, on the Check path: no object spread and filtered again.
  const text = (key: 'id' | 'method' | 'host' | 'path' | 'protocol' | 'source_principal' | 'source_address' | 'destination_address', value: string) => {
    if (value !== '') fields[key] = value;
  };
  text('id', input.requestId);
  text('method', input.method);
  text('host', input.host);
  text('path', truncated ? path.slice(0, MAX_RECEIPT_PATH_CHARS) : path);
  text('protocol', input.protocol);
  text('source_principal', input.sourcePrincipal);
  text('source_address', input.sourceAddress);
  text('destination_address', input.destinationAddress);
  if (truncated) {
    fields.path_truncated = true;
    fields.path_sha256 = sha256HexOfText(path);
  }
  if (rawPath !== path) fields.raw_path_sha256 = sha256HexOfText(rawPath);
  if (suffix) fields.query_sha256 = sha256HexOfText(suffix);
  if (params) fields.params_sha256 = sha256HexOfText(params);
  if (traceparent) fields.traceparent = traceparent;
  return fields;
}
