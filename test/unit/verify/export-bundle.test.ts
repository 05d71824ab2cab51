/**
 * ExportBundleVerifier's own guarantees, on in-memory bundles: it never says a bundle holds
 * while a step that decides the verdict was skipped (a library caller may call the steps
 * itself), and `verify-export --previous` holds a bundle to the previous one the auditor has,
 * which is what catches a log that showed two different trees of one size (a split view).
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ExportBundleVerifier } from '../../../src/verify/export-bundle.js';
import { CORRECTION_REACH } from '../../../src/verify/bundle-corrections.js';
import { verifyExportBundle, type BundleReader } from '../../../src/verify/export-steps.js';
import { formatVerifiedExport, verifyExportDir } from '../../../src/cli/verify-export.js';
import { tempDir } from '../../support/nats.js';
import { toCorrectionDraft } from '../../../src/receipt/correction.js';
import { canonicalBytes } from '../../../src/receipt/jcs.js';
import { MAX_BUNDLE_FILES, policyFileOf } from '../../../src/verify/export-format.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { toHex } from '../../../src/encoding.js';
import { bundleOf, chain, exportKey, kernel, logKey, verifyBundle, type Bundle } from './bundle.js';
import { KernelTrustSet } from '../../../src/receipt/kernel-trust.js';
import { kernelOf } from '../receipt/helpers.js';

const open = (b: Bundle) => new ExportBundleVerifier(b.manifest, b.sig, { exportKey: exportKey.verifierKey, logKey: logKey.verifierKey });
const notVerified = (skipped: string) => ({ code: 'INTERNAL', message: expect.stringMatching(new RegExp(`^the bundle is not verified: .*${skipped}`)) });

describe('ExportBundleVerifier.finish', () => {
  it('answers for a bundle whose every step ran', async () => {
    const b = await bundleOf(chain(6), { previousSize: 3 });
    expect(verifyBundle(b)).toMatchObject({ receipts: 6, policies: 1 });
  });

  it('refuses when receipts.jsonl was never ended (here cut to 2 of 6 lines)', async () => {
    const b = await bundleOf(chain(6));
    const v = open(b);
    v.checkFileList(Object.keys(b.files));
    v.checkCheckpoint(b.files.checkpoint!);
    v.pushReceipts(new TextEncoder().encode(`${new TextDecoder().decode(b.files['receipts.jsonl']!).split('\n').slice(0, 2).join('\n')}\n`));
    for (const [p, bytes] of Object.entries(b.files)) if (p.startsWith('policies/')) v.checkPolicy(p, bytes);
    expect(() => v.finish()).toThrow(expect.objectContaining(notVerified('the end of receipts.jsonl')));
  });

  it('refuses when the manifest names a previous tree whose consistency proof was never checked', async () => {
    const b = await bundleOf(chain(6), { previousSize: 3 });
    b.files['consistency.json'] = new TextEncoder().encode('garbage');
    const v = open(b);
    v.checkFileList(Object.keys(b.files));
    v.checkCheckpoint(b.files.checkpoint!);
    v.pushReceipts(b.files['receipts.jsonl']!);
    v.endReceipts();
    for (const [p, bytes] of Object.entries(b.files)) if (p.startsWith('policies/')) v.checkPolicy(p, bytes);
    expect(() => v.finish()).toThrow(expect.objectContaining(notVerified('consistency.json')));
  });

  it('refuses when the file list or a policy file was never checked', async () => {
    const b = await bundleOf(chain(3));
    const v = open(b);
    v.checkCheckpoint(b.files.checkpoint!);
    v.pushReceipts(b.files['receipts.jsonl']!);
    v.endReceipts();
    expect(() => v.finish()).toThrow(expect.objectContaining(notVerified('the file list, policies/')));
  });

  it('fails every step after one that failed: a caller that caught a bad receipt line and went on is not told the bundle holds', async () => {
    const receipts = chain(6);
    // Signed into the manifest by the exporter, so the file's digest and line count hold; its signature does not.
    receipts[2] = { ...receipts[2]!, signature: receipts[3]!.signature };
    const b = await bundleOf(receipts);
    const v = open(b);
    v.checkFileList(Object.keys(b.files));
    v.checkCheckpoint(b.files.checkpoint!);
    const lines = new TextDecoder().decode(b.files['receipts.jsonl']!).split(/(?<=\n)/);
    const errors: unknown[] = [];
    for (const line of lines) {
      try {
        v.pushReceipts(new TextEncoder().encode(line));
      } catch (err) {
        errors.push(err);
      }
    }
    expect(errors[0]).toMatchObject({ code: 'SIGNATURE_INVALID', message: expect.stringContaining('receipts.jsonl line 3') });
    const first = errors[0];
    expect(() => v.endReceipts()).toThrow(first as Error);
    for (const [p, bytes] of Object.entries(b.files)) if (p.startsWith('policies/')) expect(() => v.checkPolicy(p, bytes)).toThrow(first as Error);
    expect(() => v.finish()).toThrow(first as Error);
  });

  it('takes no receipts after their end', async () => {
    const b = await bundleOf(chain(3));
    const v = open(b);
    v.checkFileList(Object.keys(b.files));
    v.checkCheckpoint(b.files.checkpoint!);
    v.pushReceipts(b.files['receipts.jsonl']!);
    v.endReceipts();
    expect(() => v.pushReceipts(b.files['receipts.jsonl']!)).toThrow('receipts.jsonl has ended');
  });
});

/** A bundle written as a directory under `root`, as `chio export` leaves it. */
function bundleWriter(root: string): (name: string, b: Bundle) => string {
  return (name, b) => {
    const dir = join(root, name);
    for (const [path, bytes] of Object.entries({ 'manifest.json': b.manifest, 'manifest.sig': new TextEncoder().encode(b.sig), ...b.files })) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), bytes);
    }
    return dir;
  };
}

