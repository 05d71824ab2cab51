/**
 * The receipt path at mesh speed (issue #8): `chio authz` — capability token, policy, signed
 * receipt stored with a PubAck before every answer — against a bare grpc-js allow-all server,
 * every row measured in the same run as its baseline, on this machine, with h2load as the load.
 *
 *   npm run bench                      # prints the table and writes bench/RESULTS.md
 *   BENCH_SECONDS=3 npm run bench      # shorter runs
 *   BENCH_PROFILE=/tmp/p npm run bench # also a CPU profile of chio authz (V8 .cpuprofile)
 *
 * Rows:
 *   throughput   allows per second at saturation (a fast 503 is not throughput), median of
 *                alternating rounds, vs the bare server's answers per second; also for
 *                `chio authz --workers N` (N = BENCH_WORKERS, default the machine's cores)
 *   CPU          CPU µs per Check at saturation, all threads of the process (and of nats-server
 *                for chio), over the same runs as the throughput row
 *   latency      p50 / p99 at fixed 500, 1,000 and 2,000 Checks/s vs the bare server at the same
 *                rates, each the median of alternating rounds; Chio's ReceiptLedger denials;
 *                at 1,000/s also with --workers N
 *   PubAck       p50 / p99 of raw JetStream publishes alone at 1,000/s in h2load's bursts of 10:
 *                the store's round trip, which every answer waits for once
 *   publisher    receipts stored per second by the chain publisher alone vs raw nats.js
 *                JetStream publishes of the same size (one in flight, and 64 in flight); and the
 *                CPU per publish of nats.js js.publish vs store/pub-ack.ts, which chio uses
 *   overload     2 × capacity of Checks without credentials, plus a trickle of valid Checks:
 *                the trickle's p99 and share answered 503
 */
import { cpus, totalmem } from 'node:os';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeys } from '../src/keys.js';
import { DEFAULT_LANES, loadConfig } from '../src/config.js';
import { demoToken } from '../src/up.js';
import { buildCheckRequest } from '../src/cli/envoy-request.js';
import { startEmbeddedNats } from '../src/nats/server.js';
import { h2load, percentile, writeGrpcBody } from './lib/h2load.js';
import { REPO, startBareServer, startChioAuthz, startStageServer, type ChioAuthz } from './lib/servers.js';
import { publisherRow } from './lib/publisher-row.js';
import { pubAckLatency } from './lib/pub-ack-latency.js';
import { warmTrickle } from './lib/trickle.js';
import { cpuSeconds } from './lib/cpu.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const RATES = [500, 1000, 2000];
const RECEIPT_TIMEOUT_MS = 150;
const LANES = Number(process.env.CHIO_LANES ?? DEFAULT_LANES);
const WORKERS = Number(process.env.BENCH_WORKERS ?? cpus().length);

const work = mkdtempSync(join(tmpdir(), 'chio-bench-'));
const keyDir = join(work, 'keys');
generateKeys(keyDir, 'chio.local/receipts');
const nats = await startEmbeddedNats({ storeDir: join(work, 'nats') });
const env = { NATS_URL: nats.url, CHIO_KEY_DIR: keyDir, CHIO_POLICIES: join(REPO, 'deploy/policies'), CHIO_CHAIN_ID: 'bench', CHIO_RECEIPT_TIMEOUT_MS: String(RECEIPT_TIMEOUT_MS) };
const token = demoToken(loadConfig({ env, defaultBind: '127.0.0.1' }));
const allowBody = writeGrpcBody(work, 'allow', buildCheckRequest({ method: 'POST', path: '/tools/hello', host: 'tools.chio.local', headers: { 'x-chio-capability-token': token } }));
const anonymousBody = writeGrpcBody(work, 'anonymous', buildCheckRequest({ method: 'POST', path: '/tools/hello', host: 'tools.chio.local' }));

const bare = await startBareServer();
// Where a Check's CPU goes: Chio's edge alone, then with the decision (bench/stage-server.ts).
const edge = await startStageServer('edge', keyDir, join(REPO, 'deploy/policies'));
const decide = await startStageServer('decide', keyDir, join(REPO, 'deploy/policies'));
const chio = await startChioAuthz(env);
// The same, as N processes (chio authz --workers N), on chains of its own.
const chioWorkers = await startChioAuthz({ ...env, CHIO_CHAIN_ID: 'bench-workers', CHIO_AUTHZ_WORKERS: String(WORKERS) });
const rows: string[][] = [];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '—');
const allows = (c: ChioAuthz) => c.counter('chio_decisions_total', { verdict: 'allow' });
const answers = (c: ChioAuthz) => c.counter('chio_decisions_total');
const ledgerDenials = (c: ChioAuthz = chio) => c.counter('chio_decisions_total', { guard: 'ReceiptLedger' });

