/**
 * POST /v1/verify with a compliance bundle (application/x-tar), over real HTTP and a real
 * nats-server: bundles written by the real exporter from a log written through src/store, sent
 * as `tar -C DIR -cf - .` makes them. Every check holds for a genuine bundle; a tampered line
 * fails naming its file and line; hostile entries, oversized and non-tar bodies are refused;
 * a verifier without an export key says it cannot check bundles; one bundle at a time.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { cpSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { pack } from 'tar-stream';
import { sha256Hex } from '../../../src/crypto/sha256.js';
import { canonicalBytes } from '../../../src/receipt/jcs.js';
import { GENESIS_PREV, type Receipt } from '../../../src/receipt/receipt.js';
import { archivePolicySet } from '../../../src/store/policy-archive.js';
import { exportBundle } from '../../../src/export/exporter.js';
import { loadKeyFile } from '../../../src/keys.js';
import { generateSignerKey } from '../../../src/tlog/index.js';
import { KernelTrustSet } from '../../../src/receipt/kernel-trust.js';
import type { VerifyReport } from '../../../src/verify/report.js';
import { MAX_VERIFY_BUNDLE_BYTES } from '../../../src/verifier/verify-route.js';
import { draftOf, signReceipt } from '../receipt/helpers.js';
import { useTestStore } from '../store/nats.js';
import { LogFixture } from '../store/log-fixture.js';
import { tempDir } from '../../support/nats.js';
import { ORIGIN, kernel, logKey, useVerifier, type TestVerifier } from './use-verifier.js';

const policy = canonicalBytes([{ kind: 'AuthorizationPolicy', doc: { metadata: { name: 'bundled' } } }]);
const policyHash = `sha256:${sha256Hex(policy)}`;
const BUNDLE_CHECKS = ['bundle.archive', 'bundle.manifest', 'bundle.files', 'bundle.checkpoint', 'bundle.receipts', 'bundle.policies', 'bundle.consistency', 'bundle.finish'];

/** 12 receipts on one chain, each decided by `policy`. */
function makeLog(): Receipt[] {
  const out: Receipt[] = [];
  for (let i = 0; i < 12; i++) out.push(signReceipt(draftOf(i, { policy_hash: policyHash }), { chain: 'chain-t', seq: i + 1, prev: out[i - 1]?.id ?? GENESIS_PREV }, kernel));
  return out;
}

const tarOf = (dir: string): Buffer => execFileSync('tar', ['-C', dir, '-cf', '-', '.'], { maxBuffer: 256 * 1024 * 1024 });

/** A tar of `entries` as tar-stream writes them: names and types GNU tar would not write. */
async function craftedTar(entries: { name: string; type?: 'file' | 'symlink' | 'link' | 'directory'; body?: Uint8Array; linkname?: string }[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of p as AsyncIterable<Buffer>) chunks.push(c);
  })();
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (e.type === 'file' || e.type === undefined) p.entry({ name: e.name, type: 'file' }, Buffer.from(e.body ?? new Uint8Array()), cb);
      else p.entry({ name: e.name, type: e.type, ...(e.linkname !== undefined ? { linkname: e.linkname } : {}) }, cb);
    });
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

