/**
 * `chio export` and `chio verify-export` at log scale (issue #10): a log of N receipts (default
 * 100,000) signed by the chain publisher on CHIO_LANES chains and integrated by the real ledger
 * on a fresh nats-server, then one export of the whole log and its verification, each timed,
 * with the bundle's size and the process's resident memory before and at peak of each phase
 * (sampled every 20 ms): memory flat means the peak does not grow with N.
 *
 *   npm run bench:export                   # 100,000 receipts
 *   BENCH_RECEIPTS=1000000 npm run bench:export
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { pino } from 'pino';
import { generateKeys, loadKey, loadVerifierKey } from '../src/keys.js';
import { DEFAULT_LANES } from '../src/config.js';
import { startEmbeddedNats } from '../src/nats/server.js';
import { connectNats } from '../src/nats/connection.js';
import { ensureResources } from '../src/store/resources.js';
import { archivePolicySet } from '../src/store/policy-archive.js';
import { loadPolicySet } from '../src/policy/policy-set.js';
import { ReceiptPublisher } from '../src/chain/publisher.js';
import { ReceiptLanes, laneChainIds } from '../src/chain/lanes.js';
import { Ledger } from '../src/ledger/ledger.js';
import { exportBundle } from '../src/export/exporter.js';
import { createProgress } from '../src/export/progress.js';
import { verifyExportDir } from '../src/cli/verify-export.js';
import type { ReceiptDraft } from '../src/receipt/receipt.js';

const N = Number(process.env.BENCH_RECEIPTS ?? 100_000);
const LANES = Number(process.env.CHIO_LANES ?? DEFAULT_LANES);
/** Receipts handed to the publisher at once while the log fills. */
const IN_FLIGHT = 2_000;
const ORIGIN = 'chio.local/receipts';
const REPO = resolve(import.meta.dirname, '..');

const work = mkdtempSync(join(tmpdir(), 'chio-bench-export-'));
const keyDir = join(work, 'keys');
generateKeys(keyDir, ORIGIN);
const nats = await startEmbeddedNats({ storeDir: join(work, 'nats') });
const nc = await connectNats({ servers: [nats.url], name: 'chio-bench-export' });
const log = pino({ level: 'silent' });
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/** RSS is also kept every this often during a phase, to show whether it levels off. */
const TRACE_MS = 15_000;

/** Run `phase`, sampling RSS; returns its result, seconds, RSS before, peak RSS and the RSS every TRACE_MS. */
async function measured<T>(phase: () => Promise<T>): Promise<{ value: T; seconds: number; rssBefore: number; rssPeak: number; trace: number[] }> {
  globalThis.gc?.();
  const rssBefore = process.memoryUsage.rss();
  let rssPeak = rssBefore;
  const trace: number[] = [];
  const t = performance.now();
  const sampler = setInterval(() => {
    const rss = process.memoryUsage.rss();
    rssPeak = Math.max(rssPeak, rss);
    if (performance.now() - t >= (trace.length + 1) * TRACE_MS) trace.push(rss);
  }, 20);
  try {
    const value = await phase();
    return { value, seconds: (performance.now() - t) / 1000, rssBefore, rssPeak: Math.max(rssPeak, process.memoryUsage.rss()), trace };
  } finally {
    clearInterval(sampler);
  }
}

