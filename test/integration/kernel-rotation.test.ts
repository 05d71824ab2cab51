/**
 * A kernel key rotation under load (issue #9 item 6), step by step as docs/configuration.md
 * tells an operator, with Checks flowing all along:
 *
 *   0. authz A signs with the old key; the ledger and the verifier trust kernel.key/kernel.pub;
 *   1. kernels.yaml lists the old and the new key: the ledger and the verifier pick it up by
 *      polling (no restart, no reload call);
 *   2. the key directory's kernel.key/kernel.pub become the new key (the Secret updated) and
 *      authz B starts with it beside A (a rolling update), then A stops;
 *   3. the old key is retired: kernels.yaml gives it a not_after of now.
 *
 * Afterwards: nothing was quarantined, every allow answered by either process is proven (the
 * old key's receipts too), and /v1/keys lists both keys with the window. Then, straight into
 * the stream: a receipt of the old key stating a time before its not_after (one still in
 * flight) becomes a leaf, and one stating a time after it is quarantined, UNTRUSTED_KEY.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { startTestNats, tempDir, type TestNats } from '../support/nats.js';
import { testConfig } from '../support/chio.js';
import { startLoad, isAnswer, type Load } from '../support/load.js';
import { proveEach, quarantineCount, quarantineReasons, storedReceipts, waitIntegrated } from '../support/stream-audit.js';
import { connectNats } from '../../src/nats/connection.js';
import { createLogger } from '../../src/log.js';
import { generateKeys, loadKey, type LoadedKey } from '../../src/keys.js';
import { KERNEL_KEYS_FILE, loadKernelTrust } from '../../src/kernel-keys.js';
import { startAuthz, type RunningAuthz } from '../../src/authz/service.js';
import { startLedger, type RunningLedger } from '../../src/ledger/service.js';
import { startVerifier, type RunningVerifier } from '../../src/verifier/service.js';
import { demoToken } from '../../src/up.js';
import { GENESIS_PREV, receiptBytes, type Receipt } from '../../src/receipt/receipt.js';
import { QUARANTINE_STREAM, ensureResources, receiptSubject } from '../../src/store/resources.js';
import { readIndexEntry } from '../../src/store/receipt-index.js';
import type { ChioConfig } from '../../src/config.js';
import { bodyOf, draftOf, signBody } from '../unit/receipt/helpers.js';

const CLIENTS = 3;
const PHASE_MS = 1_200;

let nats: TestNats;
let nc: NatsConnection;
let jsm: JetStreamManager;
let config: ChioConfig;
let ledger: RunningLedger;
let verifier: RunningVerifier;
const authz: RunningAuthz[] = [];
const loads: Load[] = [];

const log = createLogger(process.env.CHIO_TEST_LOG_LEVEL ?? 'silent');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const keyFile = (name: string) => readFileSync(join(config.keyDir, name), 'utf8').trim();

/** Replace a file of the key directory whole, as a Secret update does: readers see the old or the new one. */
function replaceKeyFile(name: string, text: string, mode = 0o644): void {
  const tmp = join(config.keyDir, `.${name}.tmp`);
  writeFileSync(tmp, text, { mode });
  renameSync(tmp, join(config.keyDir, name));
}

async function until(what: string, holds: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await holds())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

async function keysServed(): Promise<{ kernels: string[]; kernel_windows?: Array<{ key: string; not_after?: string }> }> {
  return (await fetch(`http://127.0.0.1:${verifier.httpPort}/v1/keys`)).json() as Promise<{ kernels: string[] }>;
}

/** Authz as one more pod of the Deployment: its own chains, the key directory as it is now. */
async function startAuthzPod(chainId: string): Promise<{ authz: RunningAuthz; load: Load }> {
  const pod = await startAuthz({ ...config, chainId, lanes: 2 }, nc, log);
  authz.push(pod);
  const load = startLoad(`127.0.0.1:${pod.grpcPort}`, demoToken(config), CLIENTS, 20, 2);
  loads.push(load);
  return { authz: pod, load };
}

/** A receipt of `kernel` stating `time`, alone on a chain of its own. */
function receiptAt(kernel: LoadedKey, chain: string, time: string): Receipt {
  return signBody(bodyOf(draftOf(1, { time }), { chain, seq: 1, prev: GENESIS_PREV }, kernel.verifierKey), kernel.signer);
}

beforeAll(async () => {
  nats = await startTestNats();
  config = testConfig(tempDir('chio-rotation-'), nats.current.url, { CHIO_KERNEL_KEYS_POLL_MS: '100' });
  generateKeys(config.keyDir, config.logOrigin);
  nc = await connectNats({ servers: [nats.current.url], name: 'chio-rotation' });
  jsm = await jetstreamManager(nc);
  ledger = await startLedger(config, nc, log);
  verifier = await startVerifier(config, nc, log);
});

afterAll(async () => {
  await Promise.all(loads.map((l) => l.stop()));
  for (const a of authz) await a.stop().catch(() => undefined);
  await ledger?.stop();
  await verifier?.stop();
  await nc?.drain();
  await nats?.cleanup();
});