/** A Chio's allows per second over one h2load run: its answer rate times the share that were allows. */
async function chioAllowRate(run: () => Promise<{ rate: number }>, c: ChioAuthz = chio): Promise<{ allowRate: number; answerRate: number; ledger: number }> {
  const [a0, n0, l0] = [await allows(c), await answers(c), await ledgerDenials(c)];
  const { rate } = await run();
  const [a1, n1, l1] = [await allows(c), await answers(c), await ledgerDenials(c)];
  return { allowRate: n1 > n0 ? (rate * (a1 - a0)) / (n1 - n0) : 0, answerRate: rate, ledger: l1 - l0 };
}

const saturate = (port: number, body: string) => async () => {
  const r = await h2load({ port, body, clients: 4, streams: 32, seconds: SECONDS }, work);
  return { rate: r.done / SECONDS };
};

/** CPU µs per answer of one saturated run: the server's process tree, and nats-server's. */
interface CpuRound {
  own: number;
  nats: number;
}

/**
 * Run `run` and take the CPU that `pid` (with its children) and nats-server spent over it, its
 * second of warm-up included, over the answers at the run's rate for as long.
 */
async function cpuPerAnswer<T extends { rate?: number; answerRate?: number }>(pid: number | undefined, run: () => Promise<T>): Promise<{ result: T; cpu: CpuRound }> {
  const [own0, nats0] = [cpuSeconds(pid), cpuSeconds(nats.pid)];
  const result = await run();
  const answers = (result.answerRate ?? result.rate ?? NaN) * (SECONDS + 1);
  return { result, cpu: { own: (1e6 * (cpuSeconds(pid) - own0)) / answers, nats: (1e6 * (cpuSeconds(nats.pid) - nats0)) / answers } };
}

/** The round whose own + nats-server sum is the median, so that both shares come from one round. */
function medianRound(rounds: readonly CpuRound[]): CpuRound {
  const sums = rounds.map((r) => r.own + r.nats);
  return rounds[sums.indexOf(median(sums))]!;
}

