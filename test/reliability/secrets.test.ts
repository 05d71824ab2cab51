/**
 * No credential is ever logged or stored (issue #12, SPEC §1). Traffic with every kind of
 * secret a Check can carry — capability tokens (as their header and as a bearer), a JWT
 * (Istio's published sample), a tampered JWT, a made-up token, cookies, a Basic Authorization
 * value, a secret in the query and in a `;param` — runs with every log line captured at debug
 * level as JSON. Then every log line, every receipts-stream message (body and headers), the
 * quarantine and checkpoint streams, every KV entry (tiles, index, chains, ledger state) and
 * every entry bundle is searched for each secret, and for its base64, base64url and hex forms,
 * and for the services' private keys: none is found.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import { startTestNats, tempDir, type TestNats } from '../support/nats.js';
import { REPO_ROOT, startTestChio, testConfig, type TestChio } from '../support/chio.js';
import { storedReceipts, waitIntegrated } from '../support/stream-audit.js';
import { createLogger } from '../../src/log.js';
import { generateKeys } from '../../src/keys.js';
import { sendCheck, type CheckAnswer } from '../../src/cli/check.js';
import { buildCheckRequest, type EnvoyRequestOptions } from '../../src/cli/envoy-request.js';
import { demoToken } from '../../src/up.js';
import { CHAINS_BUCKET, CHECKPOINTS_STREAM, ENTRIES_STORE, INDEX_BUCKET, LEDGER_BUCKET, QUARANTINE_STREAM, RECEIPTS_STREAM, TILES_BUCKET } from '../../src/store/resources.js';

const ISSUER = 'testing@secure.istio.io';
const fixture = (name: string) => readFileSync(join(REPO_ROOT, 'test/fixtures/jwt', name), 'utf8').trim();

let nats: TestNats;
let chio: TestChio;
let jsm: JetStreamManager;
const logLines: string[] = [];

beforeAll(async () => {
  const dataDir = tempDir('chio-secrets-');
  const policyDir = join(dataDir, 'policies');
  mkdirSync(policyDir, { recursive: true });
  generateKeys(join(dataDir, 'keys'), 'chio.local/receipts');
  writeFileSync(join(policyDir, 'policies.yaml'), `${readFileSync(join(REPO_ROOT, 'deploy/policies/demo.yaml'), 'utf8')}
---
apiVersion: chio.dev/v1
kind: RequestAuthentication
metadata: { name: istio-sample }
spec:
  jwtRules: [{ issuer: "${ISSUER}", jwks: '${JSON.stringify(JSON.parse(fixture('jwks.json')))}' }]
---
apiVersion: chio.dev/v1
kind: AuthorizationPolicy
metadata: { name: tools-read-with-jwt }
spec:
  rules:
    - from: [{ source: { requestPrincipals: ["${ISSUER}/*"] } }]
      to: [{ operation: { methods: [GET], paths: ["/tools/*"] } }]
`);
  nats = await startTestNats();
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(...chunk.toString('utf8').split('\n').filter((l) => l.length > 0));
      done();
    },
  });
  const config = testConfig(dataDir, nats.current.url, { CHIO_POLICIES: policyDir, CHIO_CHAIN_ID: 'secrets', CHIO_LOG_LEVEL: 'debug', CHIO_LOG_FORMAT: 'json' });
  chio = await startTestChio(config, { log: createLogger('debug', 'chio', { format: 'json', destination: sink }) });
  jsm = await jetstreamManager(chio.nc);
}, 60_000);

afterAll(async () => {
  await chio?.stop();
  await nats?.cleanup();
});

/** The forms a secret could leak in: as sent, base64, base64url, hex (of its UTF-8 bytes). */
function forms(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  return [secret, bytes.toString('base64').replace(/=+$/, ''), bytes.toString('base64url'), bytes.toString('hex')];
}

/** Every stored byte Chio keeps, as latin1 text (binary tiles and bundles too), with where it is. */
async function everythingStored(): Promise<Array<{ where: string; text: string }>> {
  const out: Array<{ where: string; text: string }> = [];
  const latin1 = (b: Uint8Array) => Buffer.from(b).toString('latin1');
  for (const stream of [RECEIPTS_STREAM, QUARANTINE_STREAM, CHECKPOINTS_STREAM]) {
    const state = (await jsm.streams.info(stream)).state;
    for (let seq = state.first_seq; state.messages > 0 && seq <= state.last_seq; seq++) {
      const m = await jsm.streams.getMessage(stream, { seq });
      if (!m) continue;
      const headers = m.header ? [...m.header.keys()].map((k) => `${k}: ${m.header.get(k)}`).join('\n') : '';
      out.push({ where: `${stream} #${seq}`, text: `${m.subject}\n${headers}\n${latin1(m.data)}` });
    }
  }
  const kvm = new Kvm(chio.nc);
  for (const bucket of [TILES_BUCKET, INDEX_BUCKET, CHAINS_BUCKET, LEDGER_BUCKET]) {
    const kv = await kvm.open(bucket);
    for await (const key of await kv.keys()) {
      const e = await kv.get(key);
      out.push({ where: `${bucket}/${key}`, text: `${key}\n${e ? latin1(e.value) : ''}` });
    }
  }
  const entries = await new Objm(chio.nc).open(ENTRIES_STORE);
  for (const info of await entries.list()) {
    const data = await entries.getBlob(info.name);
    out.push({ where: `${ENTRIES_STORE}/${info.name}`, text: `${info.name}\n${data ? latin1(data) : ''}` });
  }
  return out;
}