describe('rotating the kernel key under load', () => {
  it('quarantines nothing and loses nothing; afterwards the retired key signs nothing new', async () => {
    const oldKernel = loadKey(config.keyDir, 'kernel');
    const scratch = join(tempDir('chio-rotation-new-'), 'keys');
    generateKeys(scratch, config.logOrigin);
    const newKernel = loadKey(scratch, 'kernel');

    // 0. The old key signs.
    const a = await startAuthzPod('pod-a');
    await sleep(PHASE_MS);

    // 1. Both keys trusted, before any receipt of the new one exists.
    replaceKeyFile(KERNEL_KEYS_FILE, `kernels:\n  - key: ${oldKernel.verifierKey}\n  - key: ${newKernel.verifierKey}\n`);
    await until('the ledger trusting the new key', () => ledger.kernelKeys.current().keys.includes(newKernel.verifierKey));
    await until('/v1/keys listing the new key', async () => (await keysServed()).kernels.includes(newKernel.verifierKey));
    await sleep(PHASE_MS / 2);

    // 2. The Secret now holds the new key; a new pod signs with it while the old one still runs.
    replaceKeyFile('kernel.key', `${newKernel.signerKey}\n`, 0o600);
    replaceKeyFile('kernel.pub', `${newKernel.verifierKey}\n`);
    const b = await startAuthzPod('pod-b');
    await sleep(PHASE_MS);
    await a.load.stop();
    await a.authz.stop();
    await sleep(PHASE_MS / 2);

    // 3. Retire the old key: every receipt it signed was answered before now.
    const notAfter = new Date().toISOString();
    replaceKeyFile(KERNEL_KEYS_FILE, `kernels:\n  - key: ${newKernel.verifierKey}\n  - key: ${oldKernel.verifierKey}\n    not_after: ${notAfter}\n`);
    await until('the ledger retiring the old key', () => ledger.kernelKeys.current().entries.some((e) => e.key === oldKernel.verifierKey && e.not_after === notAfter));
    await until('/v1/keys showing the window', async () => (await keysServed()).kernel_windows !== undefined);
    await sleep(PHASE_MS);
    await b.load.stop();
    await b.authz.stop();

    const allows = loads.flatMap((l) => l.sent.filter(isAnswer).filter((s) => s.answer.verdict === 'allow'));
    await waitIntegrated(nc);
    expect(await quarantineReasons(jsm), 'the ledger quarantined nothing').toEqual([]);

    // Both keys signed allows, and every one of them is a proven leaf.
    const stored = new Map((await storedReceipts(nc)).map((s) => [s.receipt.id, s.receipt]));
    const signers = allows.map((s) => stored.get(s.answer.receiptId!)?.kernel_key);
    const byOld = signers.filter((k) => k === oldKernel.verifierKey).length;
    const byNew = signers.filter((k) => k === newKernel.verifierKey).length;
    expect(byOld, 'allows signed by the old key').toBeGreaterThan(0);
    expect(byNew, 'allows signed by the new key').toBeGreaterThan(0);
    expect(byOld + byNew, 'every allow is in the stream').toBe(allows.length);
    // The operator's trust after the rotation: kernel.pub (now the new key) and kernels.yaml.
    const trust = { logKey: keyFile('log.pub'), kernelKeys: loadKernelTrust(config.keyDir, 'verifier') };
    expect(await proveEach(allows.map((s) => s.answer.receiptId!), { verifierUrl: `http://127.0.0.1:${verifier.httpPort}`, ...trust, waitMs: 10_000 })).toBe(allows.length);
    console.log(`kernel-rotation: ${allows.length} allows proven (${byOld} old key, ${byNew} new key), 0 quarantined`);

    expect(await keysServed()).toEqual({
      log: keyFile('log.pub'),
      kernels: [newKernel.verifierKey, oldKernel.verifierKey],
      kernel_windows: [{ key: newKernel.verifierKey }, { key: oldKernel.verifierKey, not_after: notAfter }],
      export: keyFile('export.pub'),
    });

    // After the retirement: a receipt of the old key still in flight (stating a time before
    // not_after) is a leaf; one stating a later time is quarantined.
    const js = jetstream(nc);
    const resources = await ensureResources(nc, 1);
    const inFlight = receiptAt(oldKernel, 'late-in-window', new Date(Date.parse(notAfter) - 1).toISOString());
    const late = receiptAt(oldKernel, 'late-after-window', new Date(Date.parse(notAfter) + 1).toISOString());
    await js.publish(receiptSubject(inFlight.chain), receiptBytes(inFlight));
    const lateSeq = (await js.publish(receiptSubject(late.chain), receiptBytes(late))).seq;
    await waitIntegrated(nc);
    expect(await readIndexEntry(resources.index, inFlight.id), 'the in-flight receipt of the retired key is a leaf').toBeDefined();
    expect(await readIndexEntry(resources.index, late.id), 'the late one is no leaf').toBeUndefined();
    expect(await quarantineCount(jsm)).toBe(1);
    const q = await jsm.streams.getMessage(QUARANTINE_STREAM, { seq: (await jsm.streams.info(QUARANTINE_STREAM)).state.last_seq });
    expect({ code: q!.header.get('Chio-Reason-Code'), seq: Number(q!.header.get('Chio-Stream-Seq')) }).toEqual({ code: 'UNTRUSTED_KEY', seq: lateSeq });
    expect(q!.header.get('Chio-Reason')).toContain("after its kernel key's not_after");
  }, 60_000); // a rotation under load, step by step: about 18 s alone, more on a busy machine
});
