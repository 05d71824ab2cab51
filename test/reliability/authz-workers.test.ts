/**
 * `chio authz --workers 2` (CHIO_AUTHZ_WORKERS): a primary and two worker processes sharing the
 * gRPC port, run as an operator runs them (bin/chio.js), against a test nats-server, with the
 * ledger and the verifier in this process. Under load from several connections:
 *
 *   - both workers answer, each on chains of its own (`<chain id>-w<k>-<lane>`), and every
 *     chain is well formed (seq 1..n, each prev the one before) with nothing quarantined;
 *   - the primary's /metrics is the workers' sum: it counts every allow answered;
 *   - a SIGKILLed worker makes /ready say so, is started again under its index, and continues
 *     its own chains past where it stopped;
 *   - a stuck worker (SIGSTOP) is killed after 10 s of unanswered heartbeats and started again;
 *   - a stop under load, signalled as Ctrl-C signals (SIGINT to the primary and to every worker
 *     at once), lets every worker drain and exit 0;
 *   - every allow is proven against the log, those answered during the stop too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { startLogStack, type LogStack } from '../support/log-stack.js';
import { startLoad, isAnswer, type Load, type Sent } from '../support/load.js';
import { expectWellFormedChains, proveEach, quarantineReasons, storedReceipts, waitIntegrated } from '../support/stream-audit.js';
import { startChioAuthz, type ChioAuthz } from '../../bench/lib/servers.js';
import { demoToken } from '../../src/up.js';
import { childrenOf, killWithWorkers } from '../support/chio-process.js';

const CHAIN_ID = 'workers';
const LANES = 2;

let stack: LogStack;
let authz: ChioAuthz | undefined;

beforeAll(async () => (stack = await startLogStack('authz-workers', CHAIN_ID)));
afterAll(async () => {
  await killWithWorkers(authz);
  await stack?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('chio authz with two workers', () => {
  it('answers from both, each on its own chains, restarts a killed worker on them, and stops cleanly', async () => {
    const { nats, nc, config, verifier } = stack;
    authz = await startChioAuthz({
      NATS_URL: nats.current.url,
      CHIO_KEY_DIR: config.keyDir,
      CHIO_POLICIES: config.policies,
      CHIO_CHAIN_ID: CHAIN_ID,
      CHIO_LANES: String(LANES),
      CHIO_AUTHZ_WORKERS: '2',
      CHIO_RECEIPT_TIMEOUT_MS: '1000',
      CHIO_LOG_LEVEL: 'info',
    }, { stdout: 'pipe' });
    let logText = '';
    authz.process.stdout!.on('data', (d: Buffer) => (logText += d.toString()));
    const primary = authz.process.pid!;
    const workers = childrenOf(primary);
    expect(workers, 'the primary started two workers').toHaveLength(2);

    // Four connections of their own: the primary hands connections to the workers in turn.
    const token = demoToken(config);
    const startLoads = (phase: number): Load[] => {
      const loads = Array.from({ length: 4 }, () => startLoad(`127.0.0.1:${authz!.port}`, token, 2, 20, 0, true));
      for (const l of loads) l.phase = phase;
      return loads;
    };
    const stopLoads = async (loads: Load[]): Promise<Sent[]> => {
      await Promise.all(loads.map((l) => l.stop()));
      return loads.flatMap((l) => l.sent);
    };
    const run = async (ms: number, phase: number): Promise<Sent[]> => {
      const loads = startLoads(phase);
      await sleep(ms);
      return stopLoads(loads);
    };

    const before = await run(1_500, 0);
    const allowsBefore = before.filter(isAnswer).filter((s) => s.answer.verdict === 'allow');
    expect(allowsBefore.length).toBeGreaterThan(0);
    expect(await authz.counter('chio_decisions_total', { verdict: 'allow' }), "the primary's /metrics sums the workers'").toBe(allowsBefore.length);
    expect(await authz.counter('chio_ready', { component: 'authz' }), 'chio_ready is 1 (the least of the workers), not their sum').toBe(1);

    await waitIntegrated(nc);
    const headBefore = new Map<string, number>();
    for (const { receipt } of await storedReceipts(nc)) headBefore.set(receipt.chain, Math.max(headBefore.get(receipt.chain) ?? 0, receipt.seq));
    const workerOfChain = (chain: string) => Number(/^workers-w(\d+)-\d+$/.exec(chain)?.[1] ?? -1);
    expect(new Set([...headBefore.keys()].map(workerOfChain)), 'both workers stored receipts, each on its own chains').toEqual(new Set([0, 1]));

    // Kill a worker: /ready says which one is missing until it is back.
    process.kill(workers[0]!, 'SIGKILL');
    let notReady: string | undefined;
    for (let i = 0; i < 40 && !notReady; i++) {
      const res = await fetch(`http://127.0.0.1:${authz.httpPort}/ready`);
      if (res.status === 503) notReady = ((await res.json()) as { reason: string }).reason;
      else await sleep(20);
    }
    expect(notReady).toMatch(/^worker \d: (not running|did not answer)$/);
    // A worker that is down sends no metrics: chio_ready must still say 0, as /ready does.
    expect(await authz.counter('chio_ready', { component: 'authz' }), 'chio_ready while a worker is down').toBe(0);
    const killedIndex = Number(/^worker (\d)/.exec(notReady!)![1]);
    for (let i = 0; i < 200; i++) {
      if ((await fetch(`http://127.0.0.1:${authz.httpPort}/ready`)).ok) break;
      await sleep(50);
    }
    expect((await fetch(`http://127.0.0.1:${authz.httpPort}/ready`)).ok, 'ready again once the worker is back').toBe(true);
    const workersNow = childrenOf(primary);
    expect(workersNow, 'two workers again, the killed one replaced').toHaveLength(2);
    expect(workersNow).not.toContain(workers[0]);
    expect(() => process.kill(workers[0]!, 0), 'the killed worker is gone').toThrow();
    expect(await authz.counter('chio_ready', { component: 'authz' })).toBe(1);

    // A worker whose event loop is stuck (SIGSTOP here) is killed after 5 unanswered
    // heartbeats (10 s) and started again; meanwhile /ready names it.
    const frozen = workersNow[1]!;
    process.kill(frozen, 'SIGSTOP');
    let frozenReason: string | undefined;
    let replaced = false;
    for (let i = 0; i < 300 && !replaced; i++) {
      await sleep(100);
      const res = await fetch(`http://127.0.0.1:${authz.httpPort}/ready`);
      if (res.status === 503) frozenReason ??= ((await res.json()) as { reason: string }).reason;
      const now = childrenOf(primary);
      replaced = res.ok && now.length === 2 && !now.includes(frozen);
    }
    expect(frozenReason, '/ready while a worker is stuck').toMatch(/^worker \d: (did not answer|not running)$/);
    expect(replaced, 'the stuck worker was killed and replaced').toBe(true);
    expect(logText).toContain('authz worker does not answer; killing it');
    const workersLast = childrenOf(primary);

    // Stop under load as Ctrl-C does: SIGINT to the primary and to every worker at once. Each
    // worker drains (its primary's SIGTERM that follows must not cut it short) and exits 0.
    const loads = startLoads(1);
    await sleep(1_500);
    const stopping = authz;
    const exited = new Promise<number | null>((resolve) => stopping.process.once('exit', (code) => resolve(code)));
    for (const pid of [primary, ...workersLast]) process.kill(pid, 'SIGINT');
    expect(await exited, 'the primary exits 0 after its workers drained').toBe(0);
    authz = undefined;
    const after = await stopLoads(loads);
    for (const pid of workersLast) expect(() => process.kill(pid, 0), `worker ${pid} is gone`).toThrow();
    const stops = logText.split('\n').filter((l) => l.includes('"authz worker stopped"')).map((l) => JSON.parse(l) as { worker: number; code: number | null; signal: string | null });
    expect(stops.map((x) => [x.worker, x.code, x.signal]).sort(), 'every worker drained and exited 0, none killed by a signal').toEqual([[0, 0, null], [1, 0, null]]);

    const answered = [...before, ...after].filter(isAnswer);
    const allows = answered.filter((s) => s.answer.verdict === 'allow');
    for (const s of answered.filter((a) => a.answer.verdict === 'deny')) expect(s.answer.headers['x-chio-denial-guard'], s.requestId).toBe('ReceiptLedger');

    await waitIntegrated(nc);
    const stored = await storedReceipts(nc);
    const chains = expectWellFormedChains(stored);
    expect(await quarantineReasons(await jetstreamManager(nc)), 'the ledger quarantined nothing').toEqual([]);
    for (const chain of chains.keys()) expect(chain).toMatch(/^workers-w[01]-[01]$/);

    // The restarted worker answered from its own chains, past the heads its predecessor left.
    const byId = new Map(stored.map((s) => [s.receipt.id, s.receipt]));
    const continued = after
      .filter(isAnswer)
      .filter((s) => s.answer.verdict === 'allow')
      .map((s) => byId.get(s.answer.receiptId!)!)
      .filter((r) => workerOfChain(r.chain) === killedIndex && r.seq > (headBefore.get(r.chain) ?? Infinity));
    expect(continued.length, `worker ${killedIndex}, restarted, continued its chains`).toBeGreaterThan(0);

    const key = (name: string) => readFileSync(join(config.keyDir, name), 'utf8').trim();
    const proven = await proveEach(allows.map((s) => s.answer.receiptId!), { verifierUrl: `http://127.0.0.1:${verifier.httpPort}`, logKey: key('log.pub'), kernelKeys: [key('kernel.pub')], waitMs: 15_000 });
    expect(proven).toBe(allows.length);
    console.log(`authz-workers: ${allows.length} allows (all proven) on ${chains.size} chains (${[...chains].map(([c, n]) => `${c}: 1..${n}`).join(', ')}); worker ${killedIndex} killed and restarted, ${continued.length} allows on its chains after`);
  }, 120_000);
});