describe('secrets sent with Checks', () => {
  it('appear in no log line, receipt, tile, entry bundle, index entry or quarantine', async () => {
    const token = demoToken(chio.config);
    const jwt = fixture('demo.jwt');
    const [jwtHeader, jwtPayload, jwtSignature] = jwt.split('.') as [string, string, string];
    const tamperedJwt = `${jwtHeader}.${jwtPayload}.${jwtSignature.slice(0, -6)}AAAAAA`;
    const madeUpToken = 'chio-made-up-token-5f1c2e9a7b3d4c6e8a0b';
    const cookie = 'sid=cookie-secret-8d7e6f5a4b3c2d1e';
    const basic = `Basic ${Buffer.from('alice:basic-password-93e1c7').toString('base64')}`;
    const querySecret = 'query-secret-2b4d6f8a0c1e3a5c';
    const paramSecret = 'param-secret-7a9c1e3b5d7f9b1d';
    const principal = 'spiffe://cluster.local/ns/agent-tools/sa/agent';

    const traffic: Array<{ o: Partial<EnvoyRequestOptions>; verdict: 'allow' | 'deny' }> = [
      { o: { method: 'POST', path: '/tools/hello', headers: { 'x-chio-capability-token': token, cookie } }, verdict: 'allow' },
      { o: { method: 'POST', path: '/tools/hello', headers: { authorization: `Bearer ${token}` } }, verdict: 'allow' },
      { o: { method: 'GET', path: '/tools/x', headers: { authorization: `Bearer ${jwt}`, cookie } }, verdict: 'allow' },
      { o: { method: 'GET', path: `/tools/x;jsessionid=${paramSecret}?api_key=${querySecret}&q=1`, headers: { authorization: `Bearer ${jwt}` } }, verdict: 'allow' },
      { o: { method: 'GET', path: '/tools/x', headers: { authorization: `Bearer ${tamperedJwt}` } }, verdict: 'deny' },
      { o: { method: 'POST', path: '/tools/hello', headers: { 'x-chio-capability-token': madeUpToken } }, verdict: 'deny' },
      { o: { method: 'POST', path: '/tools/hello', headers: { authorization: basic, cookie } }, verdict: 'deny' },
      { o: { method: 'POST', path: `/tools/hello;token=${paramSecret}?token=${querySecret}`, headers: { 'x-chio-capability-token': token } }, verdict: 'allow' },
    ];
    const answers: CheckAnswer[] = [];
    const requestIds: string[] = [];
    for (const { o, verdict } of traffic) {
      const request = buildCheckRequest({ host: 'tools.chio.local', principal, ...o } as EnvoyRequestOptions);
      requestIds.push(request.attributes!.request!.http!.id!);
      const a = await sendCheck(chio.grpcAddr, request);
      expect(a.verdict, `${o.method} ${o.path}`).toBe(verdict);
      answers.push(a);
    }
    await waitIntegrated(chio.nc);
    await new Promise((r) => setTimeout(r, chio.config.checkpointIntervalMs * 3));

    // The search looks where the traffic went: a receipt per Check, a log line per Check.
    const receipts = await storedReceipts(chio.nc);
    expect(receipts.map((s) => s.receipt.request.id).sort()).toEqual([...requestIds].sort());
    for (const a of answers) expect(logLines.some((l) => a.receiptId !== undefined && l.includes(a.receiptId)), `a log line names ${a.receiptId}`).toBe(true);

    const keyDir = chio.config.keyDir;
    const privateKeys = ['kernel.key', 'log.key'].map((f) => readFileSync(join(keyDir, f), 'utf8').trim());
    const secrets: Record<string, string> = {
      'capability token': token, 'capability token signature': token.slice(-40), JWT: jwt, 'JWT signature': jwtSignature, 'tampered JWT signature': tamperedJwt.split('.')[2]!,
      'made-up token': madeUpToken, cookie, 'cookie value': cookie.split('=')[1]!, 'Basic credentials': basic.slice('Basic '.length), 'Basic password': 'basic-password-93e1c7',
      'query secret': querySecret, 'path param secret': paramSecret, 'kernel private key': privateKeys[0]!, 'log private key': privateKeys[1]!,
    };
    const haystacks = [...logLines.map((text, i) => ({ where: `log line ${i + 1}`, text })), ...(await everythingStored())];
    const found: string[] = [];
    for (const [what, secret] of Object.entries(secrets)) {
      for (const form of forms(secret)) for (const h of haystacks) if (h.text.includes(form)) found.push(`${what} (${form === secret ? 'as sent' : 'encoded'}) in ${h.where}`);
    }
    expect(found).toEqual([]);
    console.log(`secrets: ${traffic.length} Checks (${answers.filter((a) => a.verdict === 'allow').length} allows), ${Object.keys(secrets).length} secrets × 4 forms searched in ${logLines.length} log lines and ${haystacks.length - logLines.length} stored messages, KV entries and bundles: none found`);
  }, 60_000);
});
