/**
 * `AuthorizationPolicy` (apiVersion chio.dev/v1) with Istio's shape and semantics (SPEC §4):
 *
 *   1. a DENY policy with a matching rule denies;
 *   2. if any ALLOW policy applies to the request's host, one of them must match, else deny;
 *   3. if no ALLOW policy applies, the default decides (Chio: deny; CHIO_DEFAULT=allow).
 *   AUDIT policies never change the verdict; their matches are recorded as evidence.
 *
 * A rule matches when every present part matches: any `from` source, any `to` operation, every
 * `when` condition; within a source or operation every present field must match, where a field
 * pair (x, notX) means "x matches and notX does not". A rule with no parts matches every
 * request; a policy with no rules matches none (a DENY policy with none is refused, as
 * Istio does).
 *
 * TCP checks (no HTTP attributes), as Istio does: an ALLOW rule that names an HTTP-only field
 * (hosts, methods, paths, requestPrincipals and their not-forms, request.* conditions) never
 * matches; a DENY rule ignores those fields, so it denies more, never less. Likewise a policy
 * scoped by spec.hosts applies to TCP checks when it denies or audits, never when it allows.
 *
 * An empty list is an unset field (proto3, as Istio reads it): `paths: []` restricts nothing.
 * But what Istio refuses is refused here too, rather than read as "match every request": an
 * empty `from` or `to`, a source or operation with no field set, a condition without values;
 * and Chio's own `spec.hosts: []`, which is neither "no host" nor "every host".
 * (A template whose list rendered empty would otherwise turn an ALLOW into allow-all.)
 *
 * Addresses: `ipBlocks` and the `source.ip` / `destination.ip` conditions take IPs or CIDRs,
 * matched only against addresses of their own IP version, as Envoy does (address-blocks.ts).
 * `remoteIpBlocks` and `remote.ip` are refused: Istio reads them as the original client
 * (X-Forwarded-For, PROXY protocol), which a CheckRequest does not carry, and matching the
 * direct peer instead would make a DENY miss every client behind a gateway.
 *
 * Policies are compiled once, when the policy set loads: CIDRs parsed, host patterns normalised
 * (policy/match.ts), condition keys checked, and what a written policy may not say refused
 * (written-rules.ts).
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { ChioError } from '../../errors/index.js';
import { metadataSchema } from '../metadata.js';
import type { CheckInput } from '../../decision/check-input.js';
import type { CapabilityClaims } from '../../credentials/capability.js';
import { hostPatterns, matchAny, matchAnyHostPattern, matchPattern, type HostPattern } from '../match.js';
import { refuseEmptyParts, refuseUnmatchableHosts, refuseUnmatchableMethods, refuseUnmatchableValues, withPathPatterns, withoutEmptyLists } from './written-rules.js';
import { AddressBlocks } from './address-blocks.js';
import { matchPrincipalField, type PrincipalClaims } from './request-principal.js';
import { boundedText } from '../../text.js';

const patterns = z.array(z.string().min(1).max(1024)).max(256);
const source = z.strictObject({
  principals: patterns.optional(), notPrincipals: patterns.optional(),
  requestPrincipals: patterns.optional(), notRequestPrincipals: patterns.optional(),
  namespaces: patterns.optional(), notNamespaces: patterns.optional(),
  ipBlocks: patterns.optional(), notIpBlocks: patterns.optional(),
  remoteIpBlocks: patterns.optional(), notRemoteIpBlocks: patterns.optional(),
});
const operation = z.strictObject({
  hosts: patterns.optional(), notHosts: patterns.optional(),
  ports: patterns.optional(), notPorts: patterns.optional(),
  methods: patterns.optional(), notMethods: patterns.optional(),
  paths: patterns.optional(), notPaths: patterns.optional(),
});
const condition = z.strictObject({ key: z.string().min(1).max(256), values: patterns.optional(), notValues: patterns.optional() });
const rule = z.strictObject({
  from: z.array(z.strictObject({ source })).max(64).optional(),
  to: z.array(z.strictObject({ operation })).max(64).optional(),
  when: z.array(condition).max(64).optional(),
});

export const authorizationPolicySchema = z.strictObject({
  apiVersion: z.literal('chio.dev/v1'),
  kind: z.literal('AuthorizationPolicy'),
  metadata: metadataSchema,
  spec: z.strictObject({
    action: z.enum(['ALLOW', 'DENY', 'AUDIT']).default('ALLOW'),
    hosts: patterns.optional(),
    rules: z.array(rule).max(256).default([]),
  }),
});

export type AuthorizationPolicyDoc = z.output<typeof authorizationPolicySchema>;
export type RuleDoc = AuthorizationPolicyDoc['spec']['rules'][number];
type SourceDoc = z.output<typeof source>;
export type OperationDoc = z.output<typeof operation>;
type ConditionDoc = z.output<typeof condition>;
type OperationHosts = { hosts?: HostPattern[]; notHosts?: HostPattern[] };

/** Annotation that puts one policy in shadow mode: evaluated and recorded, never enforced. */
export const SHADOW_ANNOTATION = 'chio.dev/shadow';

