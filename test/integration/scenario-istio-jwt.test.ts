/**
 * The Istio JWT tutorial as policies + requests + expected answers, over real gRPC: users alice
 * and bob (JWTs from issuer testing@secure.istio.io), services svc1.example.com and
 * svc2.example.com selected by Host; alice may call only svc1, bob only svc2 and only with
 * group1 in his `groups` claim; svc2 only from the svc1 service account. Every answer's
 * receipt is proven at the end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { startScenario, denial, type Scenario } from '../support/scenario.js';

const ISSUER = 'testing@secure.istio.io';
const SVC1_SA = 'spiffe://cluster.local/ns/default/sa/svc1-sa';
const OTHER_SA = 'spiffe://cluster.local/ns/default/sa/sleep';
let s: Scenario;
let key: CryptoKey;

async function jwt(sub: string, claims: Record<string, unknown> = {}, opts: { aud?: string; exp?: string | number } = {}) {
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: 'istio-demo' })
    .setIssuer(ISSUER)
    .setSubject(sub)
    .setAudience(opts.aud ?? 'svc.example.com')
    .setIssuedAt()
    .setExpirationTime(opts.exp ?? '10m')
    .sign(key);
}

beforeAll(async () => {
  const pair = await generateKeyPair('RS256');
  key = pair.privateKey;
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'istio-demo', alg: 'RS256', use: 'sig' }] });
  s = await startScenario(`
apiVersion: chio.dev/v1
kind: RequestAuthentication
metadata: { name: jwt-example, namespace: foo }
spec:
  jwtRules:
    - issuer: ${ISSUER}
      audiences: [svc.example.com]
      jwks: '${jwks}'
---
apiVersion: chio.dev/v1
kind: AuthorizationPolicy
metadata: { name: svc1-alice, namespace: foo }
spec:
  hosts: [svc1.example.com]
  action: ALLOW
  rules:
    - from: [{ source: { requestPrincipals: ["${ISSUER}/alice"] } }]
---
apiVersion: chio.dev/v1
kind: AuthorizationPolicy
metadata: { name: svc2-bob-group1-from-svc1, namespace: foo }
spec:
  hosts: [svc2.example.com]
  action: ALLOW
  rules:
    - from: [{ source: { requestPrincipals: ["${ISSUER}/bob"], principals: ["cluster.local/ns/default/sa/svc1-sa"] } }]
      when: [{ key: "request.auth.claims[groups]", values: [group1] }]
`);
}, 60_000);

afterAll(() => s?.stop());

const call = async (host: string, token: string | undefined, principal = SVC1_SA) =>
  s.check({ method: 'GET', path: '/headers', host, principal, headers: token ? { authorization: `Bearer ${token}` } : {} });

describe('the Istio JWT tutorial', () => {
  it('alice → svc1: allow', async () => {
    expect((await call('svc1.example.com', await jwt('alice'))).verdict).toBe('allow');
  });
  it('alice → svc1 on another port: allow (host match ignores the port)', async () => {
    expect((await call('svc1.example.com:8000', await jwt('alice'))).verdict).toBe('allow');
  });
  it('alice → svc2: 403 by Policy', async () => {
    expect(denial(await call('svc2.example.com', await jwt('alice', { groups: ['group1'] })))).toEqual({ status: 403, guard: 'Policy', reason: 'no ALLOW policy matched' });
  });
  it('bob → svc1: 403', async () => {
    expect(denial(await call('svc1.example.com', await jwt('bob'))).status).toBe(403);
  });
  it('bob with group1 from svc1-sa → svc2: allow', async () => {
    expect((await call('svc2.example.com', await jwt('bob', { groups: ['group1', 'group2'] }))).verdict).toBe('allow');
  });
  it('bob without groups → svc2: 403', async () => {
    expect(denial(await call('svc2.example.com', await jwt('bob'))).status).toBe(403);
  });
  it('bob with group1 from another workload → svc2: 403', async () => {
    expect(denial(await call('svc2.example.com', await jwt('bob', { groups: ['group1'] }), OTHER_SA)).status).toBe(403);
  });
  it('no token → svc1: 401, no credentials', async () => {
    expect(denial(await call('svc1.example.com', undefined))).toEqual({ status: 401, guard: 'Policy', reason: 'no ALLOW policy matched; no credentials presented' });
  });

  describe('bad tokens, with Istio reasons', () => {
    it('malformed', async () => {
      expect(denial(await call('svc1.example.com', 'not.a-jwt'))).toEqual({ status: 401, guard: 'Jwt', reason: 'Jwt is not in the form of Header.Payload.Signature' });
    });
    it('expired', async () => {
      const expired = await jwt('alice', {}, { exp: Math.floor(Date.now() / 1000) - 3600 });
      expect(denial(await call('svc1.example.com', expired))).toEqual({ status: 401, guard: 'Jwt', reason: 'Jwt is expired' });
    });
    it('wrong audience', async () => {
      expect(denial(await call('svc1.example.com', await jwt('alice', {}, { aud: 'other.example.com' })))).toEqual({ status: 401, guard: 'Jwt', reason: 'Audiences in Jwt are not allowed' });
    });
    it('unknown issuer', async () => {
      const other = await new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid: 'istio-demo' }).setIssuer('evil@example.com').setSubject('alice').setExpirationTime('10m').sign(key);
      expect(denial(await call('svc1.example.com', other))).toEqual({ status: 401, guard: 'Jwt', reason: 'Jwt issuer is not configured' });
    });
  });

  it('records the JWT identity and the claims the policy read, never the token', async () => {
    const token = await jwt('bob', { groups: ['group1'] });
    const a = await call('svc2.example.com', token);
    expect(a.verdict).toBe('allow');
    const { proveReceipt } = await import('../../src/cli/prove.js');
    const { readFileSync } = await import('node:fs');
    const k = (n: string) => readFileSync(`${s.dataDir}/keys/${n}`, 'utf8').trim();
    const proven = await proveReceipt(a.receiptId!, { verifierUrl: s.chio.verifierUrl, logKey: k('log.pub'), kernelKeys: [k('kernel.pub')], waitMs: 5_000 });
    expect(proven.receipt.subject).toMatchObject({ issuer: ISSUER, subject: 'bob' });
    expect(proven.receipt.subject.credential_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(proven.receipt.evidence.find((e) => e.guard === 'Policy')?.details).toMatchObject({ 'request.auth.claims[groups]': 'group1' });
    expect(JSON.stringify(proven.receipt)).not.toContain(token.split('.')[2]!.slice(0, 30));
  });

  it('has a provable receipt for every answer', async () => {
    expect(await s.proveAll()).toBeGreaterThanOrEqual(13);
  });
});
