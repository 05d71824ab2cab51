/**
 * Corrections in a compliance bundle, held to the receipt they correct as the ledger holds them
 * (SPEC §5, ledger/correction-link.ts): a bundle does not ask its auditor to trust that the
 * ledger checked them. Bundles are written by the real exporter over a real nats-server from a
 * log written through src/store (LogFixture, which, as a ledger that did not check, makes a
 * leaf of any correction), then cut down to a few lines and signed again with the export key.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Hex } from '../../../src/crypto/sha256.js';
import { canonicalBytes } from '../../../src/receipt/jcs.js';
import { toCorrectionDraft } from '../../../src/receipt/correction.js';
import { GENESIS_PREV, type Receipt, type ReceiptDraft } from '../../../src/receipt/receipt.js';
import { archivePolicySet } from '../../../src/store/policy-archive.js';
import { ChioError, statusOf } from '../../../src/errors/index.js';
import { exportBundle } from '../../../src/export/exporter.js';
import { formatVerifiedExport, verifyExportDir } from '../../../src/cli/verify-export.js';
import { formatManifest, signManifest, type ExportFilter, type ExportManifest } from '../../../src/verify/export-format.js';
import { reportBundle } from '../../../src/verify/bundle-report.js';
import { readBundleTar } from '../../../src/verifier/bundle-tar.js';
import { generateSignerKey, toNoteSigner } from '../../../src/tlog/index.js';
import { loadKeyFile } from '../../../src/keys.js';
import { draftOf, kernelOf, signReceipt } from '../receipt/helpers.js';
import { useTestStore } from '../store/nats.js';
import { LogFixture } from '../store/log-fixture.js';
import { tempDir } from '../../support/nats.js';

const ORIGIN = 'chio.test/export-corrections';
const kernel = kernelOf(5);
const logKey = generateSignerKey(ORIGIN);
const policy = canonicalBytes([{ kind: 'AuthorizationPolicy', doc: { metadata: { name: 'p' } } }]);
const policyHash = `sha256:${sha256Hex(policy)}`;

/**
 * The log, leaf by leaf. Leaves 0-8 are what a chain writer writes: a message of a2, a3, a4
 * whose PubAck came late for a2 and a3 (answered 503), so the next message holds their
 * corrections, a5 and a6, the first three seqs after a2. Leaves 9-13 are corrections no chain
 * writer makes, each signed by the kernel key and linked on its chain.
 */
const GENUINE = 9;
function makeLog(): Receipt[] {
  const heads = new Map<string, Receipt>();
  const out: Receipt[] = [];
  const add = (chain: string, draft: ReceiptDraft) => {
    const head = heads.get(chain);
    const r = signReceipt({ ...draft, policy_hash: policyHash }, { chain, seq: (head?.seq ?? 0) + 1, prev: head?.id ?? GENESIS_PREV }, kernel);
    heads.set(chain, r);
    out.push(r);
  };
  const correction = (of: Receipt, i: number, corrects = of.id): ReceiptDraft => ({ ...toCorrectionDraft(of, draftOf(i).time), corrects });
  add('chain-a', draftOf(0)); // 0 a1
  add('chain-b', draftOf(1)); // 1 b1
  add('chain-a', draftOf(2)); // 2 a2
  add('chain-a', draftOf(3)); // 3 a3
  add('chain-a', draftOf(4)); // 4 a4
  add('chain-a', correction(out[2]!, 5)); // 5 a5 corrects a2
  add('chain-a', correction(out[3]!, 6)); // 6 a6 corrects a3
  add('chain-b', draftOf(7)); // 7 b2
  add('chain-a', draftOf(8)); // 8 a7
  add('chain-a', correction(out[8]!, 9, 'ee'.repeat(32))); // 9: names a receipt the log does not hold
  add('chain-a', correction(out[0]!, 10, out[8]!.id)); // 10: names a7, with a1's request
  add('chain-a', correction(out[5]!, 11)); // 11: corrects the correction a5
  add('chain-a', correction(out[2]!, 12)); // 12: corrects a2 again
  add('chain-a', correction(out[7]!, 13)); // 13: corrects b2, of chain-b
  return out;
}