try {
  // Warm both up (JIT, token cache, NATS connection) before anything is measured.
  await saturate(bare.port, allowBody)();
  await saturate(edge.port, allowBody)();
  await saturate(decide.port, allowBody)();
  await saturate(chio.port, allowBody)();
  await saturate(chioWorkers.port, allowBody)();

  // ---- throughput: alternating rounds, median ------------------------------------------
  const bareRates: number[] = [];
  const chioRates: number[] = [];
  const workerRates: number[] = [];
  const cpu: Record<'bare' | 'chio' | 'workers' | 'edge' | 'decide', CpuRound[]> = { bare: [], chio: [], workers: [], edge: [], decide: [] };
  const stageRates: Record<'edge' | 'decide', number[]> = { edge: [], decide: [] };
  let [chioLedger, workersLedger] = [0, 0];
  for (let round = 0; round < ROUNDS; round++) {
    const b = await cpuPerAnswer(bare.process.pid, saturate(bare.port, allowBody));
    bareRates.push(b.result.rate);
    cpu.bare.push(b.cpu);
    for (const [stage, server] of [['edge', edge], ['decide', decide]] as const) {
      const s = await cpuPerAnswer(server.process.pid, saturate(server.port, allowBody));
      stageRates[stage].push(s.result.rate);
      cpu[stage].push(s.cpu);
    }
    const { result: c, cpu: chioCpu } = await cpuPerAnswer(chio.process.pid, () => chioAllowRate(saturate(chio.port, allowBody)));
    cpu.chio.push(chioCpu);
    chioRates.push(c.allowRate);
    chioLedger += c.ledger;
    const { result: w, cpu: workersCpu } = await cpuPerAnswer(chioWorkers.process.pid, () => chioAllowRate(saturate(chioWorkers.port, allowBody), chioWorkers));
    cpu.workers.push(workersCpu);
    workerRates.push(w.allowRate);
    workersLedger += w.ledger;
  }
  const [bareTput, chioTput, workersTput] = [median(bareRates), median(chioRates), median(workerRates)];
  rows.push(['throughput (allows/s, saturated)', fmt(bareTput), fmt(chioTput), fmt(chioTput / bareTput, 2), '≥ 0.80', `${chioLedger} ReceiptLedger denials`]);
  rows.push([`throughput, --workers ${WORKERS} (allows/s, saturated)`, fmt(bareTput), fmt(workersTput), fmt(workersTput / bareTput, 2), '≥ 0.80', `${workersLedger} ReceiptLedger denials; bare is one process`]);
  // The bare server does not use NATS: its row is its own CPU.
  const bareCpu = median(cpu.bare.map((r) => r.own));
  for (const [label, rounds, note] of [
    ['CPU per Check at saturation (µs, all threads)', cpu.chio, 'what a Check costs the machine; h2load runs on the same cores'],
    [`CPU per Check at saturation, --workers ${WORKERS} (µs)`, cpu.workers, 'the primary and its workers'],
  ] as const) {
    const r = medianRound(rounds);
    rows.push([label, fmt(bareCpu), `${fmt(r.own)} + nats-server ${fmt(r.nats)}`, fmt((r.own + r.nats) / bareCpu, 2), '', note]);
  }
  for (const [label, stage, note] of [
    ["where it goes: Chio's gRPC edge alone, a fixed allow (answers/s; CPU µs per Check)", 'edge', 'node:http2, request decoded, response encoded (bench/stage-server.ts)'],
    ['where it goes: edge + decision, receipt neither signed nor stored', 'decide', 'the full row adds the receipt: sign, store, PubAck'],
  ] as const) {
    const own = median(cpu[stage].map((r) => r.own));
    rows.push([label, `${fmt(bareTput)}; ${fmt(bareCpu)}`, `${fmt(median(stageRates[stage]))}; ${fmt(own)}`, fmt(median(stageRates[stage]) / bareTput, 2), '', note]);
  }

  // ---- latency at fixed rates: alternating rounds, the median of each percentile ----------
  // (one round's p99 of the bare server varied from 1.4 to 5.2 ms on this machine)
  for (const rate of RATES) {
    const clients = 10;
    const fixed = (port: number) => h2load({ port, body: allowBody, clients, streams: 1, seconds: SECONDS, warmUpSeconds: 1, ratePerClient: rate / clients }, work);
    const withWorkers = rate === 1000;
    const rounds: Array<{ b: number[]; c: number[]; w: number[] }> = [];
    let [ledger, workersLedger] = [0, 0];
    for (let round = 0; round < ROUNDS; round++) {
      const b = await fixed(bare.port);
      const l0 = await ledgerDenials();
      const c = await fixed(chio.port);
      ledger += (await ledgerDenials()) - l0;
      const w0 = await ledgerDenials(chioWorkers);
      const w = withWorkers ? (await fixed(chioWorkers.port)).latencies : [];
      workersLedger += (await ledgerDenials(chioWorkers)) - w0;
      rounds.push({ b: b.latencies, c: c.latencies, w });
    }
    const med = (side: 'b' | 'c' | 'w', p: number) => median(rounds.map((r) => percentile(r[side], p)));
    const [bp50, bp99, cp50, cp99] = [med('b', 50), med('b', 99), med('c', 50), med('c', 99)];
    rows.push([`p50 / p99 at ${fmt(rate)}/s (ms)`, `${fmt(bp50, 2)} / ${fmt(bp99, 2)}`, `${fmt(cp50, 2)} / ${fmt(cp99, 2)}`, `p99 ${fmt(cp99 / bp99, 1)}×`, rate === 1000 ? 'p99 ≤ 1.5×, 0 denials' : '', `${ledger} ReceiptLedger denials`]);
    if (withWorkers) {
      const [wp50, wp99] = [med('w', 50), med('w', 99)];
      rows.push([`p50 / p99 at ${fmt(rate)}/s, --workers ${WORKERS} (ms)`, `${fmt(bp50, 2)} / ${fmt(bp99, 2)}`, `${fmt(wp50, 2)} / ${fmt(wp99, 2)}`, `p99 ${fmt(wp99 / bp99, 1)}×`, 'p99 ≤ 1.5×, 0 denials', `${workersLedger} ReceiptLedger denials`]);
    }
  }

  // ---- the store's round trip alone, at 1,000/s in h2load's bursts: a floor under Chio's ---
  const pubAck = await pubAckLatency(nats.url, { perSecond: 1000, burst: 10, seconds: SECONDS * ROUNDS, bytes: 1190 });
  rows.push(['PubAck alone at 1,000/s, bursts of 10 (ms)', '—', `${fmt(percentile(pubAck.latencies, 50), 2)} / ${fmt(percentile(pubAck.latencies, 99), 2)}`, '', '', 'raw nats.js publishes, no chio code: every answer waits for one']);

  // ---- the publisher alone -------------------------------------------------------------
  const pub = await publisherRow(nats.url, keyDir, 4_000, LANES);
  rows.push(['CPU per JetStream publish, 64 in flight (µs)', `${fmt(pub.rawCpuUs)} (nats.js js.publish, ${fmt(pub.rawPipelined)}/s)`, `${fmt(pub.pubAckCpuUs)} (${fmt(pub.pubAckPipelined)}/s)`, fmt(pub.pubAckCpuUs / pub.rawCpuUs, 2), '', 'store/pub-ack.ts, as chio authz publishes: PubAcks read off one subscription']);
  rows.push([`receipts stored/s, publisher alone (${LANES} lanes)`, `${fmt(pub.rawSerial)} (1 in flight) / ${fmt(pub.rawPipelined)} (64)`, fmt(pub.publisher), fmt(pub.publisher / pub.rawPipelined, 2), '', `${pub.bytes} B per receipt`]);

  // ---- overload: 2 × capacity without credentials, plus a trickle of valid Checks ------
  const capacity = (await chioAllowRate(saturate(chio.port, anonymousBody))).answerRate;
  const trickle = await warmTrickle(`127.0.0.1:${chio.port}`, token);
  const flooding = h2load({ port: chio.port, body: anonymousBody, clients: 20, streams: 4, seconds: SECONDS, warmUpSeconds: 1, ratePerClient: Math.ceil((2 * capacity) / 20) }, work);
  // Handled now, awaited below: a flood that fails at once must not be an unhandled rejection.
  flooding.catch(() => undefined);
  const valid = await trickle.run({ perSecond: 20, seconds: SECONDS + 1 });
  const flood = await flooding;
  rows.push([
    `overload: ${fmt(2 * capacity)}/s anonymous + 20/s valid`,
    '—',
    `valid p99 ${fmt(valid.p99, 1)} ms (of ${valid.sent}, max ${fmt(valid.max, 1)}), ${fmt(100 * valid.unavailableShare, 1)} % 503`,
    '',
    `p99 < ${RECEIPT_TIMEOUT_MS} ms, < 1 % 503`,
    `flood answered ${fmt(flood.done / SECONDS)}/s`,
  ]);
} finally {
  await chio.stop();
  await chioWorkers.stop();
  await bare.stop();
  await edge.stop();
  await decide.stop();
  await nats.stop();
  rmSync(work, { recursive: true, force: true });
}

