/**
 * Where a Check's time goes at a fixed, moderate rate (issue #8): `chio authz` runs in this
 * process (startAuthzCore, as a worker runs it) with its classes wrapped (bench/lib/timeline.ts),
 * h2load sends Checks at 500, 1,000 and 2,000 per s (10 connections, as `npm run bench`), and
 * the table gives the median over alternating rounds of each stage's p50 / p99:
 *
 *   burst queue arrived − the first arrival of its burst (h2load's connections send together):
 *               the loop's time on the Checks read before this one
 *   decide      arrived → decided (the decision pipeline)
 *   hand-over   decided → queued on a lane
 *   lane wait   queued → its message begun: waiting for the lane's message in flight; split,
 *               for those queued behind one, into the wait for that PubAck to be read and
 *               from then until their own message is begun (the previous answers' turn)
 *   sign        begun → published (head, JCS, id, batch signature)
 *   store       published → PubAck read (JetStream's round trip plus the loop's lag in reading it)
 *   answer      PubAck read → handler resolved
 *   handler     arrived → handler resolved
 *   h2load      the client's own latency; minus the handler's p50 is what lies outside it
 *               (HTTP/2 read and write, the loop's queue before the request is read)
 *
 *   npm run bench:timeline                            # prints the table, kept in bench/results/check-timeline.md
 *   BENCH_SECONDS=3 BENCH_ROUNDS=5 npm run bench:timeline
 *
 * Stages are differences of one clock in one process: their sizes relative to each other are
 * more trustworthy on a shared machine than the absolute numbers.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { generateKeys } from '../src/keys.js';
import { loadConfig } from '../src/config.js';
import { demoToken } from '../src/up.js';
import { buildCheckRequest } from '../src/cli/envoy-request.js';
import { findFreePort, startEmbeddedNats } from '../src/nats/server.js';
import { connectNats } from '../src/nats/connection.js';
import { startAuthzCore } from '../src/authz/service.js';
import { h2load, percentile, writeGrpcBody } from './lib/h2load.js';
import { pubAckLatency } from './lib/pub-ack-latency.js';
import { REPO } from './lib/servers.js';
import { cpuSeconds } from './lib/cpu.js';
import { installTimeline, record, type Stamp } from './lib/timeline.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const RATES = [500, 1000, 2000];
const CLIENTS = 10;

type Span = [string, (s: Stamp) => number | undefined];
const gap = (a: keyof Stamp, b: keyof Stamp) => (s: Stamp) => (typeof s[a] === 'number' && typeof s[b] === 'number' ? (s[b] as number) - (s[a] as number) : undefined);
const SPANS: Span[] = [
  ['burst queue', (s) => s.burstQueue],
  ['decide', gap('arrived', 'decided')],
  ['hand-over', gap('decided', 'queued')],
  ['lane wait', gap('queued', 'batched')],
  ['… of it, for the PubAck in flight', gap('queued', 'previousAcked')],
  ['… of it, from that PubAck to begun', gap('previousAcked', 'batched')],
  ['sign', gap('batched', 'published')],
  ['store (PubAck)', gap('published', 'acked')],
  ['answer', gap('acked', 'answered')],
  ['handler', gap('arrived', 'answered')],
];

interface Round {
  spans: Map<string, { p50: number; p99: number }>;
  h2load: { p50: number; p99: number };
  receiptsPerMessage: number;
  behindInFlight: number;
  lanes: number;
  loopDelay: { p50: number; p99: number };
  /** CPU µs per Check, this process (authz and the bench's bookkeeping) and nats-server. */
  cpu: { own: number; nats: number };
  elu: number;
  pubAck?: { p50: number; p99: number };
}

const sorted = (xs: Array<number | undefined>) => xs.filter((x): x is number => x !== undefined).sort((a, b) => a - b);
const pp = (xs: number[]) => ({ p50: percentile(xs, 50), p99: percentile(xs, 99) });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : '—');

installTimeline();
const work = mkdtempSync(join(tmpdir(), 'chio-timeline-'));
const keyDir = join(work, 'keys');
generateKeys(keyDir, 'chio.local/receipts');
const nats = await startEmbeddedNats({ storeDir: join(work, 'nats') });
const env = { NATS_URL: nats.url, CHIO_KEY_DIR: keyDir, CHIO_POLICIES: join(REPO, 'deploy/policies'), CHIO_CHAIN_ID: 'timeline', CHIO_RECEIPT_TIMEOUT_MS: '150', CHIO_GRPC_PORT: String(await findFreePort()), ...(process.env.CHIO_LANES ? { CHIO_LANES: process.env.CHIO_LANES } : {}) };
const config = loadConfig({ env, defaultBind: '127.0.0.1' });
const nc = await connectNats({ servers: [nats.url], name: 'chio-timeline' });
const core = await startAuthzCore(config, nc, pino({ level: 'error' }));
const body = writeGrpcBody(work, 'allow', buildCheckRequest({ method: 'POST', path: '/tools/hello', host: 'tools.chio.local', headers: { 'x-chio-capability-token': demoToken(config) } }));

/** A burst: Checks that arrive less than BURST_GAP_MS after the one before. */
const BURST_GAP_MS = 2;

