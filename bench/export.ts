/**
 * `chio export` and `chio verify-export` at log scale (issue #10): a log of N receipts (default
 * 100,000) signed by the chain publisher on CHIO_LANES chains and integrated by the real ledger
 * on a fresh nats-server; then the `chio export` and `chio verify-export` commands themselves,
 * each a child process as an operator or a CronJob runs it, timed, with the bundle's size and
 * the child's resident memory (VmRSS from /proc, sampled every 100 ms): after its first second,
 * at its peak, as the export passes each tenth of the log, and every TRACE_MS. Memory flat means
 * it does not grow with the leaves read. Last, `chio verifier` (child) serves JSON proofs of
 * PROOF_IDS receipts spread over the whole log for PROOF_SECONDS under h2load, its RSS traced
 * the same way: its caches are bounded, so its memory must level off whatever the log's size.
 *
 *   npm run bench:export                   # 100,000 receipts
 *   BENCH_RECEIPTS=1000000 npm run bench:export
 *   BENCH_DIR=/tmp/x npm run bench:export  # keep the filled log there, and reuse it next time
 */
import { spawn } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { pino } from 'pino';
import { generateKeys, loadKey } from '../src/keys.js';
import { DEFAULT_LANES } from '../src/config.js';
import { startEmbeddedNats } from '../src/nats/server.js';
import { connectNats } from '../src/nats/connection.js';
import { ensureResources, type ChioResources } from '../src/store/resources.js';
import { archivePolicySet } from '../src/store/policy-archive.js';
import { loadPolicySet } from '../src/policy/policy-set.js';
import { ReceiptPublisher } from '../src/chain/publisher.js';
import { storedReceiptVerifier } from '../src/chain/chain-head.js';
import { ReceiptLanes, laneChainIds } from '../src/chain/lanes.js';
import { Ledger } from '../src/ledger/ledger.js';
import type { ReceiptDraft } from '../src/receipt/receipt.js';
import type { NatsConnection } from '@nats-io/transport-node';
import { h2loadGet, percentile } from './lib/h2load.js';
import { startChioVerifier } from './lib/servers.js';
import { rssOf } from './lib/rss.js';

const N = Number(process.env.BENCH_RECEIPTS ?? 100_000);
const LANES = Number(process.env.CHIO_LANES ?? DEFAULT_LANES);
/** Receipts handed to the publisher at once while the log fills. */
const IN_FLIGHT = 2_000;
const ORIGIN = 'chio.local/receipts';
const REPO = resolve(import.meta.dirname, '..');
/** RSS is also kept every this often, to show whether it levels off. */
const TRACE_MS = 15_000;
/** Receipts whose proofs the verifier serves, spread evenly over the log, and for how long. */
const PROOF_IDS = Number(process.env.BENCH_PROOF_IDS ?? 20_000);
const PROOF_SECONDS = Number(process.env.BENCH_PROOF_SECONDS ?? 60);

const work = process.env.BENCH_DIR ?? mkdtempSync(join(tmpdir(), 'chio-bench-export-'));
mkdirSync(work, { recursive: true });
const keyDir = join(work, 'keys');
/** Written once the log holds N receipts under a published checkpoint: BENCH_DIR reuses it. */
const filledMarker = join(work, `filled-${N}`);
const reuse = existsSync(filledMarker);
if (!reuse) generateKeys(keyDir, ORIGIN);
const nats = await startEmbeddedNats({ storeDir: join(work, 'nats') });
const nc = await connectNats({ servers: [nats.url], name: 'chio-bench-export' });
const log = pino({ level: 'silent' });
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

interface Fill {
  seconds: number;
  rssBefore: number;
  rssPeak: number;
}