export interface CompiledPolicy {
  name: string;
  action: 'ALLOW' | 'DENY' | 'AUDIT';
  shadow: boolean;
  hosts?: HostPattern[];
  rules: CompiledRule[];
}

interface CompiledRule {
  doc: RuleDoc;
  blocks: Map<string, AddressBlocks>;
  /** The host patterns of each of doc.to's operations, by index, as they are matched. */
  operationHosts: OperationHosts[];
  /** Names an HTTP-only field: see the TCP rule in the header. */
  httpOnly: boolean;
}

/** What the policies can see of a request. */
export interface PolicyContext {
  input: CheckInput;
  capability?: CapabilityClaims;
  jwt?: { requestPrincipal: string; claims: Record<string, unknown> };
  /** Filled in while deciding: the claims conditions read, for the receipt (never a token). */
  usedClaims?: Map<string, string>;
}

/** What ValidatingPolicies concluded, folded into the Istio order below. */
export interface ValidatingVerdicts {
  /** `rule`: the rule whose assert failed, when the policy kind names one (kyverno-json). */
  deny?: { policy: string; reason: string; rule?: string };
  allow?: string;
  /** The rule of `allow` that held (kyverno-json's rule, a CEL policy's `spec.validations[i]`). */
  allowRule?: string;
}

/** `rule`: the ValidatingPolicy rule that decided, when one did and its kind names rules. */
export type PolicyOutcome =
  | { verdict: 'allow'; policy?: string; rule?: string; audited: string[] }
  /** `explicit`: a DENY policy or a failed assert said no (not merely nothing said yes). */
  | { verdict: 'deny'; policy?: string; rule?: string; reason: string; audited: string[]; explicit?: true };

const CONDITION_KEY = /^(request\.headers\[[^\]]+\]|request\.auth\.claims(\[[^\]]+\])+|request\.auth\.(principal|audiences|presenter)|source\.(principal|namespace|ip)|destination\.(ip|port)|capability\.(subject|id|issuer))$/;

/** Condition keys whose values are IPs or CIDRs (matched as address blocks). */
const ADDRESS_KEYS = new Set(['source.ip', 'destination.ip']);

/** Compile a validated document; throws ChioError('CONFIG_INVALID') naming the field. */
export function compileAuthorizationPolicy(doc: AuthorizationPolicyDoc): CompiledPolicy {
  // Read as "no host", `hosts: []` made a DENY deny no HTTP request (and still every TCP one);
  // read as "every host", an ALLOW scoped to one service would allow all of them.
  if (doc.spec.hosts?.length === 0) {
    throw new ChioError('CONFIG_INVALID', 'field spec.hosts: `hosts` must not be empty (leave it out to apply the policy to every host; an empty list is not read as "no host" or "every host")');
  }
  // Istio refuses it too ("meaningless as it will never be triggered"): whoever wrote it may
  // have meant "deny all", which is `rules: [{}]`. An ALLOW without rules allows nothing.
  if (doc.spec.action === 'DENY' && doc.spec.rules.length === 0) {
    throw new ChioError('CONFIG_INVALID', 'field spec.rules: a DENY policy without rules would never deny (Istio refuses it); write `rules: [{}]` to deny every request');
  }
  refuseUnmatchableHosts(doc.spec.hosts, 'spec.hosts');
  doc.spec.rules.forEach((r, i) => refuseEmptyParts(r, `spec.rules.${i}`));
  const rules = doc.spec.rules.map((r, i) => compileRule(withoutEmptyLists(r) as RuleDoc, `spec.rules.${i}`));
  const shadow = doc.metadata.annotations?.[SHADOW_ANNOTATION] === 'true';
  return { name: doc.metadata.name, action: doc.spec.action, shadow, ...(doc.spec.hosts ? { hosts: hostPatterns(doc.spec.hosts) } : {}), rules };
}

