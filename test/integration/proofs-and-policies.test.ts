/**
 * From a decision to the evidence an auditor keeps, on real parts: an Envoy-shaped Check →
 * its receipt → the standard tlog-proof Chio serves and `chio prove --out` saves, checked
 * offline by `chio verify-proof`; and the receipt's policy hash → the exact policy set that
 * decided it, archived by authz at start-up and again when a change is swapped in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { startScenario, type Scenario } from '../support/scenario.js';
import { allowTools } from '../support/policies.js';
import { tempDir } from '../support/nats.js';
import { chio } from '../support/chio-cli.js';
import { demoToken } from '../../src/up.js';
import { proveReceipt } from '../../src/cli/prove.js';
import { isChioError } from '../../src/errors/index.js';
import { loadPolicySet } from '../../src/policy/policy-set.js';
import { openCheckpoint } from '../../src/tlog/index.js';
import { parseTlogProof, verifyTlogProof } from '../../src/verify/tlog-proof.js';

let s: Scenario;
let token: string;
const key = (name: string) => readFileSync(join(s.dataDir, 'keys', name), 'utf8').trim();
const trust = () => ({ logKey: key('log.pub'), kernelKeys: [key('kernel.pub')] });
const call = (path: string) => s.check({ method: 'POST', path, host: 'tools.chio.local', headers: { 'x-chio-capability-token': token } });
const prove = (id: string) => proveReceipt(id, { verifierUrl: s.chio.verifierUrl, ...trust(), waitMs: 10_000 });

beforeAll(async () => {
  s = await startScenario(allowTools('"/tools/*"'));
  token = demoToken(s.chio.config);
});
afterAll(() => s?.stop());

describe('a receipt leads to the exact policy set that decided it', () => {
  it('serves the archived set of the start-up policies, byte for byte what the hash covers', async () => {
    const answer = await call('/tools/hello');
    expect(answer.verdict).toBe('allow');
    const { receipt } = await prove(answer.receiptId!);
    const res = await fetch(`${s.chio.verifierUrl}/v1/policies/${receipt.policy_hash}`);
    expect(res.status).toBe(200);
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(`sha256:${createHash('sha256').update(bytes).digest('hex')}`).toBe(receipt.policy_hash);
    expect(Buffer.from(bytes).equals(Buffer.from(loadPolicySet(s.policyDir, join(s.dataDir, 'keys')).canonical))).toBe(true);
    const set = JSON.parse(new TextDecoder().decode(bytes)) as Array<{ kind: string; doc: { spec: { rules?: Array<{ to: Array<{ operation: { paths: string[] } }> }> } } }>;
    expect(set.find((d) => d.kind === 'AuthorizationPolicy')!.doc.spec.rules![0]!.to[0]!.operation.paths).toEqual(['/tools/*']);
  });

  it('archives a swapped-in set too, and keeps serving the one before', async () => {
    const before = s.chio.authz.policyHash;
    writeFileSync(join(s.policyDir, 'policies.yaml'), allowTools('"/tools/*", "/invoke/*"'));
    // The watcher may see the write first; either way the new set is live after this.
    expect(['swapped', 'unchanged']).toContain(await s.chio.authz.policies.reload());
    expect(s.chio.authz.policyHash).not.toBe(before);
    const answer = await call('/invoke/run');
    expect(answer.verdict).toBe('allow');
    const { receipt } = await prove(answer.receiptId!);
    expect(receipt.policy_hash).not.toBe(before);
    const deadline = Date.now() + 5_000;
    let res = await fetch(`${s.chio.verifierUrl}/v1/policies/${receipt.policy_hash}`);
    while (res.status === 404 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      res = await fetch(`${s.chio.verifierUrl}/v1/policies/${receipt.policy_hash}`);
    }
    expect(res.status).toBe(200);
    expect(new TextDecoder().decode(await res.arrayBuffer())).toContain('/invoke/*');
    expect((await fetch(`${s.chio.verifierUrl}/v1/policies/${before}`)).status).toBe(200);
  });
});

describe('standard proofs, served and saved', () => {
  it('serves a tlog-proof that verifies with the receipt and the keys from the key directory', async () => {
    const answer = await call('/tools/proof');
    const { receipt } = await prove(answer.receiptId!);
    const text = await (await fetch(`${s.chio.verifierUrl}/v1/receipts/${receipt.id}/proof`)).text();
    expect(verifyTlogProof(text, receipt, trust(), receipt.id).receipt.id).toBe(receipt.id);
  });

  it('chio prove --out saves the proof the verifier serves for that checkpoint, and chio verify-proof checks it offline', async () => {
    const answer = await call('/tools/saved');
    const dir = tempDir('chio-proof-');
    const proofFile = join(dir, 'receipt.tlog-proof');
    const receiptFile = join(dir, 'receipt.json');
    const keys = ['--log-key', key('log.pub'), '--kernel-key', key('kernel.pub')];
    await chio('prove', answer.receiptId!, '--url', s.chio.verifierUrl, ...keys, '--out', proofFile, '--receipt-out', receiptFile);
    const saved = readFileSync(proofFile, 'utf8');
    const size = openCheckpoint(parseTlogProof(saved).checkpoint, key('log.pub')).size;
    const served = await fetch(`${s.chio.verifierUrl}/v1/receipts/${answer.receiptId}/proof?size=${size}`);
    expect(await served.text()).toBe(saved);

    expect(await chio('verify-proof', proofFile, '--receipt', receiptFile, ...keys)).toContain(`receipt ${answer.receiptId} (allow)`);

    // The receipt the proof is for, changed: the offline check fails with a code that exits 3.
    const receipt = JSON.parse(readFileSync(receiptFile, 'utf8'));
    writeFileSync(receiptFile, JSON.stringify({ ...receipt, decision: { ...receipt.decision, verdict: 'deny' } }));
    await expect(chio('verify-proof', proofFile, '--receipt', receiptFile, ...keys)).rejects.toSatisfy((err: unknown) => isChioError(err, 'RECEIPT_INVALID'));
  });
});
