/**
 * Property-based fuzzing of the path from a CheckRequest to a signed receipt and its answer:
 * hostile CheckRequests (as Envoy's proto allows them) and JWTs whose trusted signature covers
 * hostile claims, through the real pipeline with each policy engine loaded from files by the
 * real loader. For every request:
 *
 *   - decide() never rejects and reports no internal error (a deny carries a reason);
 *   - the receipt draft has a canonical form (RFC 8785) and is signed and sealed by signNext
 *     under MAX_RECEIPT_BYTES less the room for its correction, which is signed too;
 *   - the CheckResponse built from it encodes, and every header in it is one Envoy takes: a
 *     lower-case HTTP token for a name, printable ASCII for a value, each under 16 KiB.
 *
 * A draft refused by signNext is a Check answered 503 by guard ReceiptLedger, with no receipt:
 * a decision that cannot be recorded. Seeds are printed by fast-check on failure (FUZZ_SEED
 * replays one); FUZZ_RUNS raises the number of runs.
 */
import { generateKeyPairSync, sign as signWith, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckRequest } from '../../src/authz/wire.js';
import { toReceiptDraft, type Decision } from '../../src/decision/decision.js';
import { DecisionPipeline } from '../../src/decision/pipeline.js';
import { canonicalize } from '../../src/receipt/jcs.js';
import { MAX_RECEIPT_BYTES, GENESIS_PREV, type Receipt } from '../../src/receipt/receipt.js';
import { toCorrectionDraft } from '../../src/receipt/correction.js';
import { CORRECTION_ROOM_BYTES, signNext } from '../../src/chain/sign-next.js';
import { toCheckResponse } from '../../src/authz/response.js';
import { encodeCheckResponse } from '../../src/authz/check-response-codec.js';
import { loadPolicySetFiles, type PolicySet } from '../../src/policy/policy-set.js';
import { generateKeys, loadKey } from '../../src/keys.js';
import { issueCapability, CAPABILITY_SCHEMA } from '../../src/credentials/capability.js';
import { createNodeSigner } from '../../src/crypto/ed25519.js';
import { ChioError } from '../../src/errors/index.js';
import { kernelOf } from '../unit/receipt/helpers.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
const SEED = process.env.FUZZ_SEED === undefined ? 20260421 : Number(process.env.FUZZ_SEED);
const NOW_MS = 1_700_000_000_000;
const KERNEL = kernelOf(9);
const ISSUER = 'https://idp.fuzz.example';

// ---- policy sets, each loaded from files by the real loader -------------------------------

const dir = mkdtempSync(join(tmpdir(), 'chio-receipt-fuzz-'));
const keyDir = join(dir, 'keys');
let jwtKey: KeyObject;
const sets: Record<string, PolicySet> = {};

function loadSet(name: string, yaml: string): PolicySet {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, yaml);
  return loadPolicySetFiles([file], keyDir, { now: () => NOW_MS });
}