function compileRule(written: RuleDoc, where: string): CompiledRule {
  const doc: RuleDoc = written.to ? { ...written, to: written.to.map(({ operation }, i) => ({ operation: withPathPatterns(operation, `${where}.to.${i}.operation`) })) } : written;
  doc.to?.forEach(({ operation }, i) => refuseUnmatchableMethods(operation, `${where}.to.${i}.operation`));
  refuseUnmatchableValues(doc, where);
  const blocks = new Map<string, AddressBlocks>();
  doc.from?.forEach(({ source: s }, i) => {
    for (const field of ['ipBlocks', 'notIpBlocks'] as const) {
      const list = s[field];
      if (list) blocks.set(`${i}.${field}`, AddressBlocks.parse(list, `${where}.from.${i}.source.${field}`));
    }
  });
  doc.when?.forEach((c, i) => {
    if (!CONDITION_KEY.test(c.key)) throw new ChioError('CONFIG_INVALID', `field ${where}.when.${i}.key: ${JSON.stringify(c.key)} is not a supported condition key`);
    if (!ADDRESS_KEYS.has(c.key)) return;
    for (const field of ['values', 'notValues'] as const) {
      const list = c[field];
      if (list) blocks.set(`when.${i}.${field}`, AddressBlocks.parse(list, `${where}.when.${i}.${field}`));
    }
  });
  const httpOnly =
    (doc.to ?? []).some(({ operation: o }) => o.hosts || o.notHosts || o.methods || o.notMethods || o.paths || o.notPaths) ||
    (doc.from ?? []).some(({ source: f }) => f.requestPrincipals || f.notRequestPrincipals) ||
    (doc.when ?? []).some((c) => c.key.startsWith('request.'));
  const operationHosts = (doc.to ?? []).map(({ operation: o }) => ({
    ...(o.hosts ? { hosts: hostPatterns(o.hosts) } : {}),
    ...(o.notHosts ? { notHosts: hostPatterns(o.notHosts) } : {}),
  }));
  return { doc, blocks, operationHosts, httpOnly };
}

/**
 * Decide a request against compiled policies. ValidatingPolicy verdicts slot in after the
 * DENY policies (a failed assert denies) and count as an ALLOW match (SPEC §4).
 */
export function evaluateAuthorization(
  policies: readonly CompiledPolicy[],
  ctx: PolicyContext,
  defaultVerdict: 'allow' | 'deny',
  validating: ValidatingVerdicts = {},
): PolicyOutcome {
  const tcp = ctx.input.kind === 'tcp';
  const applicable = policies.filter((p) => !p.hosts || (tcp ? p.action !== 'ALLOW' : matchAnyHostPattern(p.hosts, ctx.input.host)));
  const audited = applicable.filter((p) => p.action === 'AUDIT' && p.rules.some((r) => matchRule(r, ctx, 'DENY'))).map((p) => p.name);
  for (const p of applicable) {
    if (p.action === 'DENY' && p.rules.some((r) => matchRule(r, ctx, 'DENY'))) {
      return { verdict: 'deny', policy: p.name, reason: `denied by policy ${p.name}`, audited, explicit: true };
    }
  }
  if (validating.deny) return { verdict: 'deny', ...validating.deny, audited, explicit: true };
  const allows = applicable.filter((p) => p.action === 'ALLOW');
  for (const p of allows) {
    if (p.rules.some((r) => matchRule(r, ctx, 'ALLOW'))) return { verdict: 'allow', policy: p.name, audited };
  }
  if (validating.allow) return { verdict: 'allow', policy: validating.allow, ...(validating.allowRule !== undefined ? { rule: validating.allowRule } : {}), audited };
  if (allows.length > 0) return { verdict: 'deny', reason: 'no ALLOW policy matched', audited };
  return defaultVerdict === 'allow' ? { verdict: 'allow', audited } : { verdict: 'deny', reason: 'no policy applies; denied by default', audited };
}

