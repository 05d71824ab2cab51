/**
 * Evaluating `AuthorizationPolicy` documents with Istio's semantics (SPEC §4):
 *
 *   1. a DENY policy with a matching rule denies;
 *   2. if any ALLOW policy applies to the request's host, one of them must match, else deny;
 *   3. if no ALLOW policy applies, the default decides (Chio: deny; CHIO_DEFAULT=allow flips it).
 *
 * A rule matches when every one of its present parts matches: any `from` source, any `to`
 * operation, and every `when` condition. A rule with no parts matches every request; a policy
 * with no rules matches none. Principals are compared without the `spiffe://` prefix.
 */
import type { AuthorizationPolicy, PolicyRule } from './policy-set.js';
import type { CheckInput } from './check-input.js';
import type { CapabilityClaims } from './capability.js';
import { matchAny, matchAnyHost } from './match.js';

export interface PolicyContext {
  input: CheckInput;
  capability?: CapabilityClaims;
}

export type PolicyOutcome =
  | { verdict: 'allow'; policy?: string }
  | { verdict: 'deny'; policy?: string; reason: string };

/** Decide a request against the authorization policies. */
export function evaluateAuthorization(policies: readonly AuthorizationPolicy[], ctx: PolicyContext, defaultVerdict: 'allow' | 'deny'): PolicyOutcome {
  const applicable = policies.filter((p) => !p.spec.hosts || matchAnyHost(p.spec.hosts, ctx.input.host));
  for (const p of applicable) {
    if (p.spec.action === 'DENY' && p.spec.rules.some((r) => matchRule(r, ctx))) {
      return { verdict: 'deny', policy: p.metadata.name, reason: `denied by policy ${p.metadata.name}` };
    }
  }
  const allows = applicable.filter((p) => p.spec.action === 'ALLOW');
  for (const p of allows) {
    if (p.spec.rules.some((r) => matchRule(r, ctx))) return { verdict: 'allow', policy: p.metadata.name };
  }
  if (allows.length > 0) return { verdict: 'deny', reason: 'no ALLOW policy matched' };
  return defaultVerdict === 'allow' ? { verdict: 'allow' } : { verdict: 'deny', reason: 'no policy applies; denied by default' };
}

function matchRule(rule: PolicyRule, ctx: PolicyContext): boolean {
  if (rule.from && !rule.from.some(({ source }) => matchSource(source, ctx))) return false;
  if (rule.to && !rule.to.some(({ operation }) => matchOperation(operation, ctx.input))) return false;
  return (rule.when ?? []).every((c) => matchCondition(c, ctx));
}

type Field = { values?: string[] | undefined; not?: string[] | undefined };

// A field pair (x, notX): present values must match, present notValues must not.
function matchField({ values, not }: Field, value: string, match = matchAny): boolean {
  if (values && !match(values, value)) return false;
  return !(not && match(not, value));
}

function matchSource(source: NonNullable<PolicyRule['from']>[number]['source'], ctx: PolicyContext): boolean {
  return matchField({ values: source.principals, not: source.notPrincipals }, principalOf(ctx.input));
}

function matchOperation(op: NonNullable<PolicyRule['to']>[number]['operation'], input: CheckInput): boolean {
  return (
    matchField({ values: op.hosts, not: op.notHosts }, input.host, matchAnyHost) &&
    matchField({ values: op.methods, not: op.notMethods }, input.method) &&
    matchField({ values: op.paths, not: op.notPaths }, input.path)
  );
}

function matchCondition(c: NonNullable<PolicyRule['when']>[number], ctx: PolicyContext): boolean {
  const value = conditionValue(c.key, ctx);
  if (value === undefined) return c.values === undefined;
  return matchField({ values: c.values, not: c.notValues }, value);
}

function conditionValue(key: string, ctx: PolicyContext): string | undefined {
  const header = /^request\.headers\[(.+)\]$/.exec(key);
  if (header) return ctx.input.headers.get(header[1]!.toLowerCase());
  switch (key) {
    case 'source.principal':
      return principalOf(ctx.input) || undefined;
    case 'capability.subject':
      return ctx.capability?.subject;
    case 'capability.id':
      return ctx.capability?.id;
    default:
      return undefined;
  }
}

function principalOf(input: CheckInput): string {
  return input.sourcePrincipal.replace(/^spiffe:\/\//, '');
}