beforeAll(() => {
  generateKeys(keyDir, 'fuzz.local/log');
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  jwtKey = privateKey;
  const jwks = JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256', use: 'sig' }] });
  sets.demo = loadSet('demo', readFileSync(new URL('../../deploy/policies/demo.yaml', import.meta.url), 'utf8'));
  sets.istio = loadSet('istio', ISTIO_POLICIES(jwks));
  sets.kyverno = loadSet('kyverno', readFileSync(new URL('../fixtures/policy-tests/kyverno/policies.yaml', import.meta.url), 'utf8'));
  sets.cel = loadSet('cel', CEL_POLICY);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** RequestAuthentication plus when-conditions on headers, claims (nested, lists) and principals. */
const ISTIO_POLICIES = (jwks: string) => `
apiVersion: chio.dev/v1
kind: RequestAuthentication
metadata: { name: idp }
spec:
  jwtRules:
    - issuer: ${ISSUER}
      jwks: '${jwks}'
      fromHeaders: [{ name: x-jwt }, { name: authorization, prefix: "Bearer " }]
---
apiVersion: chio.dev/v1
kind: AuthorizationPolicy
metadata: { name: tenant-admins }
spec:
  action: ALLOW
  rules:
    - from: [{ source: { requestPrincipals: ["${ISSUER}/*"] } }]
      to: [{ operation: { methods: [GET, POST], paths: ["/api/*"] } }]
      when:
        - { key: "request.headers[x-tenant]", values: ["acme*", "*corp"] }
        - { key: "request.auth.claims[groups]", values: [admins, "ops*"] }
        - { key: "request.auth.claims[name]", notValues: [mallory] }
        - { key: "request.auth.claims[org][role]", values: ["*"] }
        - { key: "request.auth.claims[scope]", values: [write] }
---
apiVersion: chio.dev/v1
kind: AuthorizationPolicy
metadata: { name: deny-blocked }
spec:
  action: DENY
  rules:
    - when:
        - { key: "request.auth.claims[sub]", values: ["blocked*"] }
    - when:
        - { key: "request.auth.principal", values: ["*/evil"] }
    - to: [{ operation: { paths: ["/admin*"], hosts: ["*.internal"] } }]
`;

/** A CEL policy whose message, body, headers and metadata quote the request. */
const CEL_POLICY = `
apiVersion: policies.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata: { name: echo }
spec:
  evaluation: { mode: Envoy }
  failurePolicy: Fail
  variables:
  - name: h
    expression: object.attributes.request.http.headers
  - name: who
    expression: variables.h[?"x-user"].orValue("-")
  validations:
  - expression: >
      variables.h[?"x-allow"].orValue("") == "yes"
        ? envoy.Allowed()
            .WithHeader("x-user", variables.who)
            .WithoutHeader(variables.h[?"x-drop"].orValue("x-none"))
            .WithResponseHeader("x-echo-path", object.attributes.request.http.path)
            .Response()
            .WithMetadata({"user": variables.who, "method": object.attributes.request.http.method})
        : envoy.Denied(variables.h[?"x-status"].orValue("403") == "401" ? 401 : 403)
            .WithHeader("x-user", variables.who)
            .WithBody("no " + object.attributes.request.http.method + " " + object.attributes.request.http.path + " for " + variables.who)
            .Response()
            .WithMessage("user " + variables.who + " may not " + object.attributes.request.http.path + " with " + variables.h[?"authorization"].orValue("-"))
            .WithMetadata({"user": variables.who, "host": object.attributes.request.http.host})
`;

// ---- hostile parts ------------------------------------------------------------------------

const b64url = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64url');

/** Text Envoy would pass on: any characters but controls, long runs of wide ones. */
const fair = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }).map((s) => s.replace(/[\u0000-\u001f\u007f]/g, '')),
  fc.tuple(fc.constantFrom('a', '😀', '€', '"', '\\', 'é', '\u2028'), fc.nat({ max: 3000 })).map(([c, n]) => c.repeat(n)),
);
/** Text as an attacker would send it: any code points, lone surrogates, controls, long runs. */
const text = fc.oneof(
  fair,
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', ' ', '"', '\\', '\u2028', '\ud800', '\udc00x', '😀', '\ufeff', '\u0000', '%', '%zz', '%e2%82', 'é', '\u212a'),
);

/** A signed JWT: trusted signature, hostile payload (raw bytes, so anything JSON.parse takes). */
function jwt(payload: string, header: Record<string, unknown> = { alg: 'ES256', kid: 'k1', typ: 'JWT' }): string {
  const input = `${b64url(JSON.stringify(header))}.${b64url(payload)}`;
  return `${input}.${b64url(signWith('sha256', Buffer.from(input), { key: jwtKey, dsaEncoding: 'ieee-p1363' }))}`;
}