describe('verify-export listing a bundle', () => {
  it('says that it is the bundle that holds too many files, as the tar check does', async () => {
    const day = bundleWriter(tempDir('chio-bundle-crowded-'))('crowded', await bundleOf(chain(2)));
    for (let i = 0; i <= MAX_BUNDLE_FILES; i++) writeFileSync(join(day, 'policies', `${i}`), '');
    await expect(verifyExportDir(day, { exportKey: exportKey.verifierKey })).rejects.toThrow(`the bundle holds more than ${MAX_BUNDLE_FILES} files`);
  });
});

describe('verify-export --previous', () => {
  const trust = { exportKey: exportKey.verifierKey, logKey: logKey.verifierKey };
  const write = bundleWriter(tempDir('chio-bundle-chain-'));
  const log = chain(8);
  // A fork: the log key signed another tree of size 4, and today's bundle extends that one.
  const fork = chain(8, (i, d) => ({ ...d, request: { ...d.request, path: `/forked/${i}` } }));

  it('passes a bundle that extends the previous one, and prints both roots', async () => {
    const day1 = write('day1', await bundleOf(log.slice(0, 4)));
    const day2 = write('day2', await bundleOf(log, { previousSize: 4 }));
    const verified = await verifyExportDir(day2, { ...trust, previousDir: day1 });
    const line = formatVerifiedExport(day2, verified, day1);
    expect(line).toContain(`size 8 root ${verified.manifest.checkpoint.root}; extends ${day1}'s tree of size 4 root ${verified.manifest.previous!.root};`);
  });

  it('refuses a bundle that extends another tree of the previous size (a split view)', async () => {
    const day1 = write('split-day1', await bundleOf(log.slice(0, 4)));
    const day2 = write('split-day2', await bundleOf(fork, { previousSize: 4 }));
    // Alone, each verifies: only the previous bundle the auditor holds tells them apart.
    await expect(verifyExportDir(day2, trust)).resolves.toMatchObject({ receipts: 8 });
    await expect(verifyExportDir(day2, { ...trust, previousDir: day1 })).rejects.toMatchObject({ code: 'PROOF_INVALID', message: expect.stringContaining('the log showed two different trees') });
  });

  it('refuses, saying so, a previous bundle older than the one this bundle follows', async () => {
    const day0 = write('older-day0', await bundleOf(log.slice(0, 2)));
    const day2 = write('older-day2', await bundleOf(log, { previousSize: 4 }));
    await expect(verifyExportDir(day2, { ...trust, previousDir: day0 })).rejects.toMatchObject({ code: 'PROOF_INVALID', message: expect.stringContaining('not the previous bundle\'s (size 2): give the bundle this one follows') });
  });

  it('says on the OK line when the log key was the bundle\'s own, not one the auditor gave', async () => {
    const day = write('own-log-key', await bundleOf(log.slice(0, 4)));
    const alone = await verifyExportDir(day, { exportKey: exportKey.verifierKey });
    expect(formatVerifiedExport(day, alone)).toContain('; log key chio.test/bundles is the one the bundle names, not one given with --log-key: the export key alone vouches for the receipts;');
    expect(formatVerifiedExport(day, await verifyExportDir(day, trust), undefined, { logKey: true })).not.toContain('--log-key');
  });

  let spoilt = 0;
  it.each([
    ['a checkpoint that is a link to /dev/zero', (d: string) => { unlinkSync(join(d, 'checkpoint')); symlinkSync('/dev/zero', join(d, 'checkpoint')); }, 'checkpoint: not a plain file'],
    ['no checkpoint', (d: string) => unlinkSync(join(d, 'checkpoint')), 'checkpoint: missing from the bundle'],
    ['a folder no bundle has', (d: string) => mkdirSync(join(d, 'junk')), 'junk: a folder that is no part of a bundle'],
  ])('names the previous bundle, not the one checked, when it refuses one with %s', async (_name, spoil, what) => {
    const n = spoilt++;
    const day1 = write(`spoilt-day1-${n}`, await bundleOf(log.slice(0, 4)));
    const day2 = write(`spoilt-day2-${n}`, await bundleOf(log, { previousSize: 4 }));
    spoil(day1);
    // Else the auditor reads that the bundle they check has no checkpoint, while it is sound.
    await expect(verifyExportDir(day2, { ...trust, previousDir: day1 })).rejects.toThrow(`the previous bundle ${day1}: ${what}`);
  });

  it('refuses a bundle that names no previous tree', async () => {
    const day1 = write('none-day1', await bundleOf(log.slice(0, 4)));
    const day2 = write('none-day2', await bundleOf(log));
    await expect(verifyExportDir(day2, { ...trust, previousDir: day1 })).rejects.toMatchObject({ code: 'PROOF_INVALID', message: expect.stringContaining('names no previous bundle') });
  });
});

