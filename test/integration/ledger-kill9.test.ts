/**
 * kill -9 anywhere (issue: the ledger survives a real process kill at any instant, with proof).
 * `chio ledger` runs as a child process while receipts keep arriving on several chains (and a
 * few refused ones) until the last kill, and is SIGKILLed at KILLS random instants — most shortly after it became
 * the writer, while it integrates its backlog, some during start-up — and started again each
 * time. Afterwards the log is exactly what an uninterrupted run makes of the same stream
 * (test/support/log-audit.ts): same root, every id indexed once, every refused message
 * quarantined once, every two consecutive checkpoints consistent.
 *
 * The timing is seeded: the seed is printed, and CHIO_KILL_SEED=<seed> replays the same plan.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { startTestNats, tempDir, type TestNats } from '../support/nats.js';
import { freePort, spawnChio, waitFor, type ChioProcess } from '../support/chio-process.js';
import { auditLog } from '../support/log-audit.js';
import { ensureResources, receiptSubject, type ChioResources } from '../../src/store/resources.js';
import { readLedgerState } from '../../src/store/ledger-state.js';
import { readLatestCheckpoint } from '../../src/store/checkpoints.js';
import { generateKeys, loadVerifierKey } from '../../src/keys.js';
import { canonicalBytes } from '../../src/receipt/jcs.js';
import { newEd25519SignerKey, openCheckpoint } from '../../src/tlog/index.js';
import { chainOf, draftOf, kernelOf, signReceipt } from '../unit/receipt/helpers.js';
import { GENESIS_PREV } from '../../src/receipt/receipt.js';

const KILLS = 20;
const SEED = Number(process.env.CHIO_KILL_SEED ?? Math.floor(Math.random() * 2 ** 31));
const CHAINS = 4;

/** mulberry32: a small seeded PRNG, so a failing kill plan can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let nats: TestNats;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
let resources: ChioResources;
let dataDir: string;
const kernel = kernelOf(91);

beforeAll(async () => {
  nats = await startTestNats();
  nc = await connect({ servers: nats.current.url });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
  resources = await ensureResources(nc);
  dataDir = tempDir('chio-kill9-');
  const keyDir = join(dataDir, 'keys');
  mkdirSync(keyDir, { recursive: true });
  // The ledger trusts the kernel key the test signs with.
  const { signerKey, verifierKey } = newEd25519SignerKey('chio-kernel', kernel.seed);
  writeFileSync(join(keyDir, 'kernel.key'), `${signerKey}\n`, { mode: 0o600 });
  writeFileSync(join(keyDir, 'kernel.pub'), `${verifierKey}\n`);
  generateKeys(keyDir, 'chio.local/receipts');
});

afterAll(async () => {
  await nc?.drain();
  await nats?.cleanup();
});

/**
 * Store receipts on CHAINS chains in bursts until `done()`, with a refused message (forged or
 * garbage) now and then, so that every restarted ledger finds a backlog to integrate.
 */
async function produce(done: () => boolean): Promise<number> {
  const forger = kernelOf(92);
  const heads = Array.from({ length: CHAINS }, () => ({ seq: 0, prev: GENESIS_PREV }));
  let stored = 0;
  for (let burst = 0; !done(); burst++) {
    for (const [c, head] of heads.entries()) {
      for (let k = 0; k < 10; k++) {
        const r = signReceipt(draftOf(stored), { chain: `kill9-${c}`, seq: head.seq + 1, prev: head.prev }, kernel);
        await js.publish(receiptSubject(r.chain), canonicalBytes(r), { msgID: r.id });
        Object.assign(head, { seq: r.seq, prev: r.id });
        stored += 1;
      }
    }
    if (burst % 10 === 0) {
      const bad = burst % 20 === 0 ? new TextEncoder().encode(`garbage ${burst}`) : canonicalBytes(chainOf(1, forger, 'kill9-forged')[0]!);
      await js.publish(receiptSubject('kill9-bad'), bad, { msgID: `bad-${burst}` });
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return stored;
}

describe('chio ledger under kill -9', () => {
  it(`ends as the uninterrupted run's log after ${KILLS} SIGKILLs at random instants`, async () => {
    console.log(`ledger kill -9 run: seed ${SEED} (replay with CHIO_KILL_SEED=${SEED})`);
    const random = prng(SEED);
    const env = {
      NATS_URL: nats.current.url, CHIO_DATA_DIR: dataDir, CHIO_KEY_DIR: join(dataDir, 'keys'), CHIO_BIND: '127.0.0.1',
      CHIO_LEDGER_ID: 'kill9', CHIO_CHECKPOINT_INTERVAL_MS: '150', CHIO_LOG_LEVEL: 'info',
    };
    let killsDone = 0;
    const producing = produce(() => killsDone >= KILLS);
    const kills: Array<{ streamSeq: number }> = [];
    while (killsDone < KILLS) {
      const seqAtSpawn = (await readLedgerState(resources.ledger)).streamSeq;
      const ledger = spawnChio(['ledger'], { ...env, CHIO_LEDGER_PORT: String(await freePort()) });
      // Every fourth kill lands anywhere in start-up; the others once the writer has committed
      // a batch of its backlog, at a random instant of the integration that follows.
      const duringStartUp = killsDone % 4 === 3;
      if (!duringStartUp) {
        await waitFor(async () => ((await readLedgerState(resources.ledger)).streamSeq > seqAtSpawn ? true : undefined), 120_000, 'the ledger to integrate', 20);
      }
      await new Promise((r) => setTimeout(r, Math.floor(random() * (duringStartUp ? 1500 : 1000))));
      await ledger.kill('SIGKILL');
      killsDone += 1;
      kills.push({ streamSeq: (await readLedgerState(resources.ledger)).streamSeq });
    }
    const stored = await producing;
    console.log(`ledger kill -9 run: ${kills.length} kills (seed ${SEED}); integrated stream seq at each kill: ${kills.map((k) => k.streamSeq).join(' ')}`);
    // The kills really fell while the log grew, not all before or after it.
    expect(new Set(kills.map((k) => k.streamSeq)).size).toBeGreaterThan(KILLS / 2);

    const last = spawnChio(['ledger'], { ...env, CHIO_LEDGER_PORT: String(await freePort()) });
    try {
      const lastSeq = async () => (await jsm.streams.info('CHIO_RECEIPTS')).state.last_seq;
      await waitFor(async () => ((await readLedgerState(resources.ledger)).streamSeq === (await lastSeq()) ? true : undefined), 60_000, 'the ledger to catch up');
      const logKey = loadVerifierKey(join(dataDir, 'keys', 'log.pub'));
      const size = (await readLedgerState(resources.ledger)).size;
      await waitFor(async () => {
        const latest = await readLatestCheckpoint(jsm);
        return latest && openCheckpoint(latest.note, logKey).size === size ? true : undefined;
      }, 10_000, 'the last checkpoint');
      await last.kill('SIGTERM');
      const audit = await auditLog(js, jsm, resources, { log: logKey, kernels: [kernel.verifierKey] });
      expect(audit.reference.state.size).toBe(stored);
      expect(audit.reference.quarantine.size).toBeGreaterThan(0);
      expect(audit.checkpoints.length).toBeGreaterThan(KILLS / 2); // consecutive pairs checked for consistency
    } finally {
      await last.kill();
    }
  }, 900_000);
});