const claimValue: fc.Arbitrary<unknown> = fc.oneof(
  text,
  fc.array(text, { maxLength: 5 }),
  fc.constantFrom(1e308, -0, 5e-324, 2 ** 53 + 1, true, null, 'admins', 'ops-team', 'write read', 'blocked-1'),
  fc.jsonValue({ maxDepth: 4 }),
);
/** A payload as JSON text: objects of hostile claims, then spelled with escapes, deep nesting, huge numbers. */
const payload = fc.oneof(
  fc.record({ sub: fair, name: fair, role: fair }).map(({ sub, name, role }) => JSON.stringify({ iss: ISSUER, exp: NOW_MS / 1000 + 60, sub, name, groups: ['admins', name], scope: 'write', org: { role } })),
  fc.record({
    iss: fc.oneof({ arbitrary: fc.constant(ISSUER), weight: 4 }, text),
    sub: fc.oneof(text, fc.constantFrom('alice', 'evil', 'blocked-7')),
    exp: fc.oneof({ arbitrary: fc.constant(NOW_MS / 1000 + 3600), weight: 4 }, fc.constantFrom(1e300, -1, 0, 2 ** 63)),
    groups: claimValue, name: claimValue, scope: claimValue,
    org: fc.oneof(fc.record({ role: claimValue }), claimValue),
  }, { requiredKeys: ['iss', 'exp'] }).map((p) => JSON.stringify(p)),
  fc.constantFrom(
    `{"iss":"${ISSUER}","exp":${NOW_MS / 1000 + 60},"sub":"alice","groups":["admins"],"scope":"read write","org":{"role":"x"},"name":"${'é'.repeat(2000)}"}`,
    `{"iss":"${ISSUER}","exp":${NOW_MS / 1000 + 60},"sub":"\\ud83d","groups":["admins"],"scope":"write","org":{"role":"x"}}`,
    `{"iss":"${ISSUER}","exp":${NOW_MS / 1000 + 60},"sub":"a","name":"\\udfff","groups":"admins\\ud800","scope":"write","org":{"role":"x"}}`,
    `{"iss":"${ISSUER}","exp":${NOW_MS / 1000 + 60},"sub":"${'😀'.repeat(1400)}"}`,
    `{"iss":"${ISSUER}","exp":${NOW_MS / 1000 + 60},"sub":"x","org":${'{"role":'.repeat(200)}1${'}'.repeat(200)}}`,
    `{"iss":"${ISSUER}","exp":1e999,"sub":"x"}`,
    `{"iss":"${ISSUER}","iss":"other","exp":${NOW_MS / 1000 + 60}}`,
    `{"iss":"${ISSUER}","exp":${NOW_MS / 1000 + 60},"__proto__":{"sub":"admin"},"constructor":"x"}`,
  ),
  fc.tuple(fc.constant(`{"iss":"${ISSUER}","exp":${NOW_MS / 1000 + 60},"sub":"`), fc.string({ unit: 'binary', maxLength: 60 }), fc.constant('"}')).map((p) => p.join('')),
);
/**
 * A capability token for any method and path, by the demo set's issuer (generated in keyDir) or
 * an untrusted one, with the id and subject given: a trusted issuer's claims are canonical JSON,
 * so well-formed, but of any length the token's 8 KiB allow.
 */
function capability(trusted: boolean, id: string, subject: string): string {
  const issuer = trusted ? loadKey(keyDir, 'demo-issuer') : { signer: createNodeSigner(new Uint8Array(32).fill(3)), verifierKey: 'x' };
  return issueCapability({
    schema: CAPABILITY_SCHEMA, id, issuer: issuer.verifierKey, subject, scope: { grants: [{ methods: ['*'], paths: ['*'] }] },
    issued_at: NOW_MS / 1000 - 1, expires_at: NOW_MS / 1000 + 60,
  }, issuer.signer);
}
const capabilityToken = fc.tuple(fc.boolean(), fair.map((t) => t.slice(0, 1500)), fair.map((t) => t.slice(0, 1500)))
  .map(([trusted, id, subject]) => capability(trusted, id.toWellFormed() || 'cap', subject.toWellFormed() || 'agent'));