try {
  const resources = await ensureResources(nc);
  const policy = loadPolicySet(join(REPO, 'deploy/policies'), keyDir);
  await archivePolicySet(resources.policies, policy.hash, policy.canonical);
  const kernel = loadKey(keyDir, 'kernel');
  const ledger = new Ledger({ nc, resources, kernelKeys: [kernel.verifierKey], origin: ORIGIN, logSignerKey: loadKey(keyDir, 'log').signerKey, checkpointIntervalMs: 500, log });
  await ledger.start();
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const lanes = new ReceiptLanes(laneChainIds('bench-export', LANES).map((chain) => new ReceiptPublisher({ js, jsm, chain, signer: kernel.signer, kernelKey: kernel.verifierKey, log })));
  await lanes.open();

  const draftOf = (i: number): ReceiptDraft => ({
    time: new Date().toISOString(),
    request: { kind: 'http', id: `bench-${i}`, method: 'POST', host: 'tools.chio.local', path: `/tools/t${i % 50}`, protocol: 'HTTP/1.1', source_address: '10.0.0.2:51234' },
    subject: { capability_id: 'bench-capability', subject: 'demo-agent', credential_sha256: 'ab'.repeat(32) },
    decision: i % 4 === 0 ? { verdict: 'deny', guard: 'Policy', reason: 'no rule allows', http_status: 403, shadow: false } : { verdict: 'allow', http_status: 200, shadow: false },
    evidence: [{ guard: 'Request', verdict: 'allow' }, { guard: 'Capability', verdict: 'allow' }, { guard: 'Jwt', verdict: 'skip' }, { guard: 'Policy', verdict: i % 4 === 0 ? 'deny' : 'allow' }],
    policy_hash: policy.hash,
  });
  const fill = await measured(async () => {
    for (let start = 0; start < N; start += IN_FLIGHT) {
      await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, N - start) }, (_, i) => lanes.store(draftOf(start + i), Date.now() + 60_000).stored));
    }
    while (ledger.publishedSize < N) await new Promise((r) => setTimeout(r, 100));
  });
  await lanes.drain();
  await ledger.stop();

  const out = join(work, 'bundle');
  const progress = createProgress(process.stderr);
  const exported = await measured(() => exportBundle({
    jsm, resources, outDir: out, filter: {}, exportKey: loadKey(keyDir, 'export'), logKey: loadVerifierKey(join(keyDir, 'log.pub')),
    kernelKeys: [kernel.verifierKey], progress: (read, total) => progress.update(read, total),
  }));
  progress.stop();
  const verified = await measured(() => verifyExportDir(out, { exportKey: loadVerifierKey(join(keyDir, 'export.pub')) }));
  if (verified.value.receipts !== N) throw new Error(`verified ${verified.value.receipts} receipts, want ${N}`);

  const rows = [
    ['phase', 'receipts', 'time', 'rate', 'RSS before', 'RSS peak'],
    ['fill (publisher + ledger)', N, fill.seconds, N / fill.seconds, fill.rssBefore, fill.rssPeak],
    ['chio export', exported.value.manifest.count, exported.seconds, N / exported.seconds, exported.rssBefore, exported.rssPeak],
    ['chio verify-export', verified.value.receipts, verified.seconds, N / verified.seconds, verified.rssBefore, verified.rssPeak],
  ].map((r, i) => (i === 0 ? r.map(String) : [String(r[0]), Number(r[1]).toLocaleString('en-US'), `${Number(r[2]).toFixed(1)} s`, `${Math.round(Number(r[3])).toLocaleString('en-US')}/s`, mib(Number(r[4])), mib(Number(r[5]))]));
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  process.stdout.write(`${rows.map((r) => `| ${r.map((cell, c) => cell.padEnd(widths[c]!)).join(' | ')} |`).join('\n')}\n`);
  process.stdout.write(`bundle: ${(exported.value.bytes / 2 ** 20).toFixed(1)} MiB (${Math.round(exported.value.bytes / N)} bytes per receipt), ${LANES} lanes, node ${process.version}\n`);
  for (const [name, m] of [['chio export', exported], ['chio verify-export', verified]] as const) {
    process.stdout.write(`${name}: RSS every ${TRACE_MS / 1000} s: ${m.trace.map((b) => (b / 2 ** 20).toFixed(0)).join(', ')} MiB\n`);
  }
} finally {
  await nc.drain();
  await nats.stop();
  rmSync(work, { recursive: true, force: true });
}
