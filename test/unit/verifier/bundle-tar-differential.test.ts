/**
 * POST /v1/verify reads a posted tar (bundle-tar.ts) as tar would extract it, or refuses it:
 * a tar the verifier reports OK must extract, with GNU tar, to a directory `chio verify-export`
 * accepts. Each case is a genuine bundle's files in a tar that tar-stream and GNU tar read
 * differently; the verifier must refuse it in bundle.archive, naming what is wrong.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readBundleTar } from '../../../src/verifier/bundle-tar.js';
import { reportBundle } from '../../../src/verify/bundle-report.js';
import { verifyExportDir } from '../../../src/cli/verify-export.js';
import { bundleOf, chain, exportKey, logKey } from '../verify/bundle.js';
import { tempDir } from '../../support/nats.js';
import { END_OF_ARCHIVE, paxEntry, rawEntry } from './raw-tar.js';

const trust = { exportKey: exportKey.verifierKey, logKey: logKey.verifierKey };

describe('a posted bundle tar is read as GNU tar extracts it', async () => {
  const b = await bundleOf(chain(4));
  const files = new Map<string, Uint8Array>([['manifest.json', b.manifest], ['manifest.sig', new TextEncoder().encode(b.sig)], ...Object.entries(b.files)]);
  const checkpoint = files.get('checkpoint')!;
  /** Every file but `leave`, as plain entries (policies/ needs no folder entry to extract). */
  const entries = (...leave: string[]) => [...files].filter(([n]) => !leave.includes(n)).flatMap(([name, data]) => rawEntry({ name, data }));
  const dir = tempDir('chio-tar-differential-');
  let extracted = 0;

  /** What GNU tar extracts from `tar`, checked by `chio verify-export`'s own code. */
  const extractAndVerify = async (tar: Uint8Array) => {
    const to = join(dir, `x${extracted++}`);
    mkdirSync(to);
    writeFileSync(`${to}.tar`, tar);
    spawnSync('tar', ['-C', to, '-xf', `${to}.tar`]);
    return verifyExportDir(to, trust).then(() => 'OK', (err: Error) => err.message);
  };
  const verifierSays = async (tar: Uint8Array) => {
    const r = await reportBundle(await readBundleTar(tar), trust);
    return r.ok ? 'OK' : r.checks.find((c) => c.status === 'fails')!.message;
  };

  it('reads a plain tar as GNU tar does: both accept it', async () => {
    const tar = Buffer.concat([...entries(), END_OF_ARCHIVE]);
    expect(await verifierSays(tar)).toBe('OK');
    expect(await extractAndVerify(tar)).toBe('OK');
  });

  const cases: [string, Uint8Array, RegExp][] = [
    // tar stops at the first empty block: two tars one after the other extract as the first.
    ['two tars one after the other', Buffer.concat([...entries('checkpoint'), END_OF_ARCHIVE, ...rawEntry({ name: 'checkpoint', data: checkpoint }), END_OF_ARCHIVE]), /^checkpoint: after the end of the archive \(an empty block, where tar stops reading\)$/],
    ['a lone empty block', Buffer.concat([...rawEntry({ name: 'manifest.json', data: files.get('manifest.json')! }), new Uint8Array(512), ...entries('manifest.json'), END_OF_ARCHIVE]), /^manifest\.sig: after the end of the archive/],
    // GNU tar extracts a file named with a trailing / as a folder.
    ['a file named checkpoint/', Buffer.concat([...entries('checkpoint'), ...rawEntry({ name: 'checkpoint/', data: checkpoint }), END_OF_ARCHIVE]), /^checkpoint\/: a file whose name ends in \/, which tar extracts as a folder$/],
    // GNU tar expands a sparse file: what it extracts is not the bytes the entry holds.
    ['a pax sparse file', Buffer.concat([...entries('checkpoint'), ...paxEntry([['GNU.sparse.size', String(checkpoint.length + 10)], ['GNU.sparse.numblocks', '1'], ['GNU.sparse.offset', '10'], ['GNU.sparse.numbytes', String(checkpoint.length)]]), ...rawEntry({ name: 'checkpoint', data: checkpoint }), END_OF_ARCHIVE]), /^checkpoint: pax header record GNU\.sparse\.size, which tar would read .*$/],
    // GNU tar applies a global header's path to every entry after it.
    ['a global pax header', Buffer.concat([...paxEntry([['path', 'checkpoint']], 'g'), ...entries('checkpoint'), ...paxEntry([['mtime', '1']]), ...rawEntry({ name: 'other', data: checkpoint }), END_OF_ARCHIVE]), /^manifest\.json: after a g header \(a global pax header\), which no tar of a bundle's folder holds$/],
    // tar-stream takes an empty pax path as no path; GNU tar as the name '.'.
    ['an empty pax path', Buffer.concat([...entries('checkpoint'), ...paxEntry([['path', '']]), ...rawEntry({ name: 'checkpoint', data: checkpoint }), END_OF_ARCHIVE]), /^checkpoint: pax header record path is empty$/],
    // tar-stream reads "181junk" as 181; GNU tar refuses it and keeps the header's size, 0.
    ['a pax size that is not a number', Buffer.concat([...entries('checkpoint'), ...paxEntry([['size', `${checkpoint.length}junk`]]), ...rawEntry({ name: 'checkpoint', data: checkpoint, rawSize: '00000000000\0' }), END_OF_ARCHIVE]), /^checkpoint: pax header record size is not a decimal number$/],
    ['a size field that is not octal', Buffer.concat([...entries('checkpoint'), ...rawEntry({ name: 'checkpoint', data: checkpoint, rawSize: `${checkpoint.length.toString(8).padStart(8, '0')}x12\0` }), END_OF_ARCHIVE]), /^checkpoint: its size field is not an octal number$/],
  ];
  for (const [name, tar, refusal] of cases) {
    it(`refuses ${name}, which GNU tar extracts to a bundle chio verify-export refuses`, async () => {
      expect(await extractAndVerify(tar)).not.toBe('OK');
      const r = await reportBundle(await readBundleTar(tar), trust);
      expect(r.ok).toBe(false);
      expect(r.checks[0]).toMatchObject({ check: 'bundle.archive', status: 'fails', code: 'BUNDLE_INVALID' });
      expect(r.checks[0]!.message).toMatch(refusal);
    });
  }

  it('accepts the tar GNU tar writes in its pax format (mtime, atime, ctime records for every entry)', async () => {
    const src = join(dir, 'posix');
    mkdirSync(join(src, 'policies'), { recursive: true });
    for (const [name, data] of files) writeFileSync(join(src, name), data);
    const tar = spawnSync('tar', ['--format=posix', '-C', src, '-cf', '-', '.']).stdout;
    expect(await verifierSays(tar)).toBe('OK');
  });
});

describe('reading a posted tar', () => {
  it('lets the event loop turn while it parses a body of many headers, as it does between chunks of receipts.jsonl', async () => {
    // 64 MiB of folder headers: 131,070 entries, each refused by nothing and each parsed.
    const folder = rawEntry({ name: './', type: '5' })[0]!;
    const tar = Buffer.concat([...Array.from({ length: 131_000 }, () => folder), END_OF_ARCHIVE]);
    let turns = 0;
    let counting = true;
    const count = () => {
      turns++;
      if (counting) setImmediate(count);
    };
    setImmediate(count);
    await readBundleTar(tar);
    counting = false;
    // Other requests are answered in between: one turn at least every 256 KiB.
    expect(turns).toBeGreaterThanOrEqual(Math.floor(tar.length / (256 * 1024)) - 1);
  });
});