/** Tokens malformed in every part, beside well-signed ones. */
const token = fc.oneof(
  { arbitrary: payload.map((p) => jwt(p)), weight: 6 },
  payload.map((p) => jwt(p, { alg: 'none' })),
  payload.map((p) => jwt(p, { alg: 'ES256', kid: 'k1', crit: ['x'] })),
  fc.tuple(text, text, text).map((parts) => parts.join('.')),
  fc.tuple(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 200 })).map(([h, p]) => `${b64url(h)}.${b64url(p)}.${b64url(h)}`),
  fc.jsonValue({ maxDepth: 3 }).map((v) => b64url(JSON.stringify(v))),
  capabilityToken,
  text,
);

const NAMES = ['authorization', 'x-jwt', 'x-chio-capability-token', 'x-user', 'x-allow', 'x-drop', 'x-status', 'x-tenant', 'cookie', 'x-api-key', 'traceparent', ':authority', ':path', 'x-request-id', '__proto__', 'constructor', 'x-chio-verdict'];
const FAIR_VALUES = ['yes', '401', 'acme-corp', 'x-forwarded-for', 'x-tenant', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'Bearer', 'Basic YWxpY2U6cHc='];

/**
 * CheckRequests built from `t`: `wild` ones as the proto decoder might hand them over (any
 * field missing or of any text, repeated headers, raw bytes), the others as Envoy would pass
 * them on, so that most reach the guards after Request and the policies.
 */
function checkRequestOf(t: fc.Arbitrary<string>, wild: boolean): fc.Arbitrary<CheckRequest> {
  const pick = <T>(fairOnes: fc.Arbitrary<T>, ...wildOnes: Array<fc.Arbitrary<T>>) => (wild ? fc.oneof(fairOnes, ...wildOnes) : fairOnes);
  const headerName = pick(fc.oneof(fc.constantFrom(...NAMES), fc.stringMatching(/^[a-z0-9-]{1,20}$/)), fc.string({ maxLength: 20 }), fc.constant('X-User'));
  const headerValue = fc.oneof(t, token, token.map((v) => `Bearer ${v}`), fc.constantFrom(...FAIR_VALUES));
  const path = fc.oneof(
    fc.constantFrom('/api/x', '/tools/run', '/admin', '/api/x?token=abc', '/a;jsessionid=123/b', '/x#frag', '', '/%F0%9F%98%80', '/😀', '/a/../b', '/book'),
    fc.tuple(fc.constantFrom('/api/', '/', '/tools/'), t, fc.constantFrom('', '?q=', ';p=', '#'), t).map((p) => p.join('')),
    fc.nat({ max: 6000 }).map((n) => `/api/${'€'.repeat(n)}`),
    ...(wild ? [t, fc.constantFrom('*', '//evil/admin', '/%2F', '/a%zz')] : []),
  );
  const host = pick(
    fc.constantFrom('api.example', 'testapp-1.demo.svc.cluster.local:8080', 'a.internal', '[::1]:8443', 'xn--nxasmq6b.example', 'bücher.example', '0x7f.1', 'h:', 'ÉXAMPLE.com.'),
    t, fc.constantFrom('user:pw@h', 'h:0', '[fe80::1%25eth0]'),
  );
  const method = pick(fc.constantFrom('GET', 'POST', 'CONNECT', 'PATCH', '', 'M-SEARCH'), t, fc.constantFrom('get', 'G\u0000T'));
  const address = fc.record({
    address: pick(fc.constantFrom('10.0.0.1', '::1', '2001:db8::1', 'not-an-ip', ''), t),
    port_value: pick(fc.constantFrom(0, 1, 8080, 65535), fc.constantFrom(70000, -1, 2 ** 40), fc.integer()),
  });
  return fc
    .record({
      method, path, host,
      principal: pick(fc.constantFrom('spiffe://cluster.local/ns/default/sa/svc1-sa', ''), t),
      headers: fc.array(fc.tuple(headerName, headerValue), { maxLength: 6 }),
      raw: fc.array(fc.tuple(headerName, pick(headerValue.map((v) => new Uint8Array(Buffer.from(v))), fc.uint8Array({ maxLength: 40 }))), { maxLength: 4 }),
      source: address, destination: address,
      shape: wild ? fc.constantFrom('http', 'tcp', 'no-attributes', 'no-host', 'header-map') : fc.constantFrom('http', 'http', 'header-map', 'tcp'),
      id: pick(fc.uuid(), fc.constant(''), t),
      protocol: fc.constantFrom('HTTP/1.1', 'HTTP/2', '', 'HTTP/9.9'),
      // What lets a request through each set, so that allows (and their answers' headers) come too.
      granted: fc.option(fc.record({ capability: fc.option(fc.tuple(fair, fair).map(([id, subject]) => capability(true, id.slice(0, 1024) || 'c', subject.slice(0, 1024) || 's')), { freq: 2 }), user: t, drop: fc.oneof(fc.constantFrom('x-user', 'cookie'), t) })),
    })
    .map((o): CheckRequest => {
      const headers: Record<string, string> = {};
      if (o.granted) o.headers.unshift(['x-allow', 'yes'], ['x-user', o.granted.user], ['x-drop', o.granted.drop], ...(o.granted.capability ? [['x-chio-capability-token', o.granted.capability] as [string, string]] : []));
      for (const [k, v] of o.headers) headers[k] = k in headers ? `${headers[k]},${v}` : v;
      const http = {
        id: o.id, method: o.method, path: o.path, host: o.shape === 'no-host' ? '' : o.host, scheme: 'http', protocol: o.protocol,
        headers: o.shape === 'header-map' ? {} : headers,
        ...(o.shape === 'header-map' ? { header_map: { headers: [...o.headers.map(([key, value]) => ({ key, value })), ...o.raw.map(([key, raw_value]) => ({ key, raw_value }))] } } : {}),
      };
      if (o.shape === 'no-attributes') return {};
      return {
        attributes: {
          source: { address: { socket_address: o.source }, principal: o.principal },
          destination: { address: { socket_address: o.destination } },
          request: o.shape === 'tcp' ? {} : { http },
        },
      } as CheckRequest;
    });
}