/** Fill the log with N receipts through the chain publisher and the ledger, in this process. */
async function fillLog(nc: NatsConnection, resources: ChioResources, policyHash: string): Promise<Fill> {
  const kernel = loadKey(keyDir, 'kernel');
  const ledger = new Ledger({ nc, resources, kernelKeys: [kernel.verifierKey], origin: ORIGIN, logSignerKey: loadKey(keyDir, 'log').signerKey, checkpointIntervalMs: 500, log });
  await ledger.start();
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const lanes = new ReceiptLanes(laneChainIds('bench-export', LANES).map((chain) => new ReceiptPublisher({ js, jsm, chain, signer: kernel.signer, kernelKey: kernel.verifierKey, log, verifyStored: storedReceiptVerifier([kernel.verifierKey]) })));
  await lanes.open();
  const draftOf = (i: number): ReceiptDraft => ({
    time: new Date().toISOString(),
    request: { kind: 'http', id: `bench-${i}`, method: 'POST', host: 'tools.chio.local', path: `/tools/t${i % 50}`, protocol: 'HTTP/1.1', source_address: '10.0.0.2:51234' },
    subject: { capability_id: 'bench-capability', subject: 'demo-agent', credential_sha256: 'ab'.repeat(32) },
    decision: i % 4 === 0 ? { verdict: 'deny', guard: 'Policy', reason: 'no rule allows', http_status: 403, shadow: false } : { verdict: 'allow', http_status: 200, shadow: false },
    evidence: [{ guard: 'Request', verdict: 'allow' }, { guard: 'Capability', verdict: 'allow' }, { guard: 'Jwt', verdict: 'skip' }, { guard: 'Policy', verdict: i % 4 === 0 ? 'deny' : 'allow' }],
    policy_hash: policyHash,
  });
  const rssBefore = process.memoryUsage.rss();
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage.rss())), 100);
  const t = performance.now();
  try {
    for (let start = 0; start < N; start += IN_FLIGHT) {
      await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, N - start) }, (_, i) => lanes.store(draftOf(start + i), Date.now() + 60_000).stored));
    }
    while (ledger.publishedSize < N) await new Promise((r) => setTimeout(r, 100));
  } finally {
    clearInterval(sampler);
  }
  const seconds = (performance.now() - t) / 1000;
  await lanes.drain();
  await ledger.stop();
  return { seconds, rssBefore, rssPeak };
}

interface ChildRun {
  seconds: number;
  stdout: string;
  /** RSS at the end of the command's first second. */
  rssStart: number;
  rssPeak: number;
  /** RSS as the export passed each tenth of the log (from its plain progress lines). */
  byTenth: number[];
  /** RSS every TRACE_MS. */
  trace: number[];
}

/** Run `chio <args>` as a child process with `env`, sampling its RSS; throws when it exits non-zero. */
async function runChio(args: string[], env: Record<string, string>): Promise<ChildRun> {
  const child = spawn(process.execPath, [join(REPO, 'bin/chio.js'), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const t = performance.now();
  let stdout = '';
  let stderr = '';
  let rssStart = 0;
  let rssPeak = 0;
  const byTenth: number[] = [];
  const trace: number[] = [];
  const sampler = setInterval(() => {
    const rss = rssOf(child.pid!);
    if (rss === undefined) return;
    rssPeak = Math.max(rssPeak, rss);
    if (rssStart === 0 && performance.now() - t >= 1_000) rssStart = rss;
    if (performance.now() - t >= (trace.length + 1) * TRACE_MS) trace.push(rss);
  }, 100);
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-4_000);
    // Not a terminal, so plain progress lines: "export: <read>/<total> leaves read (<p>%)".
    for (const m of d.matchAll(/export: (\d+)\/\d+ leaves read/g)) {
      while (byTenth.length < 10 && Number(m[1]) >= ((byTenth.length + 1) * N) / 10) byTenth.push(rssOf(child.pid!) ?? 0);
    }
  });
  const code = await new Promise<number | null>((done) => child.once('exit', done));
  clearInterval(sampler);
  if (code !== 0) throw new Error(`chio ${args[0]} exited ${code}: ${stderr}`);
  return { seconds: (performance.now() - t) / 1000, stdout, rssStart, rssPeak, byTenth, trace };
}