function markBursts(stamps: Stamp[]): void {
  const byArrival = [...stamps].sort((a, b) => a.arrived - b.arrived);
  let first = -Infinity;
  let last = -Infinity;
  for (const s of byArrival) {
    if (s.arrived - last > BURST_GAP_MS) first = s.arrived;
    last = s.arrived;
    s.burstQueue = s.arrived - first;
  }
}

async function round(rate: number): Promise<Round> {
  const loop = monitorEventLoopDelay({ resolution: 1 });
  const [own0, nats0] = [process.cpuUsage(), cpuSeconds(nats.pid)];
  const elu0 = performance.eventLoopUtilization();
  loop.enable();
  const stop = record();
  const run = await h2load({ port: core.grpcPort, body, clients: CLIENTS, streams: 1, seconds: SECONDS, warmUpSeconds: 1, ratePerClient: rate / CLIENTS }, work);
  const stamps = stop();
  loop.disable();
  const own = process.cpuUsage(own0);
  const natsCpu = cpuSeconds(nats.pid) - nats0;
  markBursts(stamps);
  const spans = new Map(SPANS.map(([name, of]) => [name, pp(sorted(stamps.map(of)))]));
  const stored = stamps.filter((s) => s.batchSize !== undefined);
  return {
    spans,
    h2load: pp(run.latencies),
    receiptsPerMessage: stored.length / stored.reduce((n, s) => n + 1 / s.batchSize!, 0),
    behindInFlight: stamps.filter((s) => s.behindInFlight).length / stamps.length,
    lanes: new Set(stamps.map((s) => s.lane)).size,
    loopDelay: { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6 },
    elu: performance.eventLoopUtilization(elu0).utilization,
    cpu: { own: (own.user + own.system) / stamps.length, nats: (1e6 * natsCpu) / stamps.length },
  };
}

try {
  await h2load({ port: core.grpcPort, body, clients: 4, streams: 32, seconds: 2 }, work);
  const rounds = new Map<number, Round[]>(RATES.map((r) => [r, []]));
  for (let i = 0; i < ROUNDS; i++) {
    // Rates in turn, reversed every other round, so no rate always follows the same one.
    for (const rate of i % 2 === 0 ? RATES : [...RATES].reverse()) {
      const r = await round(rate);
      if (rate === 1000) r.pubAck = pp((await pubAckLatency(nats.url, { perSecond: 1000, burst: 10, seconds: SECONDS, bytes: 1190 })).latencies);
      rounds.get(rate)!.push(r);
    }
  }
  const cell = (rs: Round[], pick: (r: Round) => { p50: number; p99: number }) => `${fmt(median(rs.map((r) => pick(r).p50)))} / ${fmt(median(rs.map((r) => pick(r).p99)))}`;
  const header = ['stage (ms, p50 / p99)', ...RATES.map((r) => `${r.toLocaleString('en-US')}/s`)];
  const rows: string[][] = [
    ...SPANS.map(([name]) => [name, ...RATES.map((rate) => cell(rounds.get(rate)!, (r) => r.spans.get(name)!))]),
    ['h2load (client)', ...RATES.map((rate) => cell(rounds.get(rate)!, (r) => r.h2load))],
    ['event-loop delay (1 ms timer: its floor)', ...RATES.map((rate) => cell(rounds.get(rate)!, (r) => r.loopDelay))],
    ['CPU per Check (µs): this process + nats-server', ...RATES.map((rate) => `${median(rounds.get(rate)!.map((r) => r.cpu.own)).toFixed(0)} + ${median(rounds.get(rate)!.map((r) => r.cpu.nats)).toFixed(0)}`)],
    ['event-loop utilisation', ...RATES.map((rate) => median(rounds.get(rate)!.map((r) => r.elu)).toFixed(2))],
    ['receipts per message (mean)', ...RATES.map((rate) => median(rounds.get(rate)!.map((r) => r.receiptsPerMessage)).toFixed(1))],
    ['share queued behind a message in flight', ...RATES.map((rate) => `${(100 * median(rounds.get(rate)!.map((r) => r.behindInFlight))).toFixed(0)} %`)],
    ['lanes used', ...RATES.map((rate) => String(median(rounds.get(rate)!.map((r) => r.lanes))))],
    ['raw PubAck alone, bursts of 10', ...RATES.map((rate) => (rate === 1000 ? cell(rounds.get(rate)!, (r) => r.pubAck!) : '—'))],
  ];
  const table = [header, header.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
  const about = `${new Date().toISOString()}, ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}, load average ${loadavg()[0]!.toFixed(1)} at the end; ${config.lanes} lanes; ${ROUNDS} alternating rounds of ${SECONDS} s per rate, ${CLIENTS} connections; medians over rounds.`;
  process.stdout.write(`\n${table}\n\n${about}\n`);
  writeFileSync(join(REPO, 'bench/results/check-timeline.md'), `# Where a Check's time goes (npm run bench:timeline)\n\n${about}\n\n${table}\n`);
} finally {
  await core.stop();
  await nc.drain();
  await nats.stop();
  rmSync(work, { recursive: true, force: true });
}
