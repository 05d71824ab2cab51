/**
 * `chio authz` SIGKILLed under load (issue #12): the authz service runs as its own process
 * (bin/chio.js, as an operator runs it), the ledger and the verifier in this one, all against
 * a test nats-server. Several clients send Checks while authz is killed at seeded random
 * instants and started again on the same ports, at least five times. Afterwards:
 *
 *   - every receipt id answered with allow is proven against the log;
 *   - no fork: every chain in the stream is seq 1..n with each prev naming the one before, and
 *     the ledger quarantined nothing;
 *   - the chains continue: each restarted process answers from the chains the first one wrote,
 *     past where it stopped (the head is read back from the stream), not from a new genesis.
 *
 * A Check in flight at a kill gets a gRPC error (Envoy fails closed on it), never an allow.
 * The seed is printed; CHIO_RELIABILITY_SEED=<seed> repeats a run's kill instants.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { TestNats } from '../support/nats.js';
import { startLogStack, type LogStack } from '../support/log-stack.js';
import { startLoad, isAnswer, seededRandom } from '../support/load.js';
import { expectWellFormedChains, proveEach, quarantineReasons, storedReceipts, waitIntegrated } from '../support/stream-audit.js';
import { startChioAuthz, type ChioAuthz } from '../../bench/lib/servers.js';
import { findFreePort } from '../../src/nats/server.js';
import { demoToken } from '../../src/up.js';
import type { ChioConfig } from '../../src/config.js';

const KILLS = 5;
const CLIENTS = 4;
const CHAIN_ID = 'authz-killed';
const LANES = 2;

let stack: LogStack;
let nats: TestNats;
let nc: NatsConnection;
let config: ChioConfig;
let verifier: LogStack['verifier'];
let authz: ChioAuthz | undefined;

beforeAll(async () => {
  stack = await startLogStack('authz-killed', CHAIN_ID);
  ({ nats, nc, config, verifier } = stack);
});

afterAll(async () => {
  await authz?.kill();
  await stack?.stop();
});

describe('chio authz SIGKILLed at random instants under load', () => {
  it('answers only what it stored, and every restart continues its chains without a fork', async () => {
    const seed = Number(process.env.CHIO_RELIABILITY_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`authz-killed: seed ${seed} (CHIO_RELIABILITY_SEED=${seed} repeats the kill instants)`);
    const random = seededRandom(seed);
    const grpcPort = await findFreePort();
    const httpPort = await findFreePort();
    const env = {
      NATS_URL: nats.current.url,
      CHIO_KEY_DIR: config.keyDir,
      CHIO_POLICIES: config.policies,
      CHIO_CHAIN_ID: CHAIN_ID,
      CHIO_LANES: String(LANES),
      CHIO_RECEIPT_TIMEOUT_MS: '1000',
      CHIO_LOG_LEVEL: 'silent',
    };
    const start = () => startChioAuthz(env, { grpcPort, httpPort });

    authz = await start();
    const load = startLoad(`127.0.0.1:${grpcPort}`, demoToken(config), CLIENTS, 100);
    const killedAfterMs: number[] = [];
    for (let epoch = 0; epoch <= KILLS; epoch++) {
      load.phase = epoch;
      const runMs = 300 + Math.floor(random() * 1_200);
      await new Promise((r) => setTimeout(r, runMs));
      if (epoch === KILLS) break;
      killedAfterMs.push(runMs);
      await authz.kill();
      authz = await start();
    }
    await load.stop();
    await authz.stop();
    authz = undefined;

    const answered = load.sent.filter(isAnswer);
    const errors = load.sent.length - answered.length;
    const allows = answered.filter((s) => s.answer.verdict === 'allow');
    const denies = answered.filter((s) => s.answer.verdict === 'deny');
    // A valid token is denied only when its receipt was not stored in time.
    for (const s of denies) expect(s.answer.headers['x-chio-denial-guard'], s.requestId).toBe('ReceiptLedger');
    for (let epoch = 0; epoch <= KILLS; epoch++) {
      expect(allows.filter((s) => s.phase === epoch).length, `allows answered by authz process #${epoch + 1}`).toBeGreaterThan(0);
    }

    await waitIntegrated(nc);
    const stored = await storedReceipts(nc);
    const chainLengths = expectWellFormedChains(stored);
    const jsm = await jetstreamManager(nc);
    expect(await quarantineReasons(jsm), 'the ledger quarantined nothing').toEqual([]);
    const lanes = Array.from({ length: LANES }, (_, i) => `${CHAIN_ID}-${i}`);
    for (const chain of chainLengths.keys()) expect(lanes, 'only the lanes of CHIO_CHAIN_ID, all along').toContain(chain);

    // Each restarted process answered from a chain the processes before it wrote, past where they stopped.
    const byId = new Map(stored.map((s) => [s.receipt.id, s.receipt]));
    const receiptOf = (id: string) => {
      const r = byId.get(id);
      if (!r) throw new Error(`allow ${id} is not in the stream`);
      return r;
    };
    for (let epoch = 1; epoch <= KILLS; epoch++) {
      const headBefore = new Map<string, number>();
      for (const s of allows.filter((a) => a.phase < epoch)) {
        const r = receiptOf(s.answer.receiptId!);
        headBefore.set(r.chain, Math.max(headBefore.get(r.chain) ?? 0, r.seq));
      }
      const continued = allows.filter((s) => s.phase === epoch).map((s) => receiptOf(s.answer.receiptId!)).filter((r) => r.seq > (headBefore.get(r.chain) ?? Infinity));
      expect(continued.length, `process #${epoch + 1} continued a chain of the ones before it`).toBeGreaterThan(0);
    }

    const key = (name: string) => readFileSync(join(config.keyDir, name), 'utf8').trim();
    const proven = await proveEach(allows.map((s) => s.answer.receiptId!), { verifierUrl: `http://127.0.0.1:${verifier.httpPort}`, logKey: key('log.pub'), kernelKeys: [key('kernel.pub')], waitMs: 15_000 });
    expect(proven).toBe(allows.length);
    console.log(
      `authz-killed: ${KILLS} kills after ${killedAfterMs.join('/')} ms of load; ${load.sent.length} Checks: ${allows.length} allows (${proven} proven, lost 0), ` +
        `${denies.length} denied 503, ${errors} gRPC errors while authz was down; ${stored.length} receipts on ${chainLengths.size} chains (${[...chainLengths].map(([c, n]) => `${c}: 1..${n}`).join(', ')}), 0 quarantined`,
    );
  }, 120_000);
});