function matchRule(rule: CompiledRule, ctx: PolicyContext, action: 'ALLOW' | 'DENY'): boolean {
  const tcp = ctx.input.kind === 'tcp';
  if (tcp && action === 'ALLOW' && rule.httpOnly) return false;
  const { doc } = rule;
  if (doc.from && !doc.from.some(({ source: s }, i) => matchSource(s, i, rule.blocks, ctx, tcp))) return false;
  if (doc.to && !doc.to.some(({ operation: o }, i) => matchOperation(o, rule.operationHosts[i]!, ctx.input, tcp))) return false;
  return (doc.when ?? []).every((c, i) => (tcp && c.key.startsWith('request.')) || matchCondition(c, i, rule.blocks, ctx));
}

// A pair (values, notValues) against one value or a list of values (list-valued claims).
function matchField<P extends string>(values: P[] | undefined, not: P[] | undefined, actual: string | string[] | undefined, match: (patterns: readonly P[], value: string) => boolean = matchAny): boolean {
  const list = actual === undefined ? [] : Array.isArray(actual) ? actual : [actual];
  if (values && !list.some((v) => match(values, v))) return false;
  return !(not && list.some((v) => match(not, v)));
}

function matchSource(s: SourceDoc, i: number, blocks: Map<string, AddressBlocks>, ctx: PolicyContext, tcp: boolean): boolean {
  const principal = principalOf(ctx.input);
  const ip = hostOf(ctx.input.sourceAddress);
  const inBlock = (field: string) => {
    const list = blocks.get(`${i}.${field}`);
    return list === undefined ? undefined : list.has(ip);
  };
  return (
    matchField(s.principals, s.notPrincipals, principal || undefined) &&
    (tcp || matchPrincipalField(s.requestPrincipals, s.notRequestPrincipals, principalClaimsOf(ctx))) &&
    matchField(s.namespaces, s.notNamespaces, namespacesOf(principal)) &&
    inBlock('ipBlocks') !== false && inBlock('notIpBlocks') !== true
  );
}

function matchOperation(o: OperationDoc, hosts: OperationHosts, input: CheckInput, tcp: boolean): boolean {
  const port = portOf(input.destinationAddress);
  return (
    matchField(o.ports, o.notPorts, port) &&
    (tcp ||
      (matchField(hosts.hosts, hosts.notHosts, input.host || undefined, matchAnyHostPattern) &&
        matchField(o.methods, o.notMethods, input.method) &&
        matchField(o.paths, o.notPaths, input.path)))
  );
}

function matchCondition(c: ConditionDoc, i: number, blocks: Map<string, AddressBlocks>, ctx: PolicyContext): boolean {
  if (ADDRESS_KEYS.has(c.key)) return matchAddress(c.key === 'source.ip' ? ctx.input.sourceAddress : ctx.input.destinationAddress, blocks.get(`when.${i}.values`), blocks.get(`when.${i}.notValues`));
  if (c.key === 'request.auth.principal') return matchPrincipalField(c.values, c.notValues, principalClaimsOf(ctx));
  const value = conditionValue(c.key, ctx);
  if (ctx.usedClaims && c.key.startsWith('request.auth.claims[') && value !== undefined) {
    ctx.usedClaims.set(c.key, boundedText(Array.isArray(value) ? value.join(',') : value, 256));
  }
  // A header given with an empty value is present: `*` matches it (Istio's present_match).
  return matchField(c.values, c.notValues, value, c.key.startsWith('request.headers[') ? matchAnyPresent : matchAny);
}

/** An address against (values, notValues) blocks; an address that is not an IP matches neither. */
function matchAddress(address: string, values: AddressBlocks | undefined, not: AddressBlocks | undefined): boolean {
  const ip = hostOf(address);
  if (values && !values.has(ip)) return false;
  return !(not && not.has(ip));
}

function matchAnyPresent(patterns: readonly string[], value: string): boolean {
  return patterns.some((p) => p === '*' || matchPattern(p, value));
}

function conditionValue(key: string, ctx: PolicyContext): string | string[] | undefined {
  const header = /^request\.headers\[(.+)\]$/.exec(key);
  if (header) return ctx.input.headers.get(header[1]!.toLowerCase());
  if (key.startsWith('request.auth.claims[')) return claimValue(ctx.jwt?.claims, key.slice('request.auth.claims'.length));
  const claims = ctx.jwt?.claims;
  switch (key) {
    case 'request.auth.audiences': return claimValue(claims, '[aud]');
    case 'request.auth.presenter': return claimValue(claims, '[azp]');
    case 'source.principal': return principalOf(ctx.input) || undefined;
    case 'source.namespace': return namespacesOf(principalOf(ctx.input));
    case 'destination.port': return portOf(ctx.input.destinationAddress);
    case 'capability.subject': return ctx.capability?.subject;
    case 'capability.id': return ctx.capability?.id;
    case 'capability.issuer': return ctx.capability?.issuer;
    default: return undefined;
  }
}

