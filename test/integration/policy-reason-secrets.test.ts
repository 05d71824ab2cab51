/**
 * A CEL policy's reason (`.WithMessage(…)`) is the one thing a receipt holds that a policy
 * writes from the request at run time. A receipt never holds a credential header, the query or
 * `;params` (they are left out or hashed), so a reason that quotes one — `"api key " + headers
 * ["x-api-key"] + " may not " + path`, where CEL's path carries the query — must not carry it
 * into the signed, append-only log either. Over real gRPC, read back from JetStream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScenario, type Scenario } from '../support/scenario.js';
import { storedReceipts } from '../support/stream-audit.js';

const POLICIES = `
apiVersion: policies.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata: { name: echo-request }
spec:
  evaluation: { mode: Envoy }
  variables:
  - name: h
    expression: object.attributes.request.http.headers
  validations:
  - expression: >
      envoy.Denied(403).Response().WithMessage(
        "key " + variables.h[?"x-api-key"].orValue("-") +
        " auth " + variables.h[?"authorization"].orValue("-") +
        " cookie " + variables.h[?"cookie"].orValue("-") +
        " tenant " + variables.h[?"x-tenant"].orValue("-") +
        " oidc " + variables.h[?"x-amzn-oidc-data"].orValue("-") +
        " dpop " + variables.h[?"dpop"].orValue("-") +
        " may not " + object.attributes.request.http.path)
`;

const API_KEY = 'sk_live_51Hc0ffee0123456789';
const BASIC = Buffer.from('alice:basic-password-4c7e').toString('base64');
const SESSION = 'sess-0a1b2c3d4e5f6a7b';
const ACCESS_TOKEN = 'ya29.a0AfH6SMQueryToken';
const SIGNATURE = 'f0e1d2c3b4a5968778695a4b3c2d1e0f';
/** A signed JWT, as a load balancer (AWS ALB's x-amzn-oidc-data) or a DPoP client sends one. */
const jwt = (claims: object) => [{ alg: 'ES256', typ: 'JWT' }, claims].map((p) => Buffer.from(JSON.stringify(p)).toString('base64url')).join('.') + '.MEUCIQDx3kq0sig7NaTuReOfAjWt';
const OIDC_DATA = jwt({ iss: 'https://alb.example', sub: 'alice', exp: 4102444800 });
const DPOP = jwt({ htm: 'GET', htu: 'https://files.example/files', jti: 'e1j3V_bKic8-LAEB' });

let s: Scenario;
beforeAll(async () => {
  s = await startScenario(POLICIES);
}, 60_000);
afterAll(() => s?.stop());

describe("a policy's reason that quotes the request", () => {
  it('stores no credential header value, query or ;param in the receipt, and keeps the rest of the reason', async () => {
    const a = await s.check({
      host: 'files.example',
      path: `/files/report.pdf;jsessionid=${SESSION}?X-Amz-Signature=${SIGNATURE}&access_token=${ACCESS_TOKEN}`,
      headers: { 'x-api-key': API_KEY, authorization: `Basic ${BASIC}`, cookie: `sid=${SESSION}; theme=dark`, 'x-tenant': 'acme-corp' },
    });
    expect(a.verdict).toBe('deny');
    const stored = await storedReceipts(s.chio.nc);
    expect(stored).toHaveLength(1);
    const receipt = stored[0]!.receipt;
    const bytes = JSON.stringify(receipt);
    for (const secret of [API_KEY, BASIC, SESSION, ACCESS_TOKEN, SIGNATURE]) expect(bytes).not.toContain(secret);
    // What is no credential stays readable: the policy's own words, a plain header, the path.
    expect(receipt.decision.reason).toBe("key [redacted] auth [redacted] cookie [redacted] tenant acme-corp oidc - dpop - may not /files/report.pdf[redacted]");
    // The client is told the same reason its receipt records.
    expect(a.headers['x-chio-denial-reason']).toBe(receipt.decision.reason);
  });

  it('stores no JWT from a header whose name does not say it carries one', async () => {
    const a = await s.check({ host: 'files.example', path: '/files/x', headers: { 'x-amzn-oidc-data': OIDC_DATA, dpop: DPOP, 'x-tenant': 'acme-corp' } });
    expect(a.verdict).toBe('deny');
    const receipt = (await storedReceipts(s.chio.nc)).at(-1)!.receipt;
    expect(receipt.decision.reason).toBe('key - auth - cookie - tenant acme-corp oidc [redacted] dpop [redacted] may not /files/x');
    for (const secret of [OIDC_DATA, DPOP, OIDC_DATA.split('.')[2]!]) expect(JSON.stringify(receipt)).not.toContain(secret);
    expect(a.headers['x-chio-denial-reason']).toBe(receipt.decision.reason);
  });
});
