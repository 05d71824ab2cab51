/**
 * `chio export` stopped half-way (Ctrl-C, a Job's SIGTERM at its deadline, NATS gone) must leave
 * nothing an auditor could be handed as a bundle: --out is not there afterwards, or is the empty
 * directory it was, and the process says so in one line with the shell's status for the signal.
 *
 * The real bin/chio.js exports a log of EXPORT_PAGES entry bundles from a real nats-server. It
 * is stopped once its first progress line says a page was written, with the nats-server paused
 * first (SIGSTOP): the export cannot finish meanwhile, so the signal lands mid-way every time,
 * and an export that only stopped once NATS answered again would hang the test.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { startTestNats, tempDir, type TestNats } from '../support/nats.js';
import { spawnChio, type ChioProcess } from '../support/chio-process.js';
import { ensureResources } from '../../src/store/resources.js';
import { archivePolicySet } from '../../src/store/policy-archive.js';
import { generateKeys, loadKey } from '../../src/keys.js';
import { canonicalBytes } from '../../src/receipt/jcs.js';
import { sha256Hex } from '../../src/crypto/sha256.js';
import { TILE_WIDTH } from '../../src/store/tile-store.js';
import { GENESIS_PREV, type Receipt } from '../../src/receipt/receipt.js';
import { draftOf, kernelOf, signReceipt } from '../unit/receipt/helpers.js';
import { LogFixture } from '../unit/store/log-fixture.js';

const ORIGIN = 'chio.test/export-interrupted';
/** Far more pages than the export can write between its first progress line and the pause. */
const EXPORT_PAGES = 40;
const RECEIPTS = EXPORT_PAGES * TILE_WIDTH;
const TEST_TIMEOUT_MS = 120_000;

let nats: TestNats;
let nc: NatsConnection;
let dataDir: string;
/** A directory of exports, a new one for each test. */
let outRoot: string;
let env: Record<string, string>;
let running: ChioProcess | undefined;

beforeAll(async () => {
  nats = await startTestNats();
  nc = await connect({ servers: nats.current.url });
  const resources = await ensureResources(nc);
  dataDir = tempDir('chio-export-interrupted-');
  const keyDir = join(dataDir, 'keys');
  generateKeys(keyDir, ORIGIN);
  const kernel = kernelOf(9);
  writeFileSync(join(keyDir, 'kernel.pub'), `${kernel.verifierKey}\n`);
  const policy = canonicalBytes([{ kind: 'AuthorizationPolicy', doc: { metadata: { name: 'p' } } }]);
  const policyHash = `sha256:${sha256Hex(policy)}`;
  await archivePolicySet(resources.policies, policyHash, policy);
  // Leaves as the ledger writes them; the export reads tiles and bundles, not the stream.
  const receipts: Receipt[] = [];
  for (let i = 0; i < RECEIPTS; i++) {
    receipts.push(signReceipt(draftOf(i, { policy_hash: policyHash }), { chain: 'chain-a', seq: i + 1, prev: receipts[i - 1]?.id ?? GENESIS_PREV }, kernel));
  }
  const log = new LogFixture({ nc, js: jetstream(nc), jsm: await jetstreamManager(nc), resources });
  await log.writeEntries(receipts.map((r) => canonicalBytes(r)));
  await log.publishCheckpoint(ORIGIN, loadKey(keyDir, 'log').signerKey);
  env = { NATS_URL: nats.current.url, CHIO_DATA_DIR: dataDir, CHIO_KEY_DIR: keyDir, CHIO_LOG_LEVEL: 'silent' };
}, TEST_TIMEOUT_MS);

beforeEach(() => {
  outRoot = mkdtempSync(join(dataDir, 'exports-'));
});

afterEach(async () => {
  nats.resume();
  await running?.kill();
  running = undefined;
});

afterAll(async () => {
  await nc?.close();
  await nats?.cleanup();
});

/** Start `chio export --out out`; resolves once its first page is written, with its stderr so far and to come. */
async function exportStarted(out: string): Promise<{ chio: ChioProcess; stderr: () => string }> {
  const chio = spawnChio(['export', '--out', out], env);
  running = chio;
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    chio.child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      if (new RegExp(`export: \\d+/${RECEIPTS} leaves read`).test(stderr)) resolve();
    });
    void chio.exited.then((code) => reject(new Error(`chio export ended (${code}) before its first page: ${stderr}`)));
  });
  return { chio, stderr: () => stderr };
}

/** Stop the export mid-way with `signal` (NATS paused first, so that it cannot finish) and wait for it to end. */
async function interrupt(chio: ChioProcess, signal: NodeJS.Signals): Promise<number | null> {
  await nats.pause();
  chio.child.kill(signal);
  return chio.exited;
}

describe('chio export, interrupted', { timeout: TEST_TIMEOUT_MS }, () => {
  it('by SIGINT: exit 130, one line saying nothing was written, and nothing at --out or beside it', async () => {
    const out = join(outRoot, 'by-sigint');
    const { chio, stderr } = await exportStarted(out);
    expect(await interrupt(chio, 'SIGINT')).toBe(130);
    expect(stderr().split('\n').filter((l) => l.startsWith('chio:'))).toEqual([`chio: export interrupted by SIGINT: nothing was written to ${out}`]);
    expect(readdirSync(outRoot)).toEqual([]);
  });

  it('by SIGTERM into a given empty directory: exit 143, and the directory is left empty', async () => {
    const out = join(outRoot, 'given-empty');
    mkdirSync(out);
    const { chio, stderr } = await exportStarted(out);
    expect(await interrupt(chio, 'SIGTERM')).toBe(143);
    expect(stderr()).toContain(`chio: export interrupted by SIGTERM: nothing was written to ${out}\n`);
    expect(readdirSync(outRoot)).toEqual(['given-empty']);
    expect(readdirSync(out)).toEqual([]);
  });

  it('by a new directory\'s parents too: the ones it made are taken away', async () => {
    const out = join(outRoot, 'new-parent', 'day');
    const { chio } = await exportStarted(out);
    expect(await interrupt(chio, 'SIGINT')).toBe(130);
    expect(readdirSync(outRoot)).toEqual([]);
  });
});

describe('chio export, NATS gone half-way', { timeout: TEST_TIMEOUT_MS }, () => {
  // Last in the file: the server is not started again.
  it('fails with exit 1 naming what went wrong and that nothing was written, and leaves nothing', async () => {
    const out = join(outRoot, 'nats-gone');
    const { chio, stderr } = await exportStarted(out);
    await nats.current.stop();
    expect(await chio.exited).toBe(1);
    expect(stderr()).toMatch(new RegExp(`\nchio: .*; nothing was written to ${out}\n$`));
    expect(readdirSync(outRoot)).toEqual([]);
  });
});