const header = ['row', 'bare grpc-js (baseline)', 'chio authz', 'ratio', 'target', 'notes'];
const table = [header, header.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
process.stdout.write(`\n${table}\n`);

const machine = [
  `- date: ${new Date().toISOString()}`,
  `- machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB`,
  `- node ${process.version}, ${execFileSync('nats-server', ['--version']).toString().trim()}, ${execFileSync('h2load', ['--version']).toString().trim().split('\n')[0]}`,
  `- load: h2load, gRPC unary over h2c; saturation ${SECONDS} s × ${ROUNDS} alternating rounds (4 connections × 32 streams); fixed rates 10 connections, ${SECONDS} s × ${ROUNDS} alternating rounds (median of each percentile)`,
  `- chio authz: one process, ${LANES} receipt lanes, demo policies, capability token, CHIO_RECEIPT_TIMEOUT_MS=${RECEIPT_TIMEOUT_MS}; nats-server on the same machine`,
  `- chio authz --workers ${WORKERS}: a primary and ${WORKERS} worker processes on the same gRPC port, ${LANES} lanes each; the bare server is one process`,
].join('\n');
writeFileSync(join(REPO, 'bench/RESULTS.md'), `# Receipt path benchmark (issue #8)\n\nLast run of \`npm run bench\`:\n\n${machine}\n\n${table}\n`);