describe('corrections in a filtered bundle', () => {
  // Leaf 6 corrects leaf 5; a filter up to 00:00:06 holds leaves 0-5 and, past its end, the correction.
  const filter = { until: '2025-01-01T00:00:06.000Z' };
  const indexes = [0, 1, 2, 3, 4, 5, 6];

  it('passes a correction past the filter, with the receipt it corrects', async () => {
    const log = chain(8, (i, d, out) => (i === 6 ? toCorrectionDraft(out[5]!, d.time) : d));
    expect(verifyBundle(await bundleOf(log, { indexes, filter }))).toMatchObject({ receipts: 7, corrections: 1 });
  });

  it('refuses a receipt let past the filter as a correction that records an allow', async () => {
    // Signed and included: only its answer shows it is no correction.
    const log = chain(8, (i, d, out) => (i === 6 ? { ...d, corrects: out[5]!.id } : d));
    const b = await bundleOf(log, { indexes, filter });
    expect(() => verifyBundle(b)).toThrow(expect.objectContaining({ code: 'CORRECTION_INVALID', message: expect.stringContaining('receipts.jsonl line 7') }));
  });

  it('refuses a correction of a request to another host in a bundle of one host', async () => {
    const log = chain(8, (i, d, out) => (i === 5 ? { ...d, request: { ...d.request, host: 'other.example' } } : i === 6 ? toCorrectionDraft(out[5]!, d.time) : d));
    const b = await bundleOf(log, { indexes: [0, 1, 2, 3, 4, 6], filter: { host: 'api.example' } });
    expect(() => verifyBundle(b)).toThrow(expect.objectContaining({ code: 'RECEIPT_INVALID', message: expect.stringContaining('outside the bundle\'s filter') }));
  });
});

describe('corrections held to the receipt they correct, within CORRECTION_REACH seqs', () => {
  /** A complete log of one chain whose last receipt, CORRECTION_REACH + 2 seqs in, corrects `target` with the Check of `as`. */
  const reaching = (target: number, as = target) => chain(CORRECTION_REACH + 2, (i, d, out) => {
    const draft = { ...d, time: '2025-01-01T00:00:00.000Z' };
    return i === CORRECTION_REACH + 1 ? { ...toCorrectionDraft(out[as]!, draft.time), corrects: out[target]!.id } : draft;
  });

  it('checks a correction CORRECTION_REACH seqs after its target against it', async () => {
    const b = await bundleOf(reaching(1, 0));
    expect(() => verifyBundle(b)).toThrow(expect.objectContaining({ code: 'CORRECTION_INVALID', message: expect.stringMatching(/is not of the Check of the receipt it corrects/) }));
  });

  it('counts one further from its target as checked on its own only, and says so', async () => {
    const verified = verifyBundle(await bundleOf(reaching(0)));
    expect(verified).toMatchObject({ corrections: 1, uncheckedCorrections: 1 });
    expect(formatVerifiedExport('b', verified)).toContain(`1 of them checked on their own only: the receipt each corrects is not in the bundle, or more than ${CORRECTION_REACH} seqs before it on its chain`);
  });
});