const checkRequest = fc.oneof({ arbitrary: checkRequestOf(fair, false), weight: 2 }, { arbitrary: checkRequestOf(text, true), weight: 1 });

// ---- what is asserted ---------------------------------------------------------------------

/** A header Envoy takes from an ext_authz answer (HTTP/2 field rules, HeaderValue's 16 KiB bounds). */
function expectEnvoyHeader(key: string, value: string): void {
  expect(key, `header name ${JSON.stringify(key)}`).toMatch(/^[!#$%&'*+.^_`|~0-9a-z-]{1,16384}$/);
  expect(value.length, `header ${key} length`).toBeLessThanOrEqual(16384);
  expect(value, `header ${key} value`).toMatch(/^[\x20-\x7e]*$/);
}

const time = new Date(NOW_MS).toISOString();

/** Sign `decision`'s receipt as the chain writer would, and its correction; answer and encode it. */
function recordAndAnswer(decision: Decision): void {
  const draft = toReceiptDraft(decision, time);
  expect(() => canonicalize(draft)).not.toThrow();
  const refused: ChioError[] = [];
  const signing = { chain: 'fuzz-chain', kernelKey: KERNEL.verifierKey, signer: KERNEL.signer };
  const { signed } = signNext(signing, { seq: 0, id: GENESIS_PREV }, [draft], MAX_RECEIPT_BYTES - CORRECTION_ROOM_BYTES, (_, err) => refused.push(err));
  expect(refused.map((e) => e.message), 'the receipt is refused by signNext').toEqual([]);
  const receipt: Receipt = signed[0]!.receipt;
  const correction = signNext(signing, { seq: 1, id: receipt.id }, [toCorrectionDraft(receipt, time)], MAX_RECEIPT_BYTES, (_, err) => refused.push(err));
  expect(refused.map((e) => e.message), 'its correction is refused').toEqual([]);
  expect(correction.signed).toHaveLength(1);

  const response = toCheckResponse(decision, receipt);
  expect(encodeCheckResponse(response).length).toBeGreaterThan(0);
  const headers = [...(response.ok_response?.headers ?? []), ...(response.ok_response?.response_headers_to_add ?? []), ...(response.denied_response?.headers ?? [])];
  for (const h of headers) expectEnvoyHeader(h.header.key, h.header.value);
  for (const name of response.ok_response?.headers_to_remove ?? []) expectEnvoyHeader(name, '');
}

async function decideAndRecord(set: PolicySet, request: CheckRequest, mode: 'enforce' | 'shadow' = 'enforce'): Promise<Decision> {
  const internalErrors: unknown[] = [];
  const pipeline = new DecisionPipeline({ policies: () => set, mode, defaultVerdict: 'deny', onInternalError: (err) => internalErrors.push(err), now: () => NOW_MS });
  const decision = await pipeline.decide(request, Date.now() + 5_000);
  expect(internalErrors).toEqual([]);
  if (decision.verdict === 'deny') expect(decision.reason.length).toBeGreaterThan(0);
  recordAndAnswer(decision);
  return decision;
}

const params = { numRuns: RUNS, seed: SEED, verbose: 1 } as const;

describe.each(['demo', 'istio', 'kyverno', 'cel'])('hostile CheckRequests against the %s policy set', (name) => {
  it('are decided, recorded in a receipt that signs and fits with its correction, and answered with headers Envoy takes', async () => {
    await fc.assert(fc.asyncProperty(checkRequest, fc.constantFrom('enforce', 'shadow') as fc.Arbitrary<'enforce' | 'shadow'>, async (request, mode) => {
      await decideAndRecord(sets[name]!, request, mode);
    }), params);
  });
});

/** Payloads that broke the receipt path once, always tried first. */
const FOUND = [
  // Half an emoji: no canonical form, refused by signNext (a 503).
  `{"iss":"${ISSUER}","exp":${NOW_MS / 1000 + 60},"sub":"\\ud83d","groups":["admins"],"scope":"write","org":{"role":"x"}}`,
  // A subject of 5.6 KB, recorded twice beside a long principal: over the receipt bound (a 503).
  `{"iss":"${ISSUER}","exp":${NOW_MS / 1000 + 60},"sub":"${'😀'.repeat(1400)}","groups":["admins"],"scope":"write","org":{"role":"x"}}`,
];

describe('JWTs signed by the trusted issuer, with hostile claims', () => {
  it('are decided and recorded as any request is', async () => {
    const claimed = fc.record({
      token, where: fc.constantFrom('x-jwt', 'authorization'), tenant: fc.oneof({ arbitrary: fc.constant('acme-corp'), weight: 3 }, text), path: fc.constantFrom('/api/x', '/admin'),
      principal: fair, id: fair,
    });
    await fc.assert(fc.asyncProperty(claimed, async ({ token: t, where, tenant, path: p, principal: who, id }) => {
      const headers: Record<string, string> = { ':authority': 'api.example', 'x-tenant': tenant, [where]: where === 'authorization' ? `Bearer ${t}` : t };
      const http = { id: id.slice(0, 256), method: 'GET', path: p, host: 'api.example', headers };
      await decideAndRecord(sets.istio!, { attributes: { source: { principal: who.slice(0, 1024) }, request: { http } } } as CheckRequest);
    }), { ...params, examples: FOUND.map((payloadText) => [{ token: jwt(payloadText), where: 'x-jwt', tenant: 'acme-corp', path: '/api/x', principal: '€'.repeat(1024), id: '€'.repeat(256) }]) });
  });
});