/**
 * Top-level claims whose string is a space-delimited list (OAuth's `scope`, RFC 8693 §4.2): Istio
 * has Envoy's jwt_authn split them (normalize_payload_in_metadata.space_delimited_claims), so a
 * condition matches each word, never the whole string. Read as one string, a DENY on the scope
 * `admin` missed `"scope": "read admin"`.
 */
const SPACE_DELIMITED_CLAIMS = new Set(['scope', 'permission']);

/** The words of a space-delimited claim, split on ' ' alone as Envoy does; a string of none stays as it is. */
function spaceDelimited(value: string): string | string[] {
  const words = value.split(' ').filter((w) => w !== '');
  return words.length > 0 ? words : value;
}

/**
 * `[a][b]` walks nested claims as Istio does; `[a.b]` is the literal claim "a.b" if present,
 * else the nested path a → b. Strings, numbers and booleans (as their text) and lists of them are matchable.
 */
function claimValue(claims: Record<string, unknown> | undefined, path: string): string | string[] | undefined {
  const names = [...path.matchAll(/\[([^\]]+)\]/g)].map((m) => m[1]!);
  let value: unknown = claims;
  for (const name of names) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    const obj = value as Record<string, unknown>;
    value = name in obj ? obj[name] : name.includes('.') ? name.split('.').reduce<unknown>((v, k) => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined), obj) : undefined;
  }
  if (typeof value === 'string') return names.length === 1 && SPACE_DELIMITED_CLAIMS.has(names[0]!) ? spaceDelimited(value) : value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  // Element by element, as a lone claim is read: one element of another type (an object, say)
  // made the whole list unreadable, and a DENY on one of its strings denied nothing.
  if (Array.isArray(value)) return value.flatMap((v) => (typeof v === 'string' ? [v] : typeof v === 'number' || typeof v === 'boolean' ? [String(v)] : []));
  return undefined;
}

/** The iss and sub claims of the verified JWT (Istio reads the principal from these); undefined without one. */
function principalClaimsOf(ctx: PolicyContext): PrincipalClaims | undefined {
  const claims = ctx.jwt?.claims;
  if (claims === undefined || typeof claims.iss !== 'string') return undefined;
  return { iss: claims.iss, sub: typeof claims.sub === 'string' ? claims.sub : undefined };
}

// Istio compares `principals` with the peer's SPIFFE id minus `spiffe://`; a principal that is
// not a SPIFFE id (a certificate subject, say) matches no principal pattern.
function principalOf(input: CheckInput): string {
  return input.sourcePrincipal.startsWith('spiffe://') ? input.sourcePrincipal.slice('spiffe://'.length) : '';
}

/**
 * The namespaces of a principal, as Istio reads them: it matches `namespaces` and
 * `source.namespace` as the regex `.*\/ns\/<namespace>\/.*` on the principal, so each segment
 * that follows an `ns` segment and has a segment after it is a namespace of the principal. An
 * Istio CA's `<trust domain>/ns/<ns>/sa/<sa>` has one; a SPIFFE id with more segments (SPIRE's
 * `td/ns/evil/sa/app/replica-1`) was read as having none, and a DENY on its namespace missed
 * it. The trust domain counts too (the regex finds `/ns/evil/` in `spiffe://ns/evil/sa/app`):
 * skipped, a DENY on `evil` missed that peer. Unlike Istio's regex, a `*` never spans
 * segments: `*-legacy` is not the namespace of `td/ns/prod/sa/x-legacy`.
 */
function namespacesOf(principal: string): string[] {
  const segments = principal.split('/');
  const out: string[] = [];
  for (let i = 0; i + 2 < segments.length; i++) if (segments[i] === 'ns') out.push(segments[i + 1]!);
  return out;
}

function hostOf(address: string): string {
  const m = /^\[?([^\]]*?)\]?(?::(\d+))?$/.exec(address);
  const host = m?.[1] ?? '';
  return isIP(host) ? host : isIP(address) ? address : '';
}

function portOf(address: string): string | undefined {
  return /:(\d+)$/.exec(address)?.[1];
}