describe('POST /v1/verify with a bundle (application/x-tar)', () => {
  const store = useTestStore();
  const dir = tempDir('chio-verify-bundle-');
  const exportKeyFile = join(dir, 'export.key');
  const exportKey = generateSignerKey('chio-export');
  writeFileSync(exportKeyFile, `${exportKey.signerKey}\n`, { mode: 0o600 });
  const verifier = useVerifier(store, { exportKey: exportKey.verifierKey });
  const keyless = useVerifier(store);
  // Its kernel key retired at 00:00:03: the manifest gives no window, the verifier's own trust does.
  const retired = useVerifier(store, { exportKey: exportKey.verifierKey, kernelKeys: new KernelTrustSet([{ key: kernel.verifierKey, not_after: '2025-01-01T00:00:03.000Z' }]) });
  const receipts = makeLog();

  const postTar = (to: TestVerifier & { port: number }, body: Buffer, type = 'application/x-tar') =>
    fetch(`http://127.0.0.1:${to.port}/v1/verify`, { method: 'POST', body: new Uint8Array(body), headers: { 'content-type': type } });
  const report = async (body: Buffer): Promise<VerifyReport> => {
    const res = await postTar(verifier, body);
    expect(res.status).toBe(200);
    return (await res.json()) as VerifyReport;
  };
  const statuses = (r: VerifyReport) => r.checks.map((c) => [c.check, c.status]);
  /** A copy of bundle `name`, changed by `edit`. */
  let copies = 0;
  const copyOf = (name: string, edit: (d: string) => void) => {
    const copy = join(dir, `copy-${copies++}`);
    cpSync(join(dir, name), copy, { recursive: true });
    edit(copy);
    return copy;
  };

  beforeAll(async () => {
    const log = new LogFixture(store);
    await log.store(receipts);
    await archivePolicySet(store.resources.policies, policyHash, policy);
    const run = (out: string, previous?: string) => exportBundle({
      jsm: store.jsm, resources: store.resources, outDir: join(dir, out), filter: {}, ...(previous ? { previousDir: join(dir, previous) } : {}),
      exportKey: loadKeyFile(exportKeyFile), logKey: logKey.verifierKey, kernelKeys: [kernel.verifierKey], now: () => new Date(Date.UTC(2025, 0, 2)),
    });
    await log.integrate(8);
    await log.publishCheckpoint(ORIGIN, logKey.signerKey);
    await run('first');
    await log.integrate(4);
    await log.publishCheckpoint(ORIGIN, logKey.signerKey);
    await run('second', 'first');
  });

  it('reports every check holding for a genuine bundle, and what it holds', async () => {
    const r = await report(tarOf(join(dir, 'second')));
    expect(r.ok).toBe(true);
    expect(r.subject).toBe('bundle');
    expect(statuses(r)).toEqual(BUNDLE_CHECKS.map((c) => [c, 'holds']));
    expect(r.bundle).toMatchObject({
      receipts: 12, corrections: 0, policies: 1, checkpoint: { origin: ORIGIN, size: 12 }, previous: { size: 8 }, filter: {}, complete: true, signed_by: 'chio-export',
    });
    expect(r.checks.every((c) => c.where === undefined && c.code === undefined)).toBe(true);
  });

  it('holds the receipts to the verifier\'s own kernel keys and windows, not the manifest\'s', async () => {
    const res = await postTar(retired, tarOf(join(dir, 'first')));
    const r = (await res.json()) as VerifyReport;
    expect(r.ok).toBe(false);
    expect(r.checks.find((c) => c.check === 'bundle.receipts')).toMatchObject({ status: 'fails', code: 'UNTRUSTED_KEY', where: 'receipts.jsonl line 5', message: expect.stringContaining("after its kernel key's not_after") });
  });

  it('skips the consistency check of a bundle that names no previous tree, saying so', async () => {
    const r = await report(tarOf(join(dir, 'first')));
    expect(r).toMatchObject({ ok: true, bundle: { receipts: 8, checkpoint: { size: 8 } } });
    expect(r.checks.find((c) => c.check === 'bundle.consistency')).toEqual({ check: 'bundle.consistency', status: 'skipped', message: 'no previous tree: manifest.json names none' });
  });

  it('fails a tampered receipt line in bundle.receipts, naming receipts.jsonl and the line; the checks after it are skipped', async () => {
    const copy = copyOf('second', (d) => {
      const file = join(d, 'receipts.jsonl');
      const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
      lines[6] = lines[6]!.replace('/tools/t6', '/tools/t7');
      writeFileSync(file, `${lines.join('\n')}\n`);
    });
    const r = await report(tarOf(copy));
    expect(r.ok).toBe(false);
    expect(r.bundle).toBeUndefined();
    expect(statuses(r)).toEqual([
      ['bundle.archive', 'holds'], ['bundle.manifest', 'holds'], ['bundle.files', 'holds'], ['bundle.checkpoint', 'holds'],
      ['bundle.receipts', 'fails'], ['bundle.policies', 'skipped'], ['bundle.consistency', 'skipped'], ['bundle.finish', 'skipped'],
    ]);
    expect(r.checks[4]).toEqual({
      check: 'bundle.receipts', status: 'fails', code: 'RECEIPT_INVALID', where: 'receipts.jsonl line 7',
      message: `receipts.jsonl line 7, receipt ${receipts[6]!.id}: receipt id does not match its content`,
    });
    expect(r.checks[5]!.message).toBe('an earlier check failed');
  });

  it('refuses a tar with a symlink entry (a real tar of a bundle holding a link), before any check', async () => {
    const copy = copyOf('first', (d) => symlinkSync('/etc/passwd', join(d, 'notes')));
    const r = await report(tarOf(copy));
    expect(r.ok).toBe(false);
    expect(r.checks[0]).toMatchObject({ check: 'bundle.archive', status: 'fails', code: 'BUNDLE_INVALID', where: './notes' });
    expect(r.checks[0]!.message).toMatch(/^\.\/notes: a symlink entry, not a plain file/);
    expect(r.checks.slice(1).every((c) => c.status === 'skipped')).toBe(true);
  });

  it('refuses a tar with an entry outside the bundle (../x), a hard link, a duplicate name or a file past its bound', async () => {
    const files = ['manifest.json', 'manifest.sig', 'checkpoint', 'receipts.jsonl'].map((name) => ({ name, body: readFileSync(join(dir, 'first', name)) }));
    const cases: [string, Parameters<typeof craftedTar>[0], RegExp][] = [
      ['../x', [...files, { name: '../x', body: new Uint8Array([1]) }], /^\.\.\/x: no file of a bundle/],
      ['an absolute path', [{ name: '/etc/manifest.json', body: new Uint8Array([1]) }, ...files], /^\/etc\/manifest\.json: no file of a bundle/],
      ['a hard link', [...files, { name: './consistency.json', type: 'link', linkname: 'checkpoint' }], /^\.\/consistency\.json: a link entry, not a plain file/],
      ['a duplicate', [...files, { name: './manifest.json', body: new Uint8Array([1]) }], /^\.\/manifest\.json: given twice$/],
      ['a file past its bound', [{ name: 'manifest.sig', body: new Uint8Array(2048) }, ...files], /^manifest\.sig: 2048 bytes, over 1024$/],
    ];
    for (const [name, entries, message] of cases) {
      const r = await report(await craftedTar(entries));
      expect(r.ok, name).toBe(false);
      expect(r.checks[0], name).toMatchObject({ check: 'bundle.archive', status: 'fails', code: 'BUNDLE_INVALID' });
      expect(r.checks[0]!.message, name).toMatch(message);
    }
  });

  it('answers 413 for a bundle over the bound, pointing to chio verify-export, and keeps serving', async () => {
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: verifier.port, path: '/v1/verify', method: 'POST', headers: { 'content-type': 'application/x-tar', 'content-length': MAX_VERIFY_BUNDLE_BYTES + 1 } }, (r) => {
        let body = '';
        r.on('data', (d) => (body += d));
        r.on('end', () => resolve({ status: r.statusCode!, body }));
      });
      req.on('error', reject);
      req.write(Buffer.alloc(1024));
    });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toEqual({ code: 'TOO_LARGE', error: 'the bundle is larger than 64 MiB, the most this verifier takes; check it offline with `chio verify-export DIR`' });
    expect((await report(tarOf(join(dir, 'first')))).ok).toBe(true);
  });

  it('answers 400 for an x-tar body that is not a tar, and for a type that is neither JSON nor a tar', async () => {
    for (const body of [Buffer.from('not a tar at all'), Buffer.alloc(4096, 0x41), Buffer.alloc(0), execFileSync('gzip', ['-c'], { input: tarOf(join(dir, 'first')) })]) {
      const res = await postTar(verifier, body);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(/^the body is not a tar archive \(.+\); make one with: tar -C DIR -cf - \.$/);
    }
    const res = await postTar(verifier, tarOf(join(dir, 'first')), 'application/gzip');
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ code: 'MALFORMED', error: 'the body must be application/json (a receipt, with its proof) or application/x-tar (a compliance bundle)' });
  });

  it('says a verifier without an export key cannot check bundles, and that chio verify-export can', async () => {
    const res = await postTar(keyless, tarOf(join(dir, 'first')));
    expect(res.status).toBe(404);
    const body = (await res.json()) as { code: string; error: string };
    expect(body.code).toBe('NOT_FOUND');
    expect(body.error).toMatch(/^this verifier has no export key \(export\.pub in its key directory\), so it cannot check bundles; check one offline with `chio verify-export/);
  });

  /** A POST of a bundle whose body is sent by the caller, a piece at a time, and its answer. */
  const slowPost = (length: number) => {
    const req = request({ host: '127.0.0.1', port: verifier.port, path: '/v1/verify', method: 'POST', headers: { 'content-type': 'application/x-tar', 'content-length': length } });
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      req.on('response', (r) => {
        let body = '';
        r.on('data', (d) => (body += d));
        r.on('end', () => resolve({ status: r.statusCode!, body }));
      });
      req.on('error', reject);
    });
    return { req, answer };
  };

  it('does not let a bundle whose body comes slowly hold its place: one posted meanwhile is checked', async () => {
    const tar = tarOf(join(dir, 'first'));
    // The start of a bundle, then nothing: it held the one place for the request timeout, 30 s,
    // and every other bundle was 503 meanwhile.
    const slow = slowPost(tar.length);
    slow.req.write(tar.subarray(0, 512));
    await new Promise((r) => setTimeout(r, 200));
    expect((await report(tar)).ok).toBe(true);
    slow.req.end(tar.subarray(512));
    const done = await slow.answer;
    expect(done.status).toBe(200);
    expect((JSON.parse(done.body) as VerifyReport).ok).toBe(true);
  });

  it('holds at most MAX_VERIFY_BUNDLES_HELD_BYTES of bundles being read: past it 503 with Retry-After, and the bytes are freed', async () => {
    const tar = tarOf(join(dir, 'first'));
    // Two bodies of all but one byte of the bound each, sent and then left open.
    const piece = Buffer.alloc(MAX_VERIFY_BUNDLE_BYTES - 1);
    const slow = [slowPost(MAX_VERIFY_BUNDLE_BYTES), slowPost(MAX_VERIFY_BUNDLE_BYTES)];
    await Promise.all(slow.map(({ req }) => new Promise<void>((resolve) => req.write(piece, () => resolve()))));
    let refused: Response | undefined;
    for (let i = 0; i < 100 && refused?.status !== 503; i++) {
      refused = await postTar(verifier, tar);
      if (refused.status !== 503) await new Promise((r) => setTimeout(r, 50));
    }
    expect(refused!.status).toBe(503);
    expect(refused!.headers.get('retry-after')).toBe('5');
    expect(await refused!.json()).toMatchObject({ code: 'UNAVAILABLE', error: 'too many bundles are being read; try again shortly' });
    for (const { req, answer } of slow) {
      answer.catch(() => undefined);
      req.destroy();
    }
    let ok = false;
    for (let i = 0; i < 100 && !ok; i++) {
      const res = await postTar(verifier, tar);
      ok = res.status === 200 && ((await res.json()) as VerifyReport).ok;
      if (!ok) await new Promise((r) => setTimeout(r, 50));
    }
    expect(ok).toBe(true);
  });

  it('answers JSON receipt requests as before, on a verifier that checks bundles too', async () => {
    const res = await verifier.post('/v1/verify', JSON.stringify({ receipt: receipts[3] }));
    expect(res.status).toBe(200);
    const r = (await res.json()) as VerifyReport;
    expect(r).toMatchObject({ ok: true, subject: 'receipt', receipt_id: receipts[3]!.id });
    expect(r.checks.map((c) => c.check)).toEqual(['receipt.form', 'receipt.id', 'receipt.kernel_key', 'receipt.signature', 'receipt.chain', 'receipt.chain_link']);
  });
});
