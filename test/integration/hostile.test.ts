/**
 * Hostile input over real gRPC (SPEC: treat every CheckRequest, token and header as hostile):
 * each is a deny with a reason, Chio keeps serving, and each deny still has a provable receipt.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { createHmac } from 'node:crypto';
import { startScenario, denial, type Scenario } from '../support/scenario.js';
import { demoToken } from '../../src/up.js';
import { loadChioProtos } from '../../src/authz/proto.js';
import { summarise, type CheckAnswer } from '../../src/cli/check.js';
import type { CheckResponse } from '../../src/authz/wire.js';

let s: Scenario;
let token: string;
let rsaPrivate: CryptoKey;
let rsaPublicPem: string;

const ISSUER = 'testing@secure.istio.io';
const b64url = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

beforeAll(async () => {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  rsaPrivate = privateKey;
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  const { createPublicKey } = await import('node:crypto');
  rsaPublicPem = createPublicKey({ key: jwk as any, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
  s = await startScenario(`
apiVersion: chio.dev/v1
kind: CapabilityAuthority
metadata: { name: demo }
spec: { issuerKeyFiles: [demo-issuer.pub], maxTtl: 24h }
---
apiVersion: chio.dev/v1
kind: RequestAuthentication
metadata: { name: jwt }
spec:
  jwtRules:
    - issuer: ${ISSUER}
      jwks: '${JSON.stringify({ keys: [jwk] })}'
---
apiVersion: chio.dev/v1
kind: AuthorizationPolicy
metadata: { name: tools }
spec:
  rules:
    - to: [{ operation: { methods: [POST, GET], paths: ["/tools/*"] } }]
      when: [{ key: capability.id, values: ["*"] }]
    - to: [{ operation: { methods: [GET], paths: ["/tools/*"] } }]
      from: [{ source: { requestPrincipals: ["*"] } }]
`);
  token = demoToken(s.chio.config);
}, 60_000);

afterAll(async () => {
  await s?.stop();
});

async function stillServing() {
  const ok = await s.check({ method: 'POST', path: '/tools/hello', headers: { 'x-chio-capability-token': token } });
  expect(ok.verdict).toBe('allow');
}

describe('hostile credentials', () => {
  it('refuses alg none', async () => {
    const jwt = `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ iss: ISSUER, sub: 'eve', exp: Math.floor(Date.now() / 1000) + 600 })}.`;
    const a = await s.check({ method: 'GET', path: '/tools/x', headers: { authorization: `Bearer ${jwt}` } });
    expect(denial(a)).toMatchObject({ status: 401, guard: 'Jwt' });
    expect(a.receiptId).toBeDefined();
  });

  it('refuses HS256 signed with the RSA public key as the HMAC secret', async () => {
    const head = b64url({ alg: 'HS256', typ: 'JWT', kid: 'k1' });
    const body = b64url({ iss: ISSUER, sub: 'eve', exp: Math.floor(Date.now() / 1000) + 600 });
    const sig = createHmac('sha256', rsaPublicPem).update(`${head}.${body}`).digest('base64url');
    const a = await s.check({ method: 'GET', path: '/tools/x', headers: { authorization: `Bearer ${head}.${body}.${sig}` } });
    expect(denial(a)).toMatchObject({ status: 401, guard: 'Jwt' });
  });

  it('refuses a 1 MB capability token and a 1 MB JWT', async () => {
    const big = 'A'.repeat(1024 * 1024);
    const a = await s.check({ method: 'POST', path: '/tools/x', headers: { 'x-chio-capability-token': big } });
    expect(a.verdict).toBe('deny');
    expect(a.headers['x-chio-denial-reason']).toBeTruthy();
    const b = await s.check({ method: 'GET', path: '/tools/x', headers: { authorization: `Bearer ${big}.${big}.${big}` } });
    expect(b.verdict).toBe('deny');
    expect(b.headers['x-chio-denial-reason']).toBeTruthy();
    await stillServing();
  });

  it('accepts a real JWT (the control for the cases above)', async () => {
    const jwt = await new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer(ISSUER).setExpirationTime('10m').sign(rsaPrivate);
    const a = await s.check({ method: 'GET', path: '/tools/x', headers: { authorization: `Bearer ${jwt}` } });
    expect(a.verdict).toBe('allow');
  });
});

describe('hostile requests', () => {
  it('refuses 10,000 headers', async () => {
    const headers = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`x-h-${i}`, 'v']));
    const a = await s.check({ method: 'POST', path: '/tools/x', headers: { ...headers, 'x-chio-capability-token': token } });
    expect(denial(a)).toMatchObject({ status: 403, guard: 'Request', reason: 'more than 512 headers' });
    await stillServing();
  });

  it.each([
    ['NUL in the path', { path: '/tools/a\u0000b' }, 'path has a control character'],
    ['NUL in a header', { headers: { 'x-a': 'a\u0000b' } }, 'a header has an empty name or a control character'],
    ['encoded slash', { path: '/tools%2fadmin' }, 'path has an encoded slash'],
    ['bad escape', { path: '/tools/%zz' }, 'path has a malformed percent-escape'],
  ])('refuses %s', async (_name, over, reason) => {
    const a = await s.check({ method: 'POST', headers: { 'x-chio-capability-token': token }, ...over } as any);
    expect(denial(a)).toEqual({ status: 403, guard: 'Request', reason });
  });

  it.each([
    ['/tools/../admin', 403, 'Capability'],
    ['/tools/%2e%2e/admin', 403, 'Capability'],
    ['/tools/.%2E/admin', 403, 'Capability'],
    ['/TOOLS/hello', 403, 'Capability'],
    ['/tools//hello', 200, undefined],
    ['//tools/hello', 403, 'Request'],
    ['/tools/hello;jsessionid=x', 200, undefined],
    ['/tools;x=1/../admin', 403, 'Capability'],
  ])('normalises %j as Envoy/Istio and upstreams would (→ %i)', async (path, status, guard) => {
    const a = await s.check({ method: 'POST', path, headers: { 'x-chio-capability-token': token } });
    expect(a.httpStatus).toBe(status);
    expect(a.headers['x-chio-denial-guard']).toBe(guard);
  });

  it('decides a CheckRequest with no attributes at all', async () => {
    const a = await s.checkRaw({});
    expect(a.verdict).toBe('deny');
    expect(a.receiptId).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses invalid UTF-8 on the wire', async () => {
    // CheckRequest{attributes(1){request(4){http(2){method(2)="GET", path(4)=0x2f 0xff 0xfe 0x41}}}}
    const field = (no: number, bytes: Buffer) => Buffer.concat([Buffer.from([(no << 3) | 2, bytes.length]), bytes]);
    const http = Buffer.concat([field(2, Buffer.from('GET')), field(4, Buffer.from([0x2f, 0xff, 0xfe, 0x41]))]);
    const raw = field(1, field(4, field(2, http)));
    const { authorizationService } = loadChioProtos();
    const Client = grpc.makeGenericClientConstructor({
      Check: { ...authorizationService.Check!, requestSerialize: (b: Buffer) => b },
    }, 'RawAuthorization');
    const client = new Client(s.chio.grpcAddr, grpc.credentials.createInsecure()) as any;
    const res = await new Promise<CheckResponse>((resolve, reject) => client.Check(raw, (err: Error | null, r: CheckResponse) => (err ? reject(err) : resolve(r))));
    client.close();
    const a = summarise(res);
    expect(denial(a)).toEqual({ status: 403, guard: 'Request', reason: 'path is not valid UTF-8' });
    await stillServing();
  });
});

describe('forged Chio headers', () => {
  const FORGED = {
    'x-chio-receipt-id': 'f'.repeat(64),
    'x-chio-policy-hash': 'sha256:forged',
    'x-chio-verdict': 'forged',
    'x-chio-shadow-verdict': 'deny',
    'x-chio-denial-guard': 'Policy',
    'x-chio-denial-reason': 'forged',
  };

  /**
   * The request headers an upstream is handed, as Envoy's ext_authz filter applies an allow:
   * ok_response.headers set first (append_action 2 overwrites), then headers_to_remove.
   */
  function upstreamSees(sent: Record<string, string>, a: CheckAnswer): Record<string, string> {
    const seen = { ...sent, ...a.headers };
    for (const name of a.removedHeaders ?? []) delete seen[name];
    return seen;
  }

  it('lets no x-chio-* header reach upstream that Chio did not write', async () => {
    const sent = { ...FORGED, 'x-chio-capability-token': token };
    const a = await s.check({ method: 'POST', path: '/tools/hello', headers: sent });
    expect(a.verdict).toBe('allow');
    expect(a.receiptId).not.toBe(FORGED['x-chio-receipt-id']);
    const chio = Object.entries(upstreamSees(sent, a)).filter(([k]) => k.startsWith('x-chio-'));
    expect(Object.fromEntries(chio)).toEqual({ 'x-chio-receipt-id': a.receiptId, 'x-chio-policy-hash': s.chio.authz.policyHash, 'x-chio-verdict': 'allow' });
  });
});

describe('receipts of hostile requests', () => {
  it('proves every receipt handed out above', async () => {
    expect(await s.proveAll()).toBeGreaterThan(15);
  });
});