try {
  const resources = await ensureResources(nc);
  let fill: Fill | undefined;
  if (!reuse) {
    const policy = loadPolicySet(join(REPO, 'deploy/policies'), keyDir);
    await archivePolicySet(resources.policies, policy.hash, policy.canonical);
    fill = await fillLog(nc, resources, policy.hash);
    writeFileSync(filledMarker, `${N}\n`);
  }

  const out = join(work, 'bundle');
  rmSync(out, { recursive: true, force: true });
  const env = { NATS_URL: nats.url, CHIO_KEY_DIR: keyDir, CHIO_DATA_DIR: work, CHIO_LOG_LEVEL: 'warn' };
  const exported = await runChio(['export', '--out', out], env);
  const count = Number(/: (\d+) receipts/.exec(exported.stdout)?.[1]);
  const bytes = Number(/, (\d+) bytes/.exec(exported.stdout)?.[1]);
  const verified = await runChio(['verify-export', out], env);
  if (count !== N || !verified.stdout.includes(`${N} receipts`)) throw new Error(`exported ${count} receipts; verify-export said: ${verified.stdout.trim()}; want ${N}`);

  // The verifier over the same log: ids spread over all of it, so that every tile is read.
  const ids: string[] = [];
  const every = Math.max(1, Math.floor(N / PROOF_IDS));
  let line = 0;
  for await (const text of createInterface({ input: createReadStream(join(out, 'receipts.jsonl')) })) {
    if (line++ % every === 0) ids.push((JSON.parse(text) as { receipt: { id: string } }).receipt.id);
  }
  const verifier = await startChioVerifier(env);
  const urls = join(work, 'proof.urls');
  writeFileSync(urls, `${ids.map((id) => `http://127.0.0.1:${verifier.port}/v1/receipts/${id}`).join('\n')}\n`);
  const verifierRss: number[] = [rssOf(verifier.process.pid!) ?? 0];
  const tracer = setInterval(() => verifierRss.push(rssOf(verifier.process.pid!) ?? 0), TRACE_MS);
  const proofs = await h2loadGet({ urlFile: urls, clients: 32, seconds: PROOF_SECONDS }, work);
  clearInterval(tracer);
  verifierRss.push(rssOf(verifier.process.pid!) ?? 0);
  await verifier.stop();

  const rows = [
    ['phase', 'receipts', 'time', 'rate', 'RSS at 1 s', 'RSS peak'],
    ...(fill ? [['fill (publisher + ledger, this process)', N, fill.seconds, N / fill.seconds, fill.rssBefore, fill.rssPeak]] : []),
    ['chio export (child process)', count, exported.seconds, N / exported.seconds, exported.rssStart, exported.rssPeak],
    ['chio verify-export (child process)', N, verified.seconds, N / verified.seconds, verified.rssStart, verified.rssPeak],
  ].map((r, i) => (i === 0 ? r.map(String) : [String(r[0]), Number(r[1]).toLocaleString('en-US'), `${Number(r[2]).toFixed(1)} s`, `${Math.round(Number(r[3])).toLocaleString('en-US')}/s`, mib(Number(r[4])), mib(Number(r[5]))]));
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  process.stdout.write(`${rows.map((r) => `| ${r.map((cell, c) => cell.padEnd(widths[c]!)).join(' | ')} |`).join('\n')}\n`);
  process.stdout.write(`bundle: ${(bytes / 2 ** 20).toFixed(1)} MiB (${Math.round(bytes / N)} bytes per receipt), ${LANES} lanes, node ${process.version}\n`);
  process.stdout.write(`chio export: RSS at each tenth of the log: ${exported.byTenth.map((b) => (b / 2 ** 20).toFixed(0)).join(', ')} MiB\n`);
  for (const [name, m] of [['chio export', exported], ['chio verify-export', verified]] as const) {
    process.stdout.write(`${name}: RSS every ${TRACE_MS / 1000} s: ${m.trace.map((b) => (b / 2 ** 20).toFixed(0)).join(', ')} MiB\n`);
  }
  process.stdout.write(
    `chio verifier: ${Math.round(proofs.succeeded / proofs.seconds).toLocaleString('en-US')} JSON proofs/s of ${ids.length.toLocaleString('en-US')} receipts spread over the log ` +
      `(p50 ${percentile(proofs.latencies, 50).toFixed(2)} ms, p99 ${percentile(proofs.latencies, 99).toFixed(2)} ms, ${proofs.done - proofs.succeeded + proofs.failed} not 2xx) for ${PROOF_SECONDS} s; ` +
      `RSS at start and every ${TRACE_MS / 1000} s: ${verifierRss.map((b) => (b / 2 ** 20).toFixed(0)).join(', ')} MiB\n`,
  );
} finally {
  await nc.drain();
  await nats.stop();
  if (!process.env.BENCH_DIR) rmSync(work, { recursive: true, force: true });
}
