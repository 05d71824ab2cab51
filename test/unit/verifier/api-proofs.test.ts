/**
 * The verifier API's standard proofs, caching headers, policy archive and POST /v1/verify,
 * over real HTTP and a real nats-server, the log written through src/store.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { createHash } from 'node:crypto';
import { sha256Hex } from '../../../src/crypto/sha256.js';
import { canonicalBytes } from '../../../src/receipt/jcs.js';
import { openCheckpoint } from '../../../src/tlog/index.js';
import { parseTlogProof, verifyTlogProof } from '../../../src/verify/tlog-proof.js';
import type { VerifyReport } from '../../../src/verify/report.js';
import { archivePolicySet } from '../../../src/store/policy-archive.js';
import { chainOf } from '../receipt/helpers.js';
import { useTestStore } from '../store/nats.js';
import { LogFixture } from '../store/log-fixture.js';
import { ORIGIN, kernel, logKey, useVerifier } from './use-verifier.js';

const TRUST = { logKey: logKey.verifierKey, kernelKeys: [kernel.verifierKey] };

describe('the verifier API: standard proofs, caching, policies and /v1/verify', () => {
  const store = useTestStore();
  const verifier = useVerifier(store);
  const receipts = chainOf(12, kernel, 'chain-p');
  const policy = canonicalBytes([{ kind: 'AuthorizationPolicy', doc: { metadata: { name: 'tools' }, spec: { action: 'ALLOW' } } }]);
  const policyHash = `sha256:${sha256Hex(policy)}`;

  beforeAll(async () => {
    const log = new LogFixture(store);
    await log.store(receipts);
    await log.integrate(5);
    await log.publishCheckpoint(ORIGIN, logKey.signerKey);
    await log.integrate(5);
    await log.publishCheckpoint(ORIGIN, logKey.signerKey); // sizes 5 and 10; 10, 11 stored only
    await archivePolicySet(store.resources.policies, policyHash, policy);
  });

  describe('GET /v1/receipts/<id>/proof', () => {
    it('answers a tlog-proof@v1 against the latest checkpoint that verifies with the receipt', async () => {
      for (const index of [0, 4, 9]) {
        const res = await verifier.get(`/v1/receipts/${receipts[index]!.id}/proof`);
        expect(res.status, `index ${index}`).toBe(200);
        expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
        expect(res.headers.get('cache-control')).toBe('no-cache');
        const text = await res.text();
        expect(text.startsWith(`c2sp.org/tlog-proof@v1\nindex ${index}\n`)).toBe(true);
        expect(verifyTlogProof(text, receipts[index], TRUST, receipts[index]!.id)).toMatchObject({ index, treeSize: 10 });
      }
    });

    it('answers the same proof as the JSON answer, hash for hash', async () => {
      const json = (await (await verifier.get(`/v1/receipts/${receipts[3]!.id}`)).json()) as { inclusion_proof: string[]; checkpoint: string };
      const proof = parseTlogProof(await (await verifier.get(`/v1/receipts/${receipts[3]!.id}/proof`)).text());
      expect(proof.checkpoint).toBe(json.checkpoint);
      expect(proof.hashes.map((h) => Buffer.from(h).toString('base64'))).toEqual(json.inclusion_proof);
    });

    it('answers against a fixed checkpoint size with ?size=N, cacheable forever', async () => {
      const res = await verifier.get(`/v1/receipts/${receipts[2]!.id}/proof?size=5`);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      const text = await res.text();
      expect(openCheckpoint(parseTlogProof(text).checkpoint, logKey.verifierKey).size).toBe(5);
      expect(verifyTlogProof(text, receipts[2], TRUST).treeSize).toBe(5);
    });

    it('refuses a size no checkpoint has (404), a leaf past the size (404) and a size that is not a number (400)', async () => {
      expect((await verifier.get(`/v1/receipts/${receipts[2]!.id}/proof?size=7`)).status).toBe(404);
      expect((await verifier.get(`/v1/receipts/${receipts[6]!.id}/proof?size=5`)).status).toBe(404);
      for (const size of ['0', '-1', '05', '1e3', 'x', '99999999999999999']) {
        expect((await verifier.get(`/v1/receipts/${receipts[2]!.id}/proof?size=${size}`)).status, size).toBe(400);
      }
    });

    it('answers 202 for a receipt stored but not yet in a checkpoint, 404 and 400 as the JSON route', async () => {
      expect((await verifier.get(`/v1/receipts/${receipts[11]!.id}/proof`)).status).toBe(202);
      expect((await verifier.get(`/v1/receipts/${'cd'.repeat(32)}/proof`)).status).toBe(404);
      expect((await verifier.get('/v1/receipts/xyz/proof')).status).toBe(400);
    });
  });

  describe('caching headers', () => {
    it('answers 304 to a request naming the ETag it was given', async () => {
      for (const path of [`/v1/receipts/${receipts[1]!.id}`, `/v1/receipts/${receipts[1]!.id}/proof?size=5`, '/checkpoint', '/tile/0/000.p/10', '/v1/consistency?old=5&new=10', `/v1/policies/${policyHash}`]) {
        const first = await verifier.get(path);
        expect(first.status, path).toBe(200);
        const etag = first.headers.get('etag')!;
        expect(etag, path).toMatch(/^"[A-Za-z0-9_-]+"$/);
        const again = await verifier.get(path, { headers: { 'if-none-match': etag } });
        expect(again.status, path).toBe(304);
        expect((await verifier.get(path, { headers: { 'if-none-match': '"other"' } })).status, path).toBe(200);
      }
    });

    it('marks a consistency proof between published sizes immutable, and the latest checkpoint not', async () => {
      expect((await verifier.get('/v1/consistency?old=5&new=10')).headers.get('cache-control')).toContain('immutable');
      expect((await verifier.get('/checkpoint')).headers.get('cache-control')).toBe('no-cache');
      expect((await verifier.get(`/v1/receipts/${receipts[1]!.id}`)).headers.get('cache-control')).toBe('no-cache');
    });

    it('says nosniff on every answer, errors and 404s included', async () => {
      for (const path of ['/checkpoint', '/nowhere', '/v1/receipts/xyz', '/health', `/v1/policies/${policyHash}`]) {
        expect((await verifier.get(path)).headers.get('x-content-type-options'), path).toBe('nosniff');
      }
      expect((await verifier.post('/v1/verify', '{')).headers.get('x-content-type-options')).toBe('nosniff');
    });

    it('answers a request target that is not a URL with 400 JSON, not a stack trace', async () => {
      const { status, body } = await rawGet(verifier, 'http://[bad');
      expect(status).toBe(400);
      expect(JSON.parse(body)).toMatchObject({ code: 'MALFORMED' });
    });
  });

  describe('GET /v1/policies/<hash>', () => {
    it('answers the archived bytes, whose SHA-256 is the hash asked for, cacheable forever', async () => {
      for (const path of [`/v1/policies/${policyHash}`, `/v1/policies/${policyHash.replace(':', '%3A')}`]) {
        const res = await verifier.get(path);
        expect(res.status, path).toBe(200);
        expect(res.headers.get('content-type')).toBe('application/json');
        expect(res.headers.get('cache-control')).toContain('immutable');
        const bytes = new Uint8Array(await res.arrayBuffer());
        expect(`sha256:${createHash('sha256').update(bytes).digest('hex')}`).toBe(policyHash);
        expect(JSON.parse(new TextDecoder().decode(bytes))[0].doc.metadata.name).toBe('tools');
      }
    });

    it('answers 404 for a hash never archived and 400 for what is not a policy hash', async () => {
      expect((await verifier.get(`/v1/policies/sha256:${'0'.repeat(64)}`)).status).toBe(404);
      for (const hash of ['abc', `sha256:${'A'.repeat(64)}`, `sha512:${'0'.repeat(64)}`, `sha256:${'0'.repeat(63)}`]) {
        expect((await verifier.get(`/v1/policies/${hash}`)).status, hash).toBe(400);
      }
    });

    it('refuses (500, saying so) to serve archived bytes that do not hash to their name', async () => {
      const named = `sha256:${'1'.repeat(64)}`;
      await archivePolicySet(store.resources.policies, named, policy);
      const res = await verifier.get(`/v1/policies/${named}`);
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ code: 'INTERNAL', error: `the archived policy set for ${named} does not hash to it; the archive is damaged` });
    });
  });

  describe('POST /v1/verify', () => {
    const post = async (body: unknown) => {
      const res = await verifier.post('/v1/verify', JSON.stringify(body));
      expect(res.status).toBe(200);
      return (await res.json()) as VerifyReport;
    };

    it('reports every check holding for a receipt and the tlog-proof Chio serves for it', async () => {
      const proof = await (await verifier.get(`/v1/receipts/${receipts[4]!.id}/proof`)).text();
      const report = await post({ receipt: receipts[4], proof, previous: receipts[3] });
      expect(report).toMatchObject({ ok: true, subject: 'tlog-proof', receipt_id: receipts[4]!.id, included: { index: 4, tree_size: 10, origin: ORIGIN } });
      expect(report.checks.map((c) => [c.check, c.status])).toEqual([
        ['receipt.form', 'holds'], ['receipt.id', 'holds'], ['receipt.kernel_key', 'holds'], ['receipt.signature', 'holds'],
        ['receipt.chain', 'holds'], ['receipt.chain_link', 'holds'], ['proof.form', 'holds'], ['checkpoint.signature', 'holds'], ['inclusion', 'holds'],
      ]);
    });

    it('says which checks fail for a changed receipt', async () => {
      const proof = await (await verifier.get(`/v1/receipts/${receipts[4]!.id}/proof`)).text();
      const report = await post({ receipt: { ...receipts[4]!, time: '2030-01-01T00:00:00.000Z' }, proof });
      expect(report.ok).toBe(false);
      expect(report.checks.filter((c) => c.status === 'fails').map((c) => c.check)).toEqual(['receipt.id', 'receipt.signature', 'inclusion']);
    });

    it('answers 400 for a body that is not JSON, not a request, or not declared as JSON', async () => {
      expect((await verifier.post('/v1/verify', '{"receipt":')).status).toBe(400);
      expect((await verifier.post('/v1/verify', '{"bundle":{}}')).status).toBe(400);
      expect((await verifier.post('/v1/verify', JSON.stringify({ receipt: receipts[0] }), 'text/plain')).status).toBe(400);
    });

    it('answers 413 for a body over 1 MiB, and keeps serving', async () => {
      const res = await verifier.post('/v1/verify', JSON.stringify({ receipt: 'x'.repeat(1024 * 1024) }));
      expect(res.status).toBe(413);
      expect(await res.json()).toMatchObject({ code: 'TOO_LARGE' });
      expect((await verifier.get('/health')).status).toBe(200);
    });

    it('answers 404 for a GET', async () => {
      expect((await verifier.get('/v1/verify')).status).toBe(404);
    });
  });
});

/** A GET with a raw request target that fetch would refuse to send. */
function rawGet(verifier: { get(path: string): Promise<Response> }, target: string): Promise<{ status: number; body: string }> {
  return verifier.get('/health').then(async (res) => {
    const port = Number(new URL(res.url).port);
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: target, method: 'GET' }, (r) => {
        let body = '';
        r.on('data', (d) => (body += d));
        r.on('end', () => resolve({ status: r.statusCode!, body }));
      });
      req.on('error', reject);
      req.end();
    });
  });
}
