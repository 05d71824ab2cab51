/**
 * The Chio mesh harness (../shared/seeds: Istio ext_authz with Chio): the demo policy set plus
 * JWT authentication. POST /tools/hello with a capability token → allow with
 * x-chio-receipt-id; without credentials → deny 401 with guard; GET /tools/x with a bearer
 * JWT → allow. TCP checks (Istio's TCP ext_authz filter) get a decision too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { startScenario, denial, type Scenario } from '../support/scenario.js';
import { REPO_ROOT } from '../support/chio.js';
import { demoToken } from '../../src/up.js';
import { buildCheckRequest } from '../../src/cli/envoy-request.js';

let s: Scenario;
let token: string;
let key: CryptoKey;
const ISSUER = 'https://issuer.agent-tools.example';

beforeAll(async () => {
  const pair = await generateKeyPair('ES256');
  key = pair.privateKey;
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'mesh', alg: 'ES256' }] });
  const demo = readFileSync(join(REPO_ROOT, 'deploy/policies/demo.yaml'), 'utf8');
  s = await startScenario(`${demo}
---
apiVersion: chio.dev/v1
kind: RequestAuthentication
metadata: { name: agents }
spec:
  jwtRules: [{ issuer: "${ISSUER}", jwks: '${jwks}' }]
---
apiVersion: chio.dev/v1
kind: AuthorizationPolicy
metadata: { name: tools-read-with-jwt }
spec:
  rules:
    - from: [{ source: { requestPrincipals: ["${ISSUER}/*"] } }]
      to: [{ operation: { methods: [GET], paths: ["/tools/*"] } }]
`);
  token = demoToken(s.chio.config);
}, 60_000);

afterAll(() => s?.stop());

const principal = 'spiffe://cluster.local/ns/agent-tools/sa/agent';

describe('the Chio mesh harness', () => {
  it('POST /tools/hello with a capability token: allow with x-chio-receipt-id', async () => {
    const a = await s.check({ method: 'POST', path: '/tools/hello', principal, headers: { 'x-chio-capability-token': token } });
    expect(a.verdict).toBe('allow');
    expect(a.headers['x-chio-receipt-id']).toMatch(/^[0-9a-f]{64}$/);
  });
  it('POST /tools/hello without credentials: 401 with guard', async () => {
    expect(denial(await s.check({ method: 'POST', path: '/tools/hello', principal }))).toMatchObject({ status: 401, guard: 'Policy' });
  });
  it('GET /tools/x with a bearer JWT: allow, and the JWT does not reach upstream', async () => {
    const jwt = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'mesh' }).setIssuer(ISSUER).setSubject('agent-7').setExpirationTime('5m').sign(key);
    const a = await s.check({ method: 'GET', path: '/tools/x', principal, headers: { authorization: `Bearer ${jwt}` } });
    expect(a.verdict).toBe('allow');
    expect(a.removedHeaders).toEqual(expect.arrayContaining(['authorization', 'x-chio-capability-token']));
  });
  it('a capability token sent as a bearer does not reach upstream either', async () => {
    const a = await s.check({ method: 'POST', path: '/tools/hello', principal, headers: { authorization: `Bearer ${token}` } });
    expect(a.verdict).toBe('allow');
    expect(a.removedHeaders).toContain('authorization');
  });
  it('POST /tools/x with the same JWT: 403 (the JWT policy grants GET only)', async () => {
    const jwt = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'mesh' }).setIssuer(ISSUER).setSubject('agent-7').setExpirationTime('5m').sign(key);
    expect(denial(await s.check({ method: 'POST', path: '/tools/x', principal, headers: { authorization: `Bearer ${jwt}` } })).status).toBe(403);
  });
  it('a TCP check (no request.http): a decision with a receipt', async () => {
    const req = buildCheckRequest({ method: 'GET', path: '/', host: 'x', principal });
    delete req.attributes!.request;
    const a = await s.checkRaw(req);
    expect(denial(a)).toMatchObject({ status: 403, guard: 'Policy' });
    expect(a.receiptId).toMatch(/^[0-9a-f]{64}$/);
  });
  it('has a provable receipt for every answer', async () => {
    expect(await s.proveAll()).toBe(6);
  });
});
