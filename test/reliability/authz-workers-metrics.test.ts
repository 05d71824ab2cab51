/**
 * `chio authz --workers 2`: the primary's /metrics is the workers' sum, and a sum over the
 * workers alive would go down when one of them dies and is started again at 0. Prometheus takes
 * any decrease of a counter as a reset, and increase()/rate() then count the whole surviving
 * total again: ChioReceiptLedgerDenials (`increase(...[5m]) > 0`) would fire with no denial.
 * Run as an operator runs it (bin/chio.js) against a test nats-server:
 *
 *   - across a worker SIGKILLed, down, and started again, no sample of a counter or a histogram
 *     goes down (the dead worker's last counts stay in the sums), and the counts go on from there;
 *     then the other worker dies the same way, with the same result;
 *   - the primary's own restart is a reset as any process's is: the new primary counts from 0.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLogStack, type LogStack } from '../support/log-stack.js';
import { startLoad, isAnswer, type Sent } from '../support/load.js';
import { monotonicSamples, sample, scrape } from '../support/metrics.js';
import { startChioAuthz, type ChioAuthz } from '../../bench/lib/servers.js';
import { demoToken } from '../../src/up.js';
import { childrenOf, killWithWorkers } from '../support/chio-process.js';

const CHAIN_ID = 'workers-metrics';

let stack: LogStack;
let authz: ChioAuthz | undefined;

beforeAll(async () => (stack = await startLogStack('authz-workers-metrics', CHAIN_ID)));
afterAll(async () => {
  await killWithWorkers(authz);
  await stack?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The samples of `after` that are below their value in `before`, as `series: before → after`. */
function decreases(before: Map<string, number>, after: Map<string, number>): string[] {
  return [...before].filter(([series, value]) => (after.get(series) ?? 0) < value).map(([series, value]) => `${series}: ${value} → ${after.get(series) ?? 'gone'}`);
}

describe('chio authz with two workers: /metrics across a worker restart', () => {
  it('keeps every counter and histogram sample from going down when a worker dies, and resets with the primary', async () => {
    const { nats, config } = stack;
    const env = {
      NATS_URL: nats.current.url,
      CHIO_KEY_DIR: config.keyDir,
      CHIO_POLICIES: config.policies,
      CHIO_CHAIN_ID: CHAIN_ID,
      CHIO_AUTHZ_WORKERS: '2',
      CHIO_RECEIPT_TIMEOUT_MS: '1000',
    };
    authz = await startChioAuthz(env);
    const token = demoToken(config);
    // Four connections of their own, so that both workers take Checks.
    const allowsIn = async (ms: number): Promise<number> => {
      const loads = Array.from({ length: 4 }, () => startLoad(`127.0.0.1:${authz!.port}`, token, 2, 20, 0, true));
      await sleep(ms);
      await Promise.all(loads.map((l) => l.stop()));
      return loads.flatMap((l): Sent[] => l.sent).filter(isAnswer).filter((s) => s.answer.verdict === 'allow').length;
    };
    const ready = async () => (await fetch(`http://127.0.0.1:${authz!.httpPort}/ready`)).ok;

    const allowsBefore = await allowsIn(1_500);
    const textBefore = await scrape(authz.httpPort);
    expect(sample(textBefore, 'chio_decisions_total', { verdict: 'allow' })).toBe(allowsBefore);
    expect(sample(textBefore, 'chio_check_duration_seconds_count')).toBeGreaterThanOrEqual(allowsBefore);
    expect(monotonicSamples(textBefore).size, 'counters and histograms were read').toBeGreaterThan(20);

    /** SIGKILL worker `pid`: /metrics read while it is down, and once it is back. */
    const killAndRestart = async (pid: number): Promise<{ whileDown: string; back: string }> => {
      process.kill(pid, 'SIGKILL');
      for (let i = 0; i < 100 && (await ready()); i++) await sleep(20);
      expect(await ready(), 'not ready while a worker is down').toBe(false);
      const whileDown = await scrape(authz!.httpPort);
      for (let i = 0; i < 200 && !(await ready()); i++) await sleep(50);
      expect(await ready(), 'ready again once the worker is back').toBe(true);
      return { whileDown, back: await scrape(authz!.httpPort) };
    };
    /** The checks of /metrics across a worker's restart, with `allows` answered so far. */
    const expectKept = (before: string, { whileDown, back }: { whileDown: string; back: string }, allows: number) => {
      expect(decreases(monotonicSamples(before), monotonicSamples(whileDown)), 'no counter or histogram sample went down while the worker was down').toEqual([]);
      expect(decreases(monotonicSamples(whileDown), monotonicSamples(back)), 'nor once it was started again').toEqual([]);
      expect(sample(back, 'chio_decisions_total', { verdict: 'allow' }), "the dead worker's allows are still counted").toBe(allows);
      expect(sample(back, 'chio_decisions_total', { guard: 'ReceiptLedger' }), 'and no ReceiptLedger denial appeared').toBe(0);
      expect(sample(back, 'chio_check_duration_seconds_count')).toBe(sample(before, 'chio_check_duration_seconds_count'));
    };

    // Kill one worker, load again (the restarted one counts on from 0), then kill the other:
    // by then each of the two first workers has died, whichever took which Checks.
    const [first, second] = childrenOf(authz.process.pid!);
    expect(second, 'two workers').toBeDefined();
    const afterFirst = await killAndRestart(first!);
    expectKept(textBefore, afterFirst, allowsBefore);
    const allowsAfter = await allowsIn(1_500);
    const textAfter = await scrape(authz.httpPort);
    expect(decreases(monotonicSamples(afterFirst.back), monotonicSamples(textAfter))).toEqual([]);
    expect(sample(textAfter, 'chio_decisions_total', { verdict: 'allow' }), 'the restarted worker counts on from what the dead one left').toBe(allowsBefore + allowsAfter);
    const afterSecond = await killAndRestart(second!);
    expectKept(textAfter, afterSecond, allowsBefore + allowsAfter);

    // A new primary is a new process: its counters start from 0, a reset as Prometheus expects.
    await authz.stop();
    authz = await startChioAuthz(env);
    const allowsNew = await allowsIn(500);
    const textNew = await scrape(authz.httpPort);
    expect(sample(textNew, 'chio_decisions_total', { verdict: 'allow' }), 'a new primary counts its own workers\' allows only').toBe(allowsNew);
    console.log(`authz-workers-metrics: ${allowsBefore} allows, a worker killed and back: ${sample(afterFirst.back, 'chio_decisions_total', { verdict: 'allow' })} counted; ${allowsBefore + allowsAfter} allows, the other killed and back: ${sample(afterSecond.back, 'chio_decisions_total', { verdict: 'allow' })} counted; new primary: ${allowsNew} allows, ${sample(textNew, 'chio_decisions_total', { verdict: 'allow' })} counted`);
  }, 120_000);
});
