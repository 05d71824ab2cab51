/**
 * Every credential a request carries is judged, and none that was not verified reaches the
 * upstream: in a repeated header (Envoy joins them with ','), and when a guard before the Jwt
 * guard denies in shadow mode (answered allow), so that the Jwt guard never looked.
 */
import { describe, expect, it } from 'vitest';
import { toCheckResponse } from '../../../src/authz/response.js';
import type { Receipt } from '../../../src/receipt/receipt.js';
import { capabilityBearers, valuesAfterPrefix } from '../../../src/credentials/header-values.js';
import { ISTIO_JWT, authorizationPolicy, capabilityToken, checkOf, later, pipelineOf, policySetOf } from './fixtures.js';

/** Istio's demo token with its signature replaced. */
const FORGED = `${ISTIO_JWT.split('.').slice(0, 2).join('.')}.AAAA`;
const PUBLIC = authorizationPolicy('public', { action: 'ALLOW', rules: [{ to: [{ operation: { paths: ['/public/*'] } }] }] });
const RECEIPT = { id: 'r-1' } as Receipt;
const removedUpstream = (d: Parameters<typeof toCheckResponse>[0]) => toCheckResponse(d, RECEIPT).ok_response?.headers_to_remove;

/** Two `authorization` lines, as Envoy sends them with encode_raw_headers. */
function twoAuthorizationLines(first: string, second: string) {
  const req = checkOf({ method: 'GET', path: '/public/x' });
  const raw = (s: string) => new TextEncoder().encode(s);
  req.attributes!.request!.http!.header_map = { headers: [{ key: 'authorization', raw_value: raw(first) }, { key: 'authorization', raw_value: raw(second) }] };
  return req;
}

describe('valuesAfterPrefix', () => {
  it('finds the prefix in each joined value: at its start in any case, elsewhere in its own case (as Envoy)', () => {
    expect(valuesAfterPrefix('Basic Zm9v,Bearer a.b.c', 'Bearer ')).toEqual(['a.b.c']);
    expect(valuesAfterPrefix('Bearer a.b.c , bearer d.e.f', 'Bearer ')).toEqual(['a.b.c', 'd.e.f']);
    expect(valuesAfterPrefix('Token Bearer a.b.c', 'Bearer ')).toEqual(['a.b.c']);
    expect(valuesAfterPrefix('Digest username="the bearer of news"', 'Bearer ')).toEqual([]);
    expect(valuesAfterPrefix('a.b.c,,d.e.f', '')).toEqual(['a.b.c', 'd.e.f']);
    expect(valuesAfterPrefix('Basic Zm9v', 'Bearer ')).toEqual([]);
    expect(valuesAfterPrefix('Bearer\ta.b.c,bearer \t d.e.f', 'Bearer ')).toEqual(['a.b.c', 'd.e.f']);
    expect(valuesAfterPrefix('Bearera.b.c', 'Bearer ')).toEqual([]);
    expect(valuesAfterPrefix('Bearer\u00a0a.b.c,bearer\u0085d.e.f\u3000', 'Bearer ')).toEqual(['a.b.c', 'd.e.f']);
    expect(valuesAfterPrefix(undefined, 'Bearer ')).toEqual([]);
    // Envoy's reading too: the first base64url run after the first prefix, past a comma.
    expect(valuesAfterPrefix('Bearer ,a.b.c', 'Bearer ')).toEqual(['', 'a.b.c']);
    expect(valuesAfterPrefix('Bearer "a.b.c"', 'Bearer ')).toEqual(['"a.b.c"', 'a.b.c']);
  });

  it('takes a prefix as text, not as a pattern', () => {
    expect(valuesAfterPrefix('Xa.b', '.*')).toEqual([]);
    expect(valuesAfterPrefix('.*a.b', '.*')).toEqual(['a.b']);
  });
});

describe('capabilityBearers', () => {
  it('takes a value that is exactly Bearer and one dot-less token, any case, any blank after the scheme', () => {
    expect(capabilityBearers('Basic Zm9v,Bearer abc, bearer\tdef')).toEqual(['abc', 'def']);
    expect(capabilityBearers('Bearer a.b.c')).toEqual([]);
    expect(capabilityBearers('Bearer\u00a0abc,Bearer\u0085def')).toEqual(['abc', 'def']);
    expect(capabilityBearers('Digest username="x Bearer y"')).toEqual([]);
  });
});

describe('another scheme in authorization', () => {
  const DIGEST = 'Digest username="the bearer of news", realm="api", nonce="abc", uri="/public/x", response="0123"';

  it.each([['without', false], ['with', true]])('is no credential of Chio\'s, %s JWT rules: allowed', async (_, jwt) => {
    const d = await pipelineOf(policySetOf({ jwt, authorization: [PUBLIC] })).pipeline.decide(checkOf({ method: 'GET', path: '/public/x', headers: { authorization: DIGEST } }), later());
    expect(d.verdict).toBe('allow');
  });

  it('stays for the upstream when a capability token is denied in shadow mode', async () => {
    const expired = capabilityToken({ issued_at: 1_600_000_000, expires_at: 1_600_000_100 });
    const d = await pipelineOf(policySetOf({ authorization: [PUBLIC] }), { mode: 'shadow' }).pipeline.decide(
      checkOf({ method: 'GET', path: '/public/x', headers: { 'x-chio-capability-token': expired, authorization: 'Basic Zm9vOmJhcg==' } }), later());
    expect(d).toMatchObject({ verdict: 'deny', guard: 'Capability', shadow: true });
    expect(removedUpstream(d)).toContain('x-chio-capability-token');
    expect(removedUpstream(d)).not.toContain('authorization');
  });
});

