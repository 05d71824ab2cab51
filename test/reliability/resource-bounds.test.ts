/**
 * Resource bounds at the Check, over real gRPC against a running Chio (SPEC §2: fail closed):
 * the CheckRequest size (the gRPC transport refuses a message over MAX_CHECK_REQUEST_BYTES
 * before parsing it; Envoy, failure_mode_allow off, answers that with a deny), the header count
 * and header bytes, and the size of a capability token and of a JWT — each a deny with a
 * stored receipt, one past the bound, and not a Request deny at the bound. And a JWKS endpoint
 * that accepts the connection and never answers does not hold a Check past its deadline: the
 * answer is a Jwt deny with its receipt stored, not a ReceiptLedger 503.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { copyFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { SignJWT, generateKeyPair } from 'jose';
import { startTestNats, tempDir, type TestNats } from '../support/nats.js';
import { REPO_ROOT, startTestChio, testConfig, type TestChio } from '../support/chio.js';
import { buildCheckRequest } from '../../src/cli/envoy-request.js';
import { sendCheck, type CheckAnswer } from '../../src/cli/check.js';
import { demoToken } from '../../src/up.js';
import { MAX_CHECK_REQUEST_BYTES } from '../../src/authz/grpc-server.js';
import { MAX_HEADERS, MAX_HEADER_BYTES } from '../../src/decision/check-input.js';
import { MAX_TOKEN_CHARS, issueCapability } from '../../src/credentials/capability.js';
import { loadKey } from '../../src/keys.js';
import { MAX_JWT_BYTES } from '../../src/credentials/jwt.js';

const ISSUER = 'https://slow-issuer.chio.test';
// The receipt deadline; deciding gets two thirds of it (authz/check-handler).
const RECEIPT_TIMEOUT_MS = 600;

/** An HTTP server that takes every request and never answers it: a JWKS endpoint gone quiet. */
interface StalledServer {
  port: number;
  requests: string[];
  /** Resolves when a request for `path` has arrived. */
  requested(path: string): Promise<void>;
  close(): Promise<void>;
}

async function startStalledServer(): Promise<StalledServer> {
  const requests: string[] = [];
  const waiting: Array<{ path: string; resolve: () => void }> = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req: IncomingMessage) => {
    requests.push(req.url ?? '');
    for (const w of waiting.filter((w) => w.path === req.url)) w.resolve();
  });
  server.on('connection', (s) => sockets.add(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    requests,
    requested: (path) => (requests.includes(path) ? Promise.resolve() : new Promise((resolve) => waiting.push({ path, resolve }))),
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

const requestAuthentication = (jwksUri: string) => `apiVersion: chio.dev/v1
kind: RequestAuthentication
metadata: { name: slow-issuer }
spec:
  jwtRules:
    - issuer: ${ISSUER}
      jwksUri: ${jwksUri}
`;

let nats: TestNats;
let chio: TestChio;
let jwks: StalledServer;
let policyDir: string;
let token: string;
let jwtKey: CryptoKey;

beforeAll(async () => {
  jwks = await startStalledServer();
  policyDir = tempDir('chio-bounds-policies-');
  copyFileSync(join(REPO_ROOT, 'deploy/policies/demo.yaml'), join(policyDir, 'demo.yaml'));
  writeFileSync(join(policyDir, 'jwt.yaml'), requestAuthentication(`http://127.0.0.1:${jwks.port}/jwks.json`));
  nats = await startTestNats();
  chio = await startTestChio(testConfig(tempDir('chio-bounds-'), nats.current.url, {
    CHIO_POLICIES: policyDir, CHIO_RECEIPT_TIMEOUT_MS: String(RECEIPT_TIMEOUT_MS), CHIO_CHAIN_ID: 'bounds',
  }));
  token = demoToken(chio.config);
  jwtKey = (await generateKeyPair('ES256')).privateKey;
});

afterAll(async () => {
  await chio?.stop();
  await nats?.cleanup();
  await jwks?.close();
});

const check = (headers: Record<string, string>) => sendCheck(chio.grpcAddr, buildCheckRequest({ method: 'POST', path: '/tools/x', host: 'tools.chio.local', headers }));
// buildCheckRequest adds the pseudo-headers, user-agent, x-forwarded-proto and x-request-id.
const BUILT_IN_HEADERS = Object.keys(buildCheckRequest({ method: 'POST', path: '/tools/x', host: 'h' }).attributes!.request!.http!.headers!).length;

function headersFilling(count: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: count - BUILT_IN_HEADERS }, (_, i) => [`x-filler-${i}`, 'v']));
}

