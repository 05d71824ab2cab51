/**
 * A real JetStream cluster (issue #12), the deployment the Istio manifests describe: three
 * nats-servers clustered on loopback, every stream and bucket with 3 replicas
 * (CHIO_REPLICAS=3), Chio connected to all three (NATS_URL, comma-separated). Under steady
 * load the receipts stream's leader is SIGKILLed; once it has rejoined and caught up, another
 * node is killed and rejoins too. Then:
 *
 *   - every Check is answered (no gRPC error); a deny is ReceiptLedger only, and only inside
 *     a leader-election window after a kill (counted and printed), none in steady state;
 *   - every receipt id answered with allow is proven against the log;
 *   - the chains are well formed and nothing was quarantined;
 *   - the ledger continued the same tree: a consistency proof from /v1/consistency links the
 *     checkpoint from before the first kill to the one after the second.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { tempDir } from '../support/nats.js';
import { CLUSTER_NATS_SERVER, startNatsCluster, type NatsCluster } from '../support/nats-cluster.js';
import { startTestChio, testConfig, type TestChio } from '../support/chio.js';
import { startLoad, isAnswer } from '../support/load.js';
import { expectWellFormedChains, proveEach, quarantineReasons, storedReceipts, waitIntegrated } from '../support/stream-audit.js';
import { demoToken } from '../../src/up.js';
import { createLogger } from '../../src/log.js';
import { RECEIPTS_STREAM } from '../../src/store/resources.js';
import { openCheckpoint } from '../../src/tlog/index.js';
import { verifyConsistencyProof, type ConsistencyProof } from '../../src/verify/consistency-proof.js';

const CLIENTS = 4;
const RECEIPT_TIMEOUT_MS = 1_000;
const STEADY_MS = 2_000;
const DOWN_MS = 2_000;
/** Between one client's Checks: 4 clients at most about 200 Checks/s. */
const PAUSE_MS = 20;
/** Longest a kill may cost in denials: election (a few seconds) plus reconnects on a loaded machine. */
const ELECTION_WINDOW_MS = 15_000;

let cluster: NatsCluster;
let chio: TestChio;
let jsm: JetStreamManager;
/** The services' warnings and errors (JSON lines), shown when the audit fails: what the ledger went through. */
const warnings: string[] = [];

beforeAll(async () => {
  cluster = await startNatsCluster(3);
  const dataDir = tempDir('chio-cluster-');
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      warnings.push(...chunk.toString('utf8').split('\n').filter((l) => l.length > 0));
      done();
    },
  });
  const config = testConfig(dataDir, cluster.natsUrl, { CHIO_REPLICAS: '3', CHIO_RECEIPT_TIMEOUT_MS: String(RECEIPT_TIMEOUT_MS), CHIO_CHAIN_ID: 'cluster', CHIO_LANES: '2' });
  chio = await startTestChio(config, { log: createLogger('warn', 'chio', { format: 'json', destination: sink }) });
  jsm = await jetstreamManager(chio.nc);
}, 90_000);

afterAll(async () => {
  await chio?.stop();
  await cluster?.cleanup();
});

/** Log lines cut to what tells the story: each distinct message once with its count and first time, at most 40. */
function digest(lines: readonly string[]): string {
  const seen = new Map<string, { n: number; first: string }>();
  for (const line of lines) {
    let key = line;
    try {
      const { time, pid: _pid, hostname: _host, ...rest } = JSON.parse(line) as Record<string, unknown>;
      key = JSON.stringify(rest).replace(/"stream_seq":\d+/g, '"stream_seq":N').slice(0, 300);
      const known = seen.get(key);
      if (known) known.n++;
      else seen.set(key, { n: 1, first: String(time) });
      continue;
    } catch {
      // not JSON: counted as it is
    }
    const known = seen.get(key);
    if (known) known.n++;
    else seen.set(key, { n: 1, first: '' });
  }
  return [...seen].slice(0, 40).map(([k, v]) => `${v.first} ×${v.n} ${k}`).join('\n');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The receipts stream's leader, once every replica is current (a node that rejoined has caught up). */
async function settledLeader(timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await jsm.streams.info(RECEIPTS_STREAM).catch(() => undefined);
    const c = info?.cluster;
    if (c?.leader && c.replicas?.length === 2 && c.replicas.every((r) => r.current && !r.offline)) return c.leader;
    if (Date.now() > deadline) {
      const behind = (c?.replicas ?? []).filter((r) => !r.current || r.offline).map((r) => r.name);
      const logs = [c?.leader, ...behind].filter((n): n is string => !!n).map((n) => `--- ${n}'s log, last lines:\n${cluster.log(n).split('\n').slice(-60).join('\n')}`);
      throw new Error(`the receipts stream did not settle in ${timeoutMs} ms: ${JSON.stringify(c)}\n${logs.join('\n')}`);
    }
    await sleep(250);
  }
}

async function latestCheckpoint(): Promise<string> {
  const res = await fetch(`${chio.verifierUrl}/checkpoint`);
  expect(res.status).toBe(200);
  return res.text();
}