describe('policy files', () => {
  /** A bundle whose manifest names, with its right digest, a policy file no receipt names. */
  async function withUnnamedPolicy() {
    const extra = canonicalBytes([{ kind: 'AuthorizationPolicy', doc: { metadata: { name: 'never-used' } } }]);
    const hash = `sha256:${toHex(sha256(extra))}`;
    const b = await bundleOf(chain(3), { manifestEdit: (m) => { m.files[policyFileOf(hash)] = hash; } });
    b.files[policyFileOf(hash)] = extra;
    return { b, hash, refusal: `${policyFileOf(hash)}: no receipt names policy ${hash}` };
  }

  it('refuses a policy file no receipt names: the bundle would say it holds a policy set no answer was given under', async () => {
    const { b, refusal } = await withUnnamedPolicy();
    expect(() => verifyBundle(b)).toThrow(expect.objectContaining({ code: 'BUNDLE_INVALID', message: expect.stringContaining(refusal) }));
  });

  it('refuses a policy file no receipt names before reading it: each may be 64 MiB, and a bundle may name 10,000', async () => {
    const { b, hash, refusal } = await withUnnamedPolicy();
    const all: Record<string, Uint8Array> = { 'manifest.json': b.manifest, 'manifest.sig': new TextEncoder().encode(b.sig), ...b.files };
    const read: string[] = [];
    const reader: BundleReader = { paths: Object.keys(all), read: (path) => (read.push(path), all[path]!), receipts: () => [all['receipts.jsonl']!] };
    await expect(verifyExportBundle(reader, { exportKey: exportKey.verifierKey, logKey: logKey.verifierKey })).rejects.toThrow(refusal);
    expect(read).not.toContain(policyFileOf(hash));
  });
});

// The manifest's kernel keys are vouched for by the export key alone: an auditor who holds the
// kernel keys (and their windows) gives them, and the receipts are held to those instead.
describe('verify-export --kernel-key', () => {
  const trust = { exportKey: exportKey.verifierKey, logKey: logKey.verifierKey };
  const write = bundleWriter(tempDir('chio-bundle-kernels-'));

  it('refuses receipts signed by a kernel key the export-key holder added to the manifest', async () => {
    const rogue = kernelOf(7, 'chio-kernel');
    const dir = write('rogue', await bundleOf(chain(3, undefined, 'chain-a', rogue), { manifestEdit: (m) => { m.keys.kernels = [rogue.verifierKey]; } }));
    // Alone, the bundle holds: the manifest says the rogue key is a kernel key.
    await expect(verifyExportDir(dir, trust)).resolves.toMatchObject({ receipts: 3 });
    await expect(verifyExportDir(dir, { ...trust, kernelKeys: [kernel.verifierKey] })).rejects.toMatchObject({ code: 'UNTRUSTED_KEY', message: expect.stringContaining('receipts.jsonl line 1') });
  });

  it('holds receipts to a retired key\'s window the manifest left out', async () => {
    const dir = write('no-window', await bundleOf(chain(4)));
    const retired = new KernelTrustSet([{ key: kernel.verifierKey, not_after: '2025-01-01T00:00:01.000Z' }]);
    await expect(verifyExportDir(dir, trust)).resolves.toMatchObject({ receipts: 4 });
    await expect(verifyExportDir(dir, { ...trust, kernelKeys: retired })).rejects.toMatchObject({ code: 'UNTRUSTED_KEY', message: expect.stringMatching(/receipts\.jsonl line 3, receipt .*after its kernel key's not_after/) });
    await expect(verifyExportDir(dir, { ...trust, kernelKeys: [kernel.verifierKey] })).resolves.toMatchObject({ receipts: 4 });
  });

  it('says on the OK line when the kernel keys were the bundle\'s own', async () => {
    const dir = write('own-kernels', await bundleOf(chain(2)));
    const verified = await verifyExportDir(dir, trust);
    expect(formatVerifiedExport(dir, verified, undefined, { logKey: true })).toContain('; kernel keys are the ones the bundle names, not given with --kernel-key;');
    expect(formatVerifiedExport(dir, verified, undefined, { logKey: true, kernelKeys: true })).not.toContain('--kernel-key');
  });
});