function expectDeny(answer: CheckAnswer, guard: string, httpStatus: number, reason?: RegExp): void {
  expect(answer).toMatchObject({ verdict: 'deny', httpStatus });
  expect(answer.headers['x-chio-denial-guard']).toBe(guard);
  if (reason) expect(answer.headers['x-chio-denial-reason']).toMatch(reason);
  expect(answer.receiptId).toMatch(/^[0-9a-f]{64}$/);
}

describe('CheckRequest size', () => {
  it('is refused at the transport past MAX_CHECK_REQUEST_BYTES, and the server keeps answering', async () => {
    const huge = 'a'.repeat(MAX_CHECK_REQUEST_BYTES + 1024);
    const err = await check({ 'x-chio-capability-token': token, 'x-huge': huge }).then(() => undefined, (e: grpc.ServiceError) => e);
    expect(err?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect((await check({ 'x-chio-capability-token': token })).verdict).toBe('allow');
  });

  it('is a Request deny when headers pass MAX_HEADER_BYTES inside an accepted message', async () => {
    expectDeny(await check({ 'x-chio-capability-token': token, 'x-big': 'b'.repeat(MAX_HEADER_BYTES) }), 'Request', 403, /headers larger than/);
  });
});

describe('header count', () => {
  it(`allows ${MAX_HEADERS} headers and denies one more`, async () => {
    expect((await check({ 'x-chio-capability-token': token, ...headersFilling(MAX_HEADERS - 1) })).verdict).toBe('allow');
    expectDeny(await check({ 'x-chio-capability-token': token, ...headersFilling(MAX_HEADERS) }), 'Request', 403, new RegExp(`more than ${MAX_HEADERS} headers`));
  });

  it('counts headers sent as header_map (encode_raw_headers) the same way', async () => {
    const req = buildCheckRequest({ method: 'POST', path: '/tools/x', host: 'tools.chio.local' });
    const http = req.attributes!.request!.http!;
    http.header_map = { headers: Array.from({ length: MAX_HEADERS + 1 }, (_, i) => ({ key: `x-raw-${i}`, raw_value: Buffer.from('v') })) };
    expectDeny(await sendCheck(chio.grpcAddr, req), 'Request', 403, /more than/);
  });
});

describe('token size', () => {
  it(`denies a capability token longer than ${MAX_TOKEN_CHARS} characters, though well signed, as malformed`, async () => {
    // Valid in every other way: many long path patterns in one grant, signed by the trusted issuer.
    const issuer = loadKey(chio.config.keyDir, 'demo-issuer');
    const paths = ['/tools/*', ...Array.from({ length: 60 }, (_, i) => `/padding/${i}/${'p'.repeat(100)}`)];
    const now = Math.floor(Date.now() / 1000);
    const big = issueCapability({ schema: 'chio.capability.v1', id: randomUUID(), issuer: issuer.verifierKey, subject: 'big', scope: { grants: [{ methods: ['POST'], paths }] }, issued_at: now, expires_at: now + 600 }, issuer.signer);
    expect(big.length).toBeGreaterThan(MAX_TOKEN_CHARS);
    expectDeny(await check({ 'x-chio-capability-token': big }), 'Capability', 401, /malformed/);
  });

  it(`denies a JWT longer than ${MAX_JWT_BYTES} bytes before looking for its keys`, async () => {
    const before = jwks.requests.length;
    const jwt = await new SignJWT({ pad: 'p'.repeat(MAX_JWT_BYTES) }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(ISSUER).setExpirationTime('5m').sign(jwtKey);
    expectDeny(await check({ authorization: `Bearer ${jwt}` }), 'Jwt', 401, /Jwt is too large/);
    expect(jwks.requests.length).toBe(before);
  });
});

describe('a JWKS endpoint that never answers', () => {
  it('denies by guard Jwt within the deadline, with the receipt stored, while the fetch hangs', async () => {
    // A changed jwksUri makes a new key set, fetched as soon as the policies load: Checks sent
    // once that fetch has reached the server find it in flight and hanging.
    const uri = '/jwks.json?v=2';
    const hash = chio.authz.policyHash;
    writeFileSync(join(policyDir, 'jwt.yaml'), requestAuthentication(`http://127.0.0.1:${jwks.port}${uri}`));
    await jwks.requested(uri);
    expect(chio.authz.policyHash).not.toBe(hash);
    const jwt = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(ISSUER).setExpirationTime('5m').sign(jwtKey);
    const answers = await Promise.all(Array.from({ length: 10 }, () => check({ authorization: `Bearer ${jwt}` })));
    for (const a of answers) expectDeny(a, 'Jwt', 401, /Jwks remote fetch is failed/);
  });
});