describe('corrections in a compliance bundle', () => {
  const store = useTestStore();
  const receipts = makeLog();
  const dir = tempDir('chio-export-corrections-');
  const keyFile = join(dir, 'export.key');
  const exportKey = generateSignerKey('chio-export');
  writeFileSync(keyFile, `${exportKey.signerKey}\n`, { mode: 0o600 });
  const trust = { exportKey: exportKey.verifierKey, logKey: logKey.verifierKey };
  const run = (out: string) => exportBundle({
    jsm: store.jsm, resources: store.resources, outDir: join(dir, out), filter: {},
    exportKey: loadKeyFile(keyFile), logKey: logKey.verifierKey, kernelKeys: [kernel.verifierKey], now: () => new Date(Date.UTC(2025, 0, 2)),
  });
  const verify = (out: string) => verifyExportDir(join(dir, out), trust);
  const refusal = async (out: string): Promise<ChioError> => {
    const err = await verify(out).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(ChioError);
    expect(statusOf((err as ChioError).code).exit).toBe(3);
    return err as ChioError;
  };
  const report = async (out: string) => reportBundle(await readBundleTar(execFileSync('tar', ['-C', join(dir, out), '-cf', '-', '.'])), trust);

  /**
   * Bundle 'all' cut down to the leaves `indexes` under `filter`, its manifest signed again by
   * the export key: what the holder of the export key alone can make of a real bundle.
   */
  let cuts = 0;
  const cut = (indexes: readonly number[], filter: ExportFilter): string => {
    const out = `cut-${cuts++}`;
    cpSync(join(dir, 'all'), join(dir, out), { recursive: true });
    const lines = readFileSync(join(dir, out, 'receipts.jsonl'), 'utf8').trimEnd().split('\n');
    const jsonl = `${indexes.map((i) => lines[i]!).join('\n')}\n`;
    writeFileSync(join(dir, out, 'receipts.jsonl'), jsonl);
    const manifest = JSON.parse(readFileSync(join(dir, out, 'manifest.json'), 'utf8')) as ExportManifest;
    manifest.filter = filter;
    manifest.count = indexes.length;
    manifest.files['receipts.jsonl'] = `sha256:${sha256Hex(new TextEncoder().encode(jsonl))}`;
    const bytes = formatManifest(manifest);
    const signer = loadKeyFile(keyFile);
    writeFileSync(join(dir, out, 'manifest.json'), bytes);
    writeFileSync(join(dir, out, 'manifest.sig'), signManifest(bytes, toNoteSigner(signer.name, signer.signer)));
    return out;
  };
  const upTo = (n: number) => Array.from({ length: n }, (_, i) => i);
  const line = (n: number, leaf: number) => new RegExp(`^receipts.jsonl line ${n}, receipt ${receipts[leaf]!.id}: `);

  beforeAll(async () => {
    const log = new LogFixture(store);
    await log.store(receipts);
    await archivePolicySet(store.resources.policies, policyHash, policy);
    await log.integrate(GENUINE);
    await log.publishCheckpoint(ORIGIN, logKey.signerKey);
    await run('genuine');
    await log.integrate(receipts.length - GENUINE);
    await log.publishCheckpoint(ORIGIN, logKey.signerKey);
    await run('all');
  });

  it('verifies corrections a chain writer makes, two and three seqs after what they correct, each checked against it', async () => {
    const verified = await verify('genuine');
    expect(verified).toMatchObject({ receipts: GENUINE, corrections: 2, uncheckedCorrections: 0 });
    expect(formatVerifiedExport('genuine', verified)).toContain('OK — 9 receipts (2 corrections, each checked against the receipt it corrects)');
    expect((await report('genuine')).bundle).toMatchObject({ corrections: 2, corrections_unchecked: 0 });
  });

  it('refuses a complete bundle whose correction names a receipt the log does not hold before it', async () => {
    expect((await refusal('all')).message).toMatch(new RegExp(`${line(10, 9).source}corrects e{12}…, which is no earlier receipt of its chain`));
  });

  it.each([
    ['names a receipt of another request', 10, /is not of the Check of the receipt it corrects/],
    ['corrects a correction', 11, new RegExp(`corrects ${receipts[5]!.id.slice(0, 12)}…, which is itself a correction`)],
    ['corrects a receipt corrected already', 12, new RegExp(`corrects a receipt already corrected by ${receipts[5]!.id.slice(0, 12)}…`)],
    ['corrects a receipt of another chain', 13, /corrects a receipt of chain chain-b/],
  ])('refuses a bundle holding a correction that %s, its target in the bundle', async (_name, leaf, why) => {
    const out = cut([...upTo(GENUINE), leaf], { host: 'api.example' });
    const err = await refusal(out);
    expect(err.code).toBe('CORRECTION_INVALID');
    expect(err.message).toMatch(line(GENUINE + 1, leaf));
    expect(err.message).toMatch(why);
    const r = await report(out);
    expect(r.ok).toBe(false);
    expect(r.checks.find((c) => c.check === 'bundle.receipts')).toMatchObject({ status: 'fails', code: 'CORRECTION_INVALID', where: `receipts.jsonl line ${GENUINE + 1}`, message: expect.stringMatching(why) });
  });

  it('refuses a correction outside the filter whose receipt is not in the bundle: it is there only for that receipt', async () => {
    // verdict=allow: the correction a5 (a deny) is in the bundle only as a2's; a2 left out.
    const out = cut([0, 1, 3, 4, 5, 7], { verdict: 'allow' });
    expect((await refusal(out)).message).toMatch(new RegExp(`${line(5, 5).source}corrects ${receipts[2]!.id.slice(0, 12)}…, which is not in the bundle, though the correction is outside its filter`));
    expect((await verify(cut([0, 1, 2, 3, 4, 5, 7], { verdict: 'allow' })))).toMatchObject({ corrections: 1, uncheckedCorrections: 0 });
  });

  it('says which corrections it checked on their own only, when what they correct is outside a filtered bundle', async () => {
    // verdict=deny: the corrections pass the filter themselves; what they correct (allows) does not.
    const out = cut([5, 6, 9], { verdict: 'deny' });
    const verified = await verify(out);
    expect(verified).toMatchObject({ receipts: 3, corrections: 3, uncheckedCorrections: 3 });
    expect(formatVerifiedExport(out, verified)).toContain('(3 corrections, 3 of them checked on their own only: the receipt each corrects is not in the bundle');
    expect((await report(out)).bundle).toMatchObject({ corrections: 3, corrections_unchecked: 3 });
  });
});
