/**
 * Chio's pattern matching against Istio's, written out here from Istio's source
 * (pilot/pkg/security/authz/matcher):
 *
 * - string.go: `*` is `.+`, then a leading `*` is a suffix match, then a trailing `*` a prefix
 *   match, else exact; checked in that order, so `*a*` is the suffix `a*`;
 * - header.go: hosts take the same forms on the whole `:authority`, case-insensitively.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeHost } from '../../../src/decision/host.js';
import { matchAnyHostPattern, matchPattern, normalizeHostPattern } from '../../../src/policy/match.js';
import { authorizationPolicy, checkOf, later, pipelineOf, policySetOf } from '../decision/fixtures.js';

const RUNS = { numRuns: 2000, seed: 20_251_104 };

/** Istio's StringMatcher, as Envoy applies it. */
function istioString(pattern: string, value: string, ignoreCase = false): boolean {
  const [p, v] = ignoreCase ? [pattern.toLowerCase(), value.toLowerCase()] : [pattern, value];
  if (p === '*') return v.length > 0;
  if (p.startsWith('*')) return v.endsWith(p.slice(1));
  if (p.endsWith('*')) return v.startsWith(p.slice(0, -1));
  return v === p;
}

describe('patterns: Chio against Istio', () => {
  it('matchPattern agrees with Istio on every pattern and value (a `*` at both ends is a suffix match)', () => {
    const text = fc.array(fc.constantFrom('a', 'b', '*', '/'), { maxLength: 5 }).map((cs) => cs.join(''));
    fc.assert(fc.property(text.filter((p) => p !== ''), text, (p, v) => {
      expect(matchPattern(p, v), `${p} ${v}`).toBe(istioString(p, v));
    }), RUNS);
  });

  it('a DENY on a header value `*admin*` denies what Istio denies (the suffix `admin*`)', async () => {
    const deny = authorizationPolicy('deny-admin-role', { action: 'DENY', rules: [{ when: [{ key: 'request.headers[x-role]', values: ['*admin*'] }] }] });
    const allow = authorizationPolicy('allow-all', { action: 'ALLOW', rules: [{}] });
    const { pipeline } = pipelineOf(policySetOf({ authorization: [deny, allow] }));
    const decide = (role: string) => pipeline.decide(checkOf({ method: 'GET', path: '/x', host: 'api.example', headers: { 'x-role': role } }), later());
    expect(await decide('evil-admin*')).toMatchObject({ verdict: 'deny', guard: 'Policy' });
    expect(await decide('*admin-evil')).toMatchObject({ verdict: 'allow' });
  });

  // Chio reads the authority normalised, and a pattern without a port as any port: it may match
  // more than Istio (docs/policies.md says so), never less, so a DENY on hosts never denies less.
  it('a host pattern Istio matches on the raw :authority, Chio matches on the normalised host', () => {
    const label = fc.constantFrom('example', 'Example', 'a', 'b', 'EVIL', 'xn--bcher-kva');
    const name = fc.array(label, { minLength: 1, maxLength: 3 }).map((ls) => ls.join('.'));
    // No empty port (`example:`): Chio reads it as no port, which `example:*` does not match,
    // where Istio's prefix `example:` does. Known and left: matching `example` too would widen an ALLOW.
    const authority = fc
      .tuple(name, fc.constantFrom('', '.'), fc.constantFrom('', ':443', ':8080'))
      .map(([n, dot, port]) => `${n}${dot}${port}`);
    const pattern = fc.oneof(
      fc.constant('*'),
      authority,
      authority.map((a) => `*.${a}`),
      authority.map((a) => `*${a}`),
      name.map((n) => `${n}*`),
      name.map((n) => `${n}:*`),
    );
    fc.assert(
      fc.property(pattern, authority, (p, a) => {
        if (istioString(p, a, true)) expect(matchAnyHostPattern([normalizeHostPattern(p)], normalizeHost(a)), `${p} ${a}`).toBe(true);
      }),
      RUNS,
    );
  });
});
