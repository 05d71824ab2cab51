/**
 * `chio export` and `chio verify-export` over a real nats-server, the log written through
 * src/store (LogFixture): what a bundle holds for each filter, corrections travelling with the
 * receipts they correct, consistency with a previous bundle, and every kind of tampering caught
 * with a message naming the file, the line and the receipt id.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { sha256Hex } from '../../../src/crypto/sha256.js';
import { canonicalBytes } from '../../../src/receipt/jcs.js';
import { GENESIS_PREV, type Receipt, type ReceiptDraft } from '../../../src/receipt/receipt.js';
import { toCorrectionDraft } from '../../../src/receipt/correction.js';
import { archivePolicySet } from '../../../src/store/policy-archive.js';
import { statusOf } from '../../../src/errors/index.js';
import { exportBundle } from '../../../src/export/exporter.js';
import { STAGING_PREFIX } from '../../../src/export/bundle-staging.js';
import { verifyExportDir } from '../../../src/cli/verify-export.js';
import { formatManifest, policyFileOf, signManifest, type ExportFilter, type ExportManifest } from '../../../src/verify/export-format.js';
import { generateSignerKey, signCheckpoint, toNoteSigner } from '../../../src/tlog/index.js';
import { loadKeyFile } from '../../../src/keys.js';
import { KernelTrustSet, type KernelKeys } from '../../../src/receipt/kernel-trust.js';
import { draftOf, kernelOf, signReceipt } from '../receipt/helpers.js';
import { useTestStore } from '../store/nats.js';
import { LogFixture } from '../store/log-fixture.js';
import { tempDir } from '../../support/nats.js';
import { ChioError } from '../../../src/errors/index.js';

const ORIGIN = 'chio.test/export';
const kernel = kernelOf(7);
const logKey = generateSignerKey(ORIGIN);
const START = Date.UTC(2025, 0, 1);
const policies = [0, 1].map((n) => canonicalBytes([{ kind: 'AuthorizationPolicy', doc: { metadata: { name: `p${n}` } } }]));
const policyHashes = policies.map((p) => `sha256:${sha256Hex(p)}`);

/** 300 receipts on two chains (more than one tile), every third a deny, every fifth on another host; receipt 41 is corrected by 43 (both on chain-a). */
function makeLog(): Receipt[] {
  const heads = new Map<string, Receipt>();
  const out: Receipt[] = [];
  for (let i = 0; i < 300; i++) {
    const chain = i % 7 === 0 ? 'chain-b' : 'chain-a';
    const head = heads.get(chain);
    let draft: ReceiptDraft = draftOf(i, {
      time: new Date(START + i * 1000).toISOString(),
      policy_hash: policyHashes[i < 150 ? 0 : 1]!,
      decision: i % 3 === 0 ? { verdict: 'deny', guard: 'Policy', http_status: 403, shadow: false } : { verdict: 'allow', http_status: 200, shadow: false },
    });
    draft = { ...draft, request: { ...draft.request, host: i % 5 === 0 ? 'other.example' : 'api.example' } };
    // As a chain writer makes it: of 41's Check (a correction of another's is refused).
    if (i === 43) draft = toCorrectionDraft(out[41]!, draft.time);
    const r = signReceipt(draft, { chain, seq: (head?.seq ?? 0) + 1, prev: head?.id ?? GENESIS_PREV }, kernel);
    heads.set(chain, r);
    out.push(r);
  }
  return out;
}