describe('a three-node JetStream cluster losing the stream leader, then another node', () => {
  it('keeps answering, loses no allow, and the ledger continues the same tree', async () => {
    const key = (name: string) => readFileSync(join(chio.config.keyDir, name), 'utf8').trim();
    const logKey = key('log.pub');
    expect(chio.config.replicas).toBe(3);
    expect((await jsm.streams.info(RECEIPTS_STREAM)).config.num_replicas).toBe(3);

    // Steady, not saturating: every receipt goes through three-way replication, and the ledger
    // (one KV round trip per receipt) must catch up with all of them before the audit.
    const load = startLoad(chio.grpcAddr, demoToken(chio.config), CLIENTS, 20, PAUSE_MS);
    await sleep(STEADY_MS);
    await waitIntegrated(chio.nc);
    await sleep(chio.config.checkpointIntervalMs * 3);
    const before = await latestCheckpoint();

    const kills: Array<{ node: string; at: number; extraStarts?: number; settledMs?: number }> = [];
    for (let round = 1; round <= 2; round++) {
      const leader = await settledLeader();
      // First the stream leader; then another node than the first one killed.
      const victim = round === 1 ? leader : (leader !== kills[0]!.node ? leader : cluster.nodes.find((n) => n.name !== kills[0]!.node)!.name);
      load.phase = round;
      kills.push({ node: victim, at: Date.now() });
      await cluster.kill(victim);
      await sleep(DOWN_MS);
      const back = Date.now();
      kills[round - 1]!.extraStarts = await cluster.restartUntilHealthy(victim);
      await settledLeader();
      kills[round - 1]!.settledMs = Date.now() - back;
      // Steady load once the cluster has settled: an election can take the whole time the node
      // is down, and this phase must show answers coming again after it.
      await sleep(STEADY_MS);
    }
    load.phase = 3;
    await sleep(STEADY_MS);
    await load.stop();

    expect(load.sent.filter((s) => !isAnswer(s)).map((s) => s.answer), 'every Check answered').toEqual([]);
    const answered = load.sent.filter(isAnswer);
    const allows = answered.filter((s) => s.answer.verdict === 'allow');
    const denies = answered.filter((s) => s.answer.verdict === 'deny');
    for (const s of denies) expect(s.answer.headers['x-chio-denial-guard'], s.requestId).toBe('ReceiptLedger');
    // A Check sent just before a kill may be answered after it: it belongs to that kill's window.
    const windowOf = (s: { answeredAt: number }) => kills.filter((k) => k.at <= s.answeredAt).length;
    expect(denies.filter((s) => windowOf(s) === 0 || s.phase === 3).map((s) => ({ phase: s.phase, tookMs: s.answeredAt - s.sentAt })), 'no denial in steady state').toEqual([]);
    const windows = kills.map((k, i) => {
      const inWindow = denies.filter((s) => windowOf(s) === i + 1);
      const last = Math.max(k.at, ...inWindow.map((s) => s.answeredAt));
      expect(last - k.at, `denials after killing ${k.node} end within the election window`).toBeLessThan(ELECTION_WINDOW_MS);
      return { ...k, denials: inWindow.length, ms: last - k.at, allows: allows.filter((s) => s.phase === i + 1).length };
    });
    for (const phase of [0, 1, 2, 3]) expect(allows.filter((s) => s.phase === phase).length, `allows in phase ${phase}`).toBeGreaterThan(0);

    await waitIntegrated(chio.nc, 120_000);
    const stored = await storedReceipts(chio.nc);
    const chains = expectWellFormedChains(stored);
    expect(await quarantineReasons(jsm), `the ledger quarantined nothing; kills ${JSON.stringify(kills)}; the services' warnings:\n${digest(warnings)}`).toEqual([]);
    const proven = await proveEach(allows.map((s) => s.answer.receiptId!), { verifierUrl: chio.verifierUrl, logKey, kernelKeys: [key('kernel.pub')], waitMs: 20_000 });

    // The same tree: the checkpoint after both kills extends the one before them.
    const after = await latestCheckpoint();
    const older = openCheckpoint(before, logKey);
    const newer = openCheckpoint(after, logKey);
    expect(newer.size).toBeGreaterThan(older.size);
    const res = await fetch(`${chio.verifierUrl}/v1/consistency?old=${older.size}&new=${newer.size}`);
    expect(res.status).toBe(200);
    verifyConsistencyProof((await res.json()) as ConsistencyProof, before, after, logKey);

    const version = execFileSync(CLUSTER_NATS_SERVER, ['--version'], { encoding: 'utf8' }).trim();
    console.log(
      `jetstream-cluster (${version}): ${load.sent.length} Checks, ${allows.length} allows (${proven} proven, lost 0), ${denies.length} denied ReceiptLedger; ` +
        windows.map((w) => `killed ${w.node}: ${w.denials} denials within ${w.ms} ms, ${w.allows} allows meanwhile, back and current in ${w.settledMs} ms${w.extraStarts ? ` after ${w.extraStarts} extra start(s) of a stuck node` : ''}`).join('; ') +
        `; ${stored.length} receipts on ${chains.size} chains, 0 quarantined; tree ${older.size} → ${newer.size} consistent`,
    );
  }, 300_000);
});