describe('a repeated authorization header', () => {
  const jwtSet = policySetOf({ jwt: true, authorization: [PUBLIC] });

  it('has a forged JWT after a Basic credential verified, and denied', async () => {
    const alone = await pipelineOf(jwtSet).pipeline.decide(checkOf({ method: 'GET', path: '/public/x', headers: { authorization: `Bearer ${FORGED}` } }), later());
    expect(alone).toMatchObject({ verdict: 'deny', guard: 'Jwt', code: 'JWT_SIGNATURE_INVALID' });
    const second = await pipelineOf(jwtSet).pipeline.decide(twoAuthorizationLines('Basic Zm9vOmJhcg==', `Bearer ${FORGED}`), later());
    expect(second).toMatchObject({ verdict: 'deny', guard: 'Jwt', code: 'JWT_SIGNATURE_INVALID' });
  });

  it('has a capability token after Bearer and a tab judged', async () => {
    const d = await pipelineOf(policySetOf()).pipeline.decide(checkOf({ headers: { authorization: `Bearer\t${capabilityToken()}` } }), later());
    expect(d.evidence.find((e) => e.guard === 'Capability')?.verdict).toBe('allow');
  });

  it('has a forged JWT after Bearer and a tab judged, and denied, as a capability token there is', async () => {
    const d = await pipelineOf(jwtSet).pipeline.decide(checkOf({ method: 'GET', path: '/public/x', headers: { authorization: `Bearer\t${FORGED}` } }), later());
    expect(d).toMatchObject({ verdict: 'deny', guard: 'Jwt', code: 'JWT_SIGNATURE_INVALID' });
    expect(d.credentialHeaders).toContain('authorization');
  });

  // JavaScript's \s (capabilityBearers) and Go's unicode.IsSpace (strings.Fields) take these
  // for blanks: a JWT after one reached an upstream that splits on them, never verified.
  it.each([['a no-break space', '\u00a0'], ['a next line (U+0085)', '\u0085'], ['an ideographic space', '\u3000']])(
    'has a forged JWT after Bearer and %s judged, and denied, as a capability token there is',
    async (_, blank) => {
      const d = await pipelineOf(jwtSet).pipeline.decide(checkOf({ method: 'GET', path: '/public/x', headers: { authorization: `Bearer${blank}${FORGED}` } }), later());
      expect(d).toMatchObject({ verdict: 'deny', guard: 'Jwt', code: 'JWT_SIGNATURE_INVALID' });
      expect(d.credentialHeaders).toContain('authorization');
    },
  );

  it('has a capability token before another line judged, and kept from upstream', async () => {
    const d = await pipelineOf(policySetOf({ authorization: [PUBLIC] })).pipeline.decide(twoAuthorizationLines(`Bearer ${capabilityToken()}`, 'Basic Zm9vOmJhcg=='), later());
    expect(d.evidence.find((e) => e.guard === 'Capability')?.verdict).not.toBe('skip');
    expect(d.credentialHeaders).toContain('authorization');
  });
});

describe('shadow mode: a guard that denies before the Jwt guard keeps every credential from upstream', () => {
  const shadow = () => pipelineOf(policySetOf({ jwt: true }), { mode: 'shadow' }).pipeline;

  it('removes a JWT the Jwt guard judged (as before)', async () => {
    const d = await shadow().decide(checkOf({ headers: { authorization: `Bearer ${FORGED}` } }), later());
    expect(d).toMatchObject({ verdict: 'deny', guard: 'Jwt', shadow: true });
    expect(removedUpstream(d)).toContain('authorization');
  });

  it.each([
    ['a capability token that does not verify', 'garbage'],
    ['an expired capability token', capabilityToken({ issued_at: 1_600_000_000, expires_at: 1_600_000_100 })],
  ])('removes a forged JWT when the Capability guard denies %s', async (_, token) => {
    const d = await shadow().decide(checkOf({ headers: { 'x-chio-capability-token': token, authorization: `Bearer ${FORGED}` } }), later());
    expect(d).toMatchObject({ verdict: 'deny', guard: 'Capability', shadow: true });
    expect(removedUpstream(d)).toEqual(expect.arrayContaining(['x-chio-capability-token', 'authorization']));
  });

  it.each([['a capability token', `Bearer ${capabilityToken()}`], ['a forged JWT', `Bearer ${FORGED}`]])('removes %s when the Request guard denies', async (_, value) => {
    const d = await shadow().decide(checkOf({ path: '/tools/a%2fb', headers: { authorization: value } }), later());
    expect(d).toMatchObject({ verdict: 'deny', guard: 'Request', shadow: true });
    expect(removedUpstream(d)).toContain('authorization');
  });

  it('keeps a header no credential comes in', async () => {
    const d = await shadow().decide(checkOf({ headers: { 'x-chio-capability-token': 'garbage', cookie: 'a=b' } }), later());
    expect(removedUpstream(d)).not.toContain('cookie');
    expect(removedUpstream(d)).not.toContain('authorization');
  });
});