describe('chio export / verify-export', () => {
  const store = useTestStore();
  const receipts = makeLog();
  const dir = tempDir('chio-export-test-');
  const keyFile = join(dir, 'export.key');
  const exportKey = generateSignerKey('chio-export');
  writeFileSync(keyFile, `${exportKey.signerKey}\n`, { mode: 0o600 });
  let log: LogFixture;

  const run = (out: string, filter: ExportFilter = {}, previousDir?: string, kernelKeys: KernelKeys = [kernel.verifierKey]) => exportBundle({
    jsm: store.jsm, resources: store.resources, outDir: join(dir, out), filter, ...(previousDir ? { previousDir: join(dir, previousDir) } : {}),
    exportKey: loadKeyFile(keyFile), logKey: logKey.verifierKey, kernelKeys, now: () => new Date(START),
  });
  const verify = (out: string) => verifyExportDir(join(dir, out), { exportKey: exportKey.verifierKey, logKey: logKey.verifierKey });
  const lines = (out: string) => readFileSync(join(dir, out, 'receipts.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { index: number; receipt: Receipt });

  beforeAll(async () => {
    log = new LogFixture(store);
    await log.store(receipts);
    await log.integrate(200);
    await log.publishCheckpoint(ORIGIN, logKey.signerKey);
    for (const [i, p] of policies.entries()) await archivePolicySet(store.resources.policies, policyHashes[i]!, p);
    await run('first');
    await log.integrate(100);
    await log.publishCheckpoint(ORIGIN, logKey.signerKey);
    await run('second', {}, 'first');
  });

  describe('exportBundle', () => {
    it('writes every leaf of an unfiltered log with its proof, the policies and the consistency proof; it verifies', async () => {
      expect(lines('second').map((l) => l.index)).toEqual(receipts.map((_, i) => i));
      expect(readdirSync(join(dir, 'second')).sort()).toEqual(['checkpoint', 'consistency.json', 'manifest.json', 'manifest.sig', 'policies', 'receipts.jsonl']);
      expect(readFileSync(join(dir, 'second', policyFileOf(policyHashes[1]!)))).toEqual(Buffer.from(policies[1]!));
      const verified = await verify('second');
      expect(verified).toMatchObject({ receipts: 300, corrections: 1, policies: 2, manifest: { previous: { size: 200 }, checkpoint: { size: 300 } } });
      expect((await verify('first')).receipts).toBe(200);
    });

    it('keeps what the filter asks for, and a corrected receipt with its correction', async () => {
      const filter = { verdict: 'allow' as const, host: 'api.example', since: new Date(START + 30_000).toISOString(), until: new Date(START + 100_000).toISOString() };
      await run('filtered', filter);
      const got = lines('filtered');
      const expected = receipts.map((r, i) => ({ r, i })).filter(({ r, i }) => i >= 30 && i < 100 && r.decision.verdict === 'allow' && r.request.host === 'api.example');
      expect(got.filter((l) => l.receipt.corrects === undefined).map((l) => l.index)).toEqual(expected.map((e) => e.i));
      // Receipt 41 (allow) was corrected by 43, a deny: 43 goes along although the filter says allow.
      expect(got.find((l) => l.index === 43)?.receipt.corrects).toBe(receipts[41]!.id);
      expect(got.map((l) => l.index)).toEqual([...got.map((l) => l.index)].sort((a, b) => a - b));
      expect((await verify('filtered')).receipts).toBe(got.length);
    });

    it('writes each kernel key\'s validity window when one has a window, and holds every receipt to it', async () => {
      const manifestOf = (out: string) => JSON.parse(readFileSync(join(dir, out, 'manifest.json'), 'utf8')) as ExportManifest;
      expect(manifestOf('second').keys).not.toHaveProperty('kernel_windows');
      const retired = kernelOf(8).verifierKey;
      const windows = [{ key: kernel.verifierKey, not_before: new Date(START).toISOString() }, { key: retired, not_after: new Date(START - 1).toISOString() }];
      await run('windowed', { until: new Date(START + 20_000).toISOString() }, undefined, new KernelTrustSet(windows));
      expect(manifestOf('windowed').keys).toMatchObject({ kernels: [kernel.verifierKey, retired], kernel_windows: windows });
      expect((await verify('windowed')).receipts).toBe(20);
    });

    it('refuses a non-empty output directory, and a previous bundle whose tree is larger than the log\'s', async () => {
      await expect(run('second')).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
      mkdirSync(join(dir, 'ahead'));
      writeFileSync(join(dir, 'ahead', 'checkpoint'), signCheckpoint({ origin: ORIGIN, size: 400, root: new Uint8Array(32) }, logKey.signerKey));
      await expect(run('after-ahead', {}, 'ahead')).rejects.toMatchObject({ code: 'TREE_INCONSISTENT' });
      expect(existsSync(join(dir, 'after-ahead'))).toBe(false);
    });

    // A mistyped --previous said "has no checkpoint", and the --out directory was made already.
    it('refuses a --previous that does not exist as such, and one without a checkpoint, before making --out', async () => {
      await expect(run('after-missing', {}, 'no-such-bundle')).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: `--previous ${join(dir, 'no-such-bundle')} does not exist` });
      writeFileSync(join(dir, 'a-file'), '');
      await expect(run('after-file', {}, 'a-file')).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: `--previous ${join(dir, 'a-file')} is not a directory: give the directory of a previous bundle` });
      mkdirSync(join(dir, 'empty-previous'));
      await expect(run('after-empty', {}, 'empty-previous')).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: `--previous ${join(dir, 'empty-previous')} has no checkpoint` });
      for (const out of ['after-missing', 'after-file', 'after-empty']) expect(existsSync(join(dir, out))).toBe(false);
    });

    // Node's own words were all there was: "ENOTDIR: not a directory, scandir '…'".
    it('says so, before anything else, when --out is a file or lies under one', async () => {
      writeFileSync(join(dir, 'out-file'), 'kept');
      await expect(run('out-file', {}, 'no-such-bundle')).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: `--out ${join(dir, 'out-file')} is a file, not a directory` });
      await expect(run('out-file/bundle')).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: `--out ${join(dir, 'out-file', 'bundle')} cannot be made: ${join(dir, 'out-file')} is a file, not a directory` });
      expect(readFileSync(join(dir, 'out-file'), 'utf8')).toBe('kept');
    });

    it('leaves no directory it made when it fails half-way, and a given empty one empty', async () => {
      const exportKey = loadKeyFile(keyFile);
      const failing = { ...exportKey, signer: { publicKey: exportKey.signer.publicKey, sign: (): Uint8Array => { throw new Error('the signer failed'); } } };
      const exportTo = (outDir: string) => exportBundle({ jsm: store.jsm, resources: store.resources, outDir, filter: {}, exportKey: failing, logKey: logKey.verifierKey, kernelKeys: [kernel.verifierKey] });
      // The manifest is signed last: everything else was written by then.
      await expect(exportTo(join(dir, 'new-parent', 'bundle'))).rejects.toThrow(`the signer failed; nothing was written to ${join(dir, 'new-parent', 'bundle')}`);
      expect(existsSync(join(dir, 'new-parent'))).toBe(false);
      mkdirSync(join(dir, 'given-empty'));
      await expect(exportTo(join(dir, 'given-empty'))).rejects.toThrow('the signer failed');
      expect(readdirSync(join(dir, 'given-empty'))).toEqual([]);
    });

    // A run killed outright (SIGKILL) inside a given empty --out leaves its hidden staging
    // directory there; the next run said only "is not empty", and `ls` shows nothing.
    it('names the staging directory a killed export left in --out, as that, and leaves it to the user', async () => {
      mkdirSync(join(dir, 'killed'));
      const leftover = mkdtempSync(join(dir, 'killed', `.${STAGING_PREFIX}`));
      writeFileSync(join(leftover, 'receipts.jsonl'), '{"index":0}\n');
      const refused = run('killed');
      await expect(refused).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
      await expect(refused).rejects.toThrow(`--out ${join(dir, 'killed')} is not empty: ${leftover} is the staging directory of an export that was killed before it finished; remove it`);
      writeFileSync(join(dir, 'killed', 'notes.txt'), 'mine');
      await expect(run('killed')).rejects.toThrow(`--out ${join(dir, 'killed')} is not empty: a bundle is written into an empty directory (${leftover} is the staging directory of an export that was killed before it finished; it can be removed)`);
      expect(readdirSync(leftover)).toEqual(['receipts.jsonl']);
      expect(readdirSync(join(dir, 'killed')).sort()).toEqual([basename(leftover), 'notes.txt']);
    });

    it('puts the bundle in place whole, into a given empty directory too, and leaves no staging directory', async () => {
      mkdirSync(join(dir, 'given'));
      const given = statSync(join(dir, 'given')).ino;
      await run('given');
      // The directory itself, not one renamed over it: its owner, mode or a volume mounted there stay.
      expect(statSync(join(dir, 'given')).ino).toBe(given);
      expect(readdirSync(join(dir, 'given')).sort()).toEqual(['checkpoint', 'manifest.json', 'manifest.sig', 'policies', 'receipts.jsonl']);
      expect((await verify('given')).receipts).toBe(300);
      expect(readdirSync(dir).filter((name) => name.includes(STAGING_PREFIX))).toEqual([]);
    });

    it('stops between pages when its signal is aborted, throwing the reason and leaving nothing', async () => {
      const stop = new AbortController();
      let pages = 0;
      const stopped = exportBundle({
        jsm: store.jsm, resources: store.resources, outDir: join(dir, 'stopped'), filter: {}, exportKey: loadKeyFile(keyFile), logKey: logKey.verifierKey,
        kernelKeys: [kernel.verifierKey], signal: stop.signal, progress: () => (pages++, stop.abort('stopped after a page')),
      });
      await expect(stopped).rejects.toBe('stopped after a page');
      expect(pages).toBe(1);
      expect(readdirSync(dir).filter((name) => name === 'stopped' || name.includes(STAGING_PREFIX))).toEqual([]);
    });

    it('refuses, at once, a previous bundle whose checkpoint is no regular file (a FIFO, a link to /dev/zero)', async () => {
      mkdirSync(join(dir, 'fifo-previous'));
      execFileSync('mkfifo', [join(dir, 'fifo-previous', 'checkpoint')]);
      await expect(run('after-fifo', {}, 'fifo-previous')).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('checkpoint: not a regular file') });
      mkdirSync(join(dir, 'zero-previous'));
      symlinkSync('/dev/zero', join(dir, 'zero-previous', 'checkpoint'));
      await expect(run('after-zero', {}, 'zero-previous')).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('checkpoint: not a regular file') });
      expect(existsSync(join(dir, 'after-fifo')) || existsSync(join(dir, 'after-zero'))).toBe(false);
    });
  });

  describe('verifyExportDir on a tampered bundle', () => {
    let n = 0;
    /** A copy of the second bundle with `tamper` applied; resolves with the ChioError verification throws. */
    async function tampered(tamper: (d: string) => void): Promise<ChioError> {
      const copy = `tampered-${n++}`;
      cpSync(join(dir, 'second'), join(dir, copy), { recursive: true });
      tamper(join(dir, copy));
      const err = await verify(copy).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ChioError);
      // Every failure is "does not verify" in the status table: the CLI exits 3.
      expect(statusOf((err as ChioError).code).exit).toBe(3);
      return err as ChioError;
    }
    const editLines = (d: string, edit: (lines: string[]) => string[]) => {
      const file = join(d, 'receipts.jsonl');
      writeFileSync(file, `${edit(readFileSync(file, 'utf8').trimEnd().split('\n')).join('\n')}\n`);
    };
    const idOf = (i: number) => receipts[i]!.id;

    it.each(['manifest.json', 'manifest.sig', 'checkpoint', 'receipts.jsonl', 'consistency.json', policyFileOf(policyHashes[0]!)])('catches one byte flipped in %s', async (file) => {
      const err = await tampered((d) => {
        const bytes = readFileSync(join(d, file));
        bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
        writeFileSync(join(d, file), bytes);
      });
      expect(err.message).toContain(file === 'manifest.json' ? 'manifest.sig' : file);
    });

    it('names the line and receipt id of a flipped byte inside a receipt', async () => {
      const err = await tampered((d) => editLines(d, (ls) => ls.map((l, i) => (i === 6 ? l.replace('/tools/t6', '/tools/t7') : l))));
      expect(err.message).toBe(`receipts.jsonl line 7, receipt ${idOf(6)}: receipt id does not match its content`);
    });

    it('names the line and receipt id of a flipped byte inside an inclusion proof', async () => {
      const err = await tampered((d) => editLines(d, (ls) => ls.map((l, i) => (i === 9 ? l.replace(/"inclusion_proof":\["(.)/, (_m, c: string) => `"inclusion_proof":["${c === 'A' ? 'B' : 'A'}`) : l))));
      expect(err.message).toMatch(new RegExp(`^receipts.jsonl line 10, receipt ${idOf(9)}: `));
      expect(err.code).toBe('PROOF_INVALID');
    });

    it('catches a dropped line', async () => {
      const err = await tampered((d) => editLines(d, (ls) => ls.filter((_, i) => i !== 6)));
      expect(err.message).toBe(`receipts.jsonl line 7, receipt ${idOf(7)}: leaf 7 follows leaf 5, but the bundle is unfiltered: a line is missing`);
    });

    it('catches a duplicated line', async () => {
      const err = await tampered((d) => editLines(d, (ls) => ls.flatMap((l, i) => (i === 6 ? [l, l] : [l]))));
      expect(err.message).toBe(`receipts.jsonl line 8, receipt ${idOf(6)}: leaf 6 comes after leaf 6: lines are out of order or repeated`);
    });

    it('catches two lines swapped', async () => {
      const err = await tampered((d) => editLines(d, (ls) => ls.map((l, i) => (i === 6 ? ls[7]! : i === 7 ? ls[6]! : l))));
      expect(err.message).toMatch(new RegExp(`^receipts.jsonl line 7, receipt ${idOf(7)}: `));
    });

    it('catches one policy file swapped for another', async () => {
      const err = await tampered((d) => writeFileSync(join(d, policyFileOf(policyHashes[0]!)), policies[1]!));
      expect(err.message).toMatch(new RegExp(`^${policyFileOf(policyHashes[0]!)}: its SHA-256`));
    });

    it.each([
      ['receipts.jsonl cut inside a line', (d: string) => writeFileSync(join(d, 'receipts.jsonl'), readFileSync(join(d, 'receipts.jsonl')).subarray(0, 20_000)), /^receipts.jsonl line \d+(, receipt [0-9a-f]{64})?: /],
      ['receipts.jsonl cut at a line end', (d: string) => editLines(d, (ls) => ls.slice(0, 250)), /^receipts.jsonl: 250 lines, manifest.json says 300$/],
      ['a policy file removed', (d: string) => unlinkSync(join(d, policyFileOf(policyHashes[1]!))), /^policies\/[0-9a-f]{64}\.json: named in manifest.json but missing/],
      ['consistency.json removed', (d: string) => unlinkSync(join(d, 'consistency.json')), /^consistency.json: named in manifest.json but missing/],
      ['a file added', (d: string) => writeFileSync(join(d, 'notes.txt'), 'hi'), /^notes.txt: in the bundle but not named/],
      ['a file added named like an object member', (d: string) => writeFileSync(join(d, 'constructor'), 'hi'), /^constructor: in the bundle but not named/],
      ['a file added named __proto__', (d: string) => writeFileSync(join(d, '__proto__'), 'hi'), /^__proto__: in the bundle but not named/],
    ])('catches a truncated bundle: %s', async (_name, tamper, message) => {
      expect((await tampered(tamper)).message).toMatch(message);
    });

    /** Replace `file` of bundle `d` with a link to `target`, or a FIFO, or a folder. */
    const replaceWith = (d: string, file: string, what: { link: string } | 'fifo' | 'folder') => {
      rmSync(join(d, file), { recursive: true });
      if (what === 'fifo') execFileSync('mkfifo', [join(d, file)]);
      else if (what === 'folder') mkdirSync(join(d, file));
      else symlinkSync(what.link, join(d, file));
    };

    it.each([
      ['manifest.json a link to /dev/zero', (d: string) => replaceWith(d, 'manifest.json', { link: '/dev/zero' }), /^manifest.json: not a plain file/],
      ['manifest.sig a link to a file outside the bundle', (d: string) => replaceWith(d, 'manifest.sig', { link: '/etc/hostname' }), /^manifest.sig: not a plain file/],
      ['manifest.sig a FIFO', (d: string) => replaceWith(d, 'manifest.sig', 'fifo'), /^manifest.sig: not a plain file/],
      ['manifest.json a folder', (d: string) => replaceWith(d, 'manifest.json', 'folder'), /^manifest.json: a folder that is no part of a bundle/],
      ['checkpoint a link to the same file in another bundle', (d: string) => replaceWith(d, 'checkpoint', { link: join(dir, 'second', 'checkpoint') }), /^checkpoint: not a plain file/],
      ['policies/ a link to another bundle\'s', (d: string) => replaceWith(d, 'policies', { link: join(dir, 'second', 'policies') }), /^policies: not a plain file/],
      ['an empty folder added', (d: string) => mkdirSync(join(d, 'extra')), /^extra: a folder that is no part of a bundle/],
      ['a folder added inside policies/', (d: string) => mkdirSync(join(d, 'policies', 'more')), /^policies\/more: a folder that is no part of a bundle/],
    ])('refuses, before reading anything, a bundle with %s', async (_name, tamper, message) => {
      expect((await tampered(tamper)).message).toMatch(message);
    });

    /** Bundle `d`'s manifest changed by `edit` and signed again with the export key: what only the export key vouches for. */
    const resigned = (d: string, edit: (m: Record<string, any>) => void) => { // eslint-disable-line @typescript-eslint/no-explicit-any
      const manifest = JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
      edit(manifest);
      const bytes = formatManifest(manifest as ExportManifest);
      writeFileSync(join(d, 'manifest.json'), bytes);
      writeFileSync(join(d, 'manifest.sig'), signManifest(bytes, toNoteSigner(exportSigner.name, exportSigner.signer)));
    };
    const exportSigner = loadKeyFile(keyFile);

    it.each([
      ['a filter time that is no time', (m: Record<string, any>) => (m.filter = { since: 'yesterday' }), /^manifest.json: filter.since is not an RFC 3339 time$/], // eslint-disable-line @typescript-eslint/no-explicit-any
      ['a filter verdict that is none', (m: Record<string, any>) => (m.filter = { verdict: 'maybe' }), /^manifest.json: filter.verdict is neither allow nor deny$/], // eslint-disable-line @typescript-eslint/no-explicit-any
      ['a filter member no filter has', (m: Record<string, any>) => (m.filter = { path: '/x' }), /^manifest.json: filter.path is no member of a filter$/], // eslint-disable-line @typescript-eslint/no-explicit-any
      ['a checkpoint root that is no hash', (m: Record<string, any>) => (m.checkpoint.root = 'not base64!'), /^manifest.json: checkpoint.root is not the base64 of a SHA-256 hash$/], // eslint-disable-line @typescript-eslint/no-explicit-any
      ['a member no manifest has', (m: Record<string, any>) => (m.retention = 'unlimited'), /^manifest.json: retention is no member of a chio.export.v1 manifest$/], // eslint-disable-line @typescript-eslint/no-explicit-any
      ['a checkpoint member no checkpoint has', (m: Record<string, any>) => (m.checkpoint.extra = 1), /^manifest.json: checkpoint.extra is no member of a chio.export.v1 manifest$/], // eslint-disable-line @typescript-eslint/no-explicit-any
      ['a keys member no keys has', (m: Record<string, any>) => (m.keys.witness = 'w'), /^manifest.json: keys.witness is no member of a chio.export.v1 manifest$/], // eslint-disable-line @typescript-eslint/no-explicit-any
      ['a previous member no previous has', (m: Record<string, any>) => (m.previous.extra = 1), /^manifest.json: previous.extra is no member of a chio.export.v1 manifest$/], // eslint-disable-line @typescript-eslint/no-explicit-any
      ['a creation time that is no time', (m: Record<string, any>) => (m.created = 'today'), /^manifest.json: created is not an RFC 3339 time$/], // eslint-disable-line @typescript-eslint/no-explicit-any
      ['kernel windows fewer than its kernels', (m: Record<string, any>) => (m.keys.kernel_windows = []), /^manifest.json: keys.kernel_windows is not one entry per key of keys.kernels$/], // eslint-disable-line @typescript-eslint/no-explicit-any
      ['a kernel window for another key', (m: Record<string, any>) => (m.keys.kernel_windows = [{ key: kernelOf(8).verifierKey }]), /^manifest.json: keys.kernel_windows\[0\].key is not keys.kernels\[0\]$/], // eslint-disable-line @typescript-eslint/no-explicit-any
      ['a kernel window whose bound is no time', (m: Record<string, any>) => (m.keys.kernel_windows = [{ key: m.keys.kernels[0], not_after: 'soon' }]), /^manifest.json: keys.kernel_windows: entry 1: not_after/], // eslint-disable-line @typescript-eslint/no-explicit-any
      ['a kernel window member no window has', (m: Record<string, any>) => (m.keys.kernel_windows = [{ key: m.keys.kernels[0], revoked: true }]), /^manifest.json: keys.kernel_windows\[0\].revoked is no member of a chio.export.v1 manifest$/], // eslint-disable-line @typescript-eslint/no-explicit-any
    ])('refuses a manifest, signed by the export key, with %s', async (_name, edit, message) => {
      const copy = `resigned-${n++}`;
      cpSync(join(dir, 'second'), join(dir, copy), { recursive: true });
      resigned(join(dir, copy), edit);
      // With the export key only: the log key is what the manifest names.
      const err = await verifyExportDir(join(dir, copy), { exportKey: exportKey.verifierKey }).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ChioError);
      expect((err as ChioError).message).toMatch(message);
      expect(statusOf((err as ChioError).code).exit).toBe(3);
    });

    it('refuses a file that is no longer the one listed: policies/ swapped for a link to identical copies while it runs', async () => {
      const copy = `swapped-${n++}`;
      cpSync(join(dir, 'second'), join(dir, copy), { recursive: true });
      cpSync(join(dir, copy, 'policies'), join(dir, `${copy}-elsewhere`), { recursive: true });
      // Listed, and the first files read, before the first await: the swap comes after.
      const verified = verifyExportDir(join(dir, copy), { exportKey: exportKey.verifierKey, logKey: logKey.verifierKey });
      rmSync(join(dir, copy, 'policies'), { recursive: true });
      symlinkSync(join(dir, `${copy}-elsewhere`), join(dir, copy, 'policies'));
      await expect(verified).rejects.toThrow(/^policies\/[0-9a-f]{64}\.json: changed while it was read$/);
    });

    it('refuses a receipt its kernel key\'s window in the manifest does not cover, naming the line', async () => {
      const copy = `retired-${n++}`;
      cpSync(join(dir, 'second'), join(dir, copy), { recursive: true });
      // The key retired 100 s into the log: receipt 100 (time START + 100 s) is its last.
      resigned(join(dir, copy), (m) => (m.keys.kernel_windows = [{ key: m.keys.kernels[0], not_after: new Date(START + 100_000).toISOString() }]));
      const err = await verifyExportDir(join(dir, copy), { exportKey: exportKey.verifierKey }).then(() => undefined, (e: unknown) => e);
      expect((err as ChioError).message).toMatch(new RegExp(`^receipts.jsonl line 102, receipt ${receipts[101]!.id}: .*after its kernel key's not_after`));
    });

    it('refuses a bundle signed by another export key', async () => {
      await expect(verifyExportDir(join(dir, 'second'), { exportKey: generateSignerKey('chio-export').verifierKey })).rejects.toMatchObject({ code: 'UNTRUSTED_KEY' });
    });
  });
});
