/**
 * The whole path on real parts: gRPC Check (shaped as Envoy sends it) → signed receipt stored
 * in JetStream → ledger → signed checkpoint → proof by receipt id, checked locally with the
 * keys from the key directory. Then a restart of everything on the same store: the log and
 * the receipt chain continue.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestNats, tempDir, type TestNats } from '../support/nats.js';
import { startTestChio, testConfig, type TestChio } from '../support/chio.js';
import { buildCheckRequest } from '../../src/cli/envoy-request.js';
import { sendCheck, type CheckAnswer } from '../../src/cli/check.js';
import { proveReceipt } from '../../src/cli/prove.js';
import { demoToken } from '../../src/up.js';
import { fromBase64, utf8 } from '../../src/encoding.js';
import { canonicalBytes } from '../../src/receipt/jcs.js';
import { checkRecord, leafHash, openCheckpoint } from '../../src/tlog/index.js';
import type { ReceiptProof } from '../../src/verify/receipt-proof.js';

let nats: TestNats;
let chio: TestChio;
let dataDir: string;
let token: string;

const keyFile = (name: string) => readFileSync(join(dataDir, 'keys', name), 'utf8').trim();

async function check(path: string, method: string, headers: Record<string, string> = {}): Promise<CheckAnswer> {
  return sendCheck(chio.grpcAddr, buildCheckRequest({ method, path, host: 'tools.chio.local', headers, principal: 'spiffe://cluster.local/ns/agents/sa/agent' }));
}

async function prove(id: string) {
  return proveReceipt(id, { verifierUrl: chio.verifierUrl, logKey: keyFile('log.pub'), kernelKeys: [keyFile('kernel.pub')], waitMs: 5_000 });
}

beforeAll(async () => {
  nats = await startTestNats();
  dataDir = tempDir('chio-e2e-');
  chio = await startTestChio(testConfig(dataDir, nats.current.url));
  token = demoToken(chio.config);
});

afterAll(async () => {
  await chio?.stop();
  await nats?.cleanup();
});

describe('Check over gRPC', () => {
  it('allows a capability-bearing request and answers the SPEC §2 allow contract', async () => {
    const a = await check('/tools/hello?x=1', 'POST', { 'x-chio-capability-token': token });
    expect(a.verdict).toBe('allow');
    expect(a.grpcCode).toBe(0);
    expect(a.receiptId).toMatch(/^[0-9a-f]{64}$/);
    expect(a.headers['x-chio-verdict']).toBe('allow');
    expect(a.headers['x-chio-policy-hash']).toBe(chio.authz.policyHash);
    expect(chio.authz.policyHash).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('accepts the token as a bearer too', async () => {
    const a = await check('/tools/list', 'GET', { authorization: `Bearer ${token}` });
    expect(a.verdict).toBe('allow');
  });

  it('denies without credentials with 401, guard and a stored receipt', async () => {
    const a = await check('/tools/hello', 'POST');
    expect(a).toMatchObject({ verdict: 'deny', grpcCode: 16, httpStatus: 401 });
    expect(a.headers['x-chio-denial-guard']).toBe('Policy');
    expect(a.headers['x-chio-denial-reason']).toContain('no credentials');
    expect(a.receiptId).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.parse(a.body!)).toMatchObject({ verdict: 'deny', guard: 'Policy', receipt_id: a.receiptId });
  });

  it('denies a request outside the grant with 403 by guard Capability', async () => {
    const a = await check('/admin', 'DELETE', { 'x-chio-capability-token': token });
    expect(a).toMatchObject({ verdict: 'deny', grpcCode: 7, httpStatus: 403 });
    expect(a.headers['x-chio-denial-guard']).toBe('Capability');
  });

  it('denies a tampered token with 401 by guard Capability', async () => {
    const tampered = token.slice(0, -4) + (token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    const a = await check('/tools/hello', 'POST', { 'x-chio-capability-token': tampered });
    expect(a).toMatchObject({ verdict: 'deny', grpcCode: 16, httpStatus: 401 });
    expect(a.headers['x-chio-denial-guard']).toBe('Capability');
  });

  it('decides a TCP CheckRequest (no request.http) like any other', async () => {
    const req = buildCheckRequest({ method: 'GET', path: '/', host: 'x' });
    delete req.attributes!.request;
    const { sendCheck: send } = await import('../../src/cli/check.js');
    const a = await send(chio.grpcAddr, req);
    expect(a.verdict).toBe('deny');
    expect(a.receiptId).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('proving receipts', () => {
  it('proves every receipt id, allow and deny, against a signed checkpoint', async () => {
    const answers = await Promise.all([
      check('/tools/a', 'POST', { 'x-chio-capability-token': token }),
      check('/invoke/b', 'POST', { 'x-chio-capability-token': token }),
      check('/tools/c', 'POST'),
      check('/other', 'GET', { 'x-chio-capability-token': token }),
    ]);
    for (const a of answers) {
      const proven = await prove(a.receiptId!);
      expect(proven.receipt.id).toBe(a.receiptId);
      expect(proven.receipt.decision.verdict).toBe(a.verdict);
      expect(proven.index).toBeLessThan(proven.treeSize);
    }
  });

  it('holds with the log key alone: checkpoint signature and inclusion', async () => {
    const a = await check('/tools/log-key-only', 'POST', { 'x-chio-capability-token': token });
    await prove(a.receiptId!); // waits until it is in a checkpoint
    const res = await fetch(`${chio.verifierUrl}/v1/receipts/${a.receiptId}`);
    const body = (await res.json()) as ReceiptProof;
    const cp = openCheckpoint(body.checkpoint, keyFile('log.pub'));
    const leaf = leafHash(canonicalBytes(body.receipt));
    expect(() => checkRecord(body.inclusion_proof.map(fromBase64), cp.size, cp.root, body.index, leaf)).not.toThrow();
    // One flipped bit in the leaf and the same proof no longer holds.
    const flipped = leaf.slice();
    flipped[0]! ^= 1;
    expect(() => checkRecord(body.inclusion_proof.map(fromBase64), cp.size, cp.root, body.index, flipped)).toThrow();
  });

  it('serves consistency proofs between two published checkpoints', async () => {
    const { checkTree } = await import('../../src/tlog/index.js');
    const first = await check('/tools/c1', 'POST', { 'x-chio-capability-token': token });
    const older = await prove(first.receiptId!);
    const oldNote = (await (await fetch(`${chio.verifierUrl}/v1/receipts/${first.receiptId}`)).json() as ReceiptProof).checkpoint;
    const second = await check('/tools/c2', 'POST', { 'x-chio-capability-token': token });
    const newer = await prove(second.receiptId!);
    const newNote = (await (await fetch(`${chio.verifierUrl}/v1/receipts/${second.receiptId}`)).json() as ReceiptProof).checkpoint;
    const a = openCheckpoint(oldNote, keyFile('log.pub'));
    const b = openCheckpoint(newNote, keyFile('log.pub'));
    expect(b.size).toBeGreaterThan(a.size);
    expect(newer.index).toBeGreaterThan(older.index);
    const res = await fetch(`${chio.verifierUrl}/v1/consistency?old=${a.size}&new=${b.size}`);
    const body = (await res.json()) as { old: number; new: number; proof: string[] };
    expect(body).toMatchObject({ old: a.size, new: b.size });
    expect(() => checkTree(body.proof.map(fromBase64), b.size, b.root, a.size, a.root)).not.toThrow();
    expect((await fetch(`${chio.verifierUrl}/v1/consistency?old=5&new=2`)).status).toBe(400);
    expect((await fetch(`${chio.verifierUrl}/v1/consistency?old=1&new=999999`)).status).toBe(400);
  });

  it('serves the tiles of the published tree, and nothing past it', async () => {
    const { decodeEntryBundle, leafHash: leaf } = await import('../../src/tlog/index.js');
    const note = await (await fetch(`${chio.verifierUrl}/checkpoint`)).text();
    const size = openCheckpoint(note, keyFile('log.pub')).size;
    expect(size).toBeGreaterThan(0);
    expect(size).toBeLessThan(256);
    const w = String(size);
    const hashes = new Uint8Array(await (await fetch(`${chio.verifierUrl}/tile/0/000.p/${w}`)).arrayBuffer());
    expect(hashes.length).toBe(size * 32);
    const bundle = new Uint8Array(await (await fetch(`${chio.verifierUrl}/tile/entries/000.p/${w}`)).arrayBuffer());
    const entries = decodeEntryBundle(bundle);
    expect(entries.length).toBe(size);
    // Each entry hashes to its level-0 tile hash: the two agree, as tlog-tiles clients check.
    entries.forEach((e, i) => expect(leaf(e)).toEqual(hashes.subarray(i * 32, i * 32 + 32)));
    expect((await fetch(`${chio.verifierUrl}/tile/0/000.p/${size + 1}`)).status).toBe(404);
    expect((await fetch(`${chio.verifierUrl}/tile/0/000`)).status).toBe(404);
    expect((await fetch(`${chio.verifierUrl}/tile/0/x/../../etc`)).status).toBe(400);
    expect((await fetch(`${chio.verifierUrl}/v1/consistency?old=0x1&new=1e1`)).status).toBe(400);
  });

  it('answers 400 for a malformed id and 404 for an unknown one', async () => {
    expect((await fetch(`${chio.verifierUrl}/v1/receipts/not-an-id`)).status).toBe(400);
    expect((await fetch(`${chio.verifierUrl}/v1/receipts/${'ab'.repeat(32)}`)).status).toBe(404);
  });

  it('serves the checkpoint, keys and health', async () => {
    const note = await (await fetch(`${chio.verifierUrl}/checkpoint`)).text();
    expect(note.startsWith(`${chio.config.logOrigin}\n`)).toBe(true);
    expect(note).toContain('\n\n\u2014 ');
    const keys = (await (await fetch(`${chio.verifierUrl}/v1/keys`)).json()) as { log: string; kernels: string[]; export: string };
    expect(keys).toEqual({ log: keyFile('log.pub'), kernels: [keyFile('kernel.pub')], export: keyFile('export.pub') });
    const health = await fetch(`http://127.0.0.1:${chio.authz.httpPort}/health`);
    expect(await health.json()).toEqual({ status: 'ok' });
  });

  it('never leaks the credential into a receipt, in a header or in the query string', async () => {
    const a = await check('/tools/secret?access_token=SECRET-IN-QUERY&x=1', 'POST', { 'x-chio-capability-token': token });
    const proven = await prove(a.receiptId!);
    const text = new TextDecoder().decode(canonicalBytes(proven.receipt));
    expect(text).not.toContain(token.slice(0, 40));
    expect(text).not.toContain('SECRET-IN-QUERY');
    expect(proven.receipt.request.path).toBe('/tools/secret');
    expect(proven.receipt.request.query_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(proven.receipt.subject.credential_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(utf8(text).length).toBeLessThan(16 * 1024);
  });
});

describe('restart', () => {
  it('continues the same log and chain after everything restarts', async () => {
    const before = await check('/tools/before-restart', 'POST', { 'x-chio-capability-token': token });
    const provenBefore = await prove(before.receiptId!);
    await chio.stop();
    await nats.current.stop();
    await nats.restart();
    chio = await startTestChio(chio.config);
    const after = await check('/tools/after-restart', 'POST', { 'x-chio-capability-token': token });
    const provenAfter = await prove(after.receiptId!);
    expect(provenAfter.index).toBeGreaterThan(provenBefore.index);
    expect(provenAfter.receipt.chain).toBe(provenBefore.receipt.chain);
    expect(provenAfter.receipt.seq).toBe(provenBefore.receipt.seq + 1);
    expect(provenAfter.receipt.prev).toBe(provenBefore.receipt.id);
    // The old id is still provable against the new checkpoint.
    const again = await prove(before.receiptId!);
    expect(again.index).toBe(provenBefore.index);
    expect(again.treeSize).toBeGreaterThan(provenBefore.treeSize);
  });
});
