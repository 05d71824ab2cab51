/**
 * Ledger integration speed and memory (issue #9): a receipts stream pre-filled with N valid
 * receipts (default 200,000) on CHAINS chains, RECEIPTS_PER_MESSAGE per message under one
 * batch signature, as group commit stores them; then, in the same run and on the same stream:
 *   - a bare JetStream consumer that only reads it (the baseline);
 *   - `chio ledger` (its own process) integrating it with every check on (JCS, id, trusted key, Ed25519
 *     signature, chain link), index, chain heads, tiles, bundles, commits and checkpoints,
 *     with the resident memory printed every 100,000 leaves (flat memory: item 4).
 * Prints a table; no assertions.
 *
 *   npm run bench:ledger                             # prints the table, kept in bench/results/ledger.md
 *   BENCH_RECEIPTS=1000000 npm run bench:ledger     # the flat-memory run
 *   BENCH_PROFILE=/tmp/prof npm run bench:ledger     # a CPU profile of chio ledger, written in that directory
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { generateKeys, loadKey } from '../src/keys.js';
import { startEmbeddedNats } from '../src/nats/server.js';
import { connectNats } from '../src/nats/connection.js';
import { ensureResources, receiptSubject } from '../src/store/resources.js';
import { consumeReceipts } from '../src/store/receipts.js';
import { RECEIPT_IDS_HEADER, joinReceiptMessage, splitReceiptMessage } from '../src/store/receipt-message.js';
import { GENESIS_PREV, RECEIPT_SCHEMA, type ReceiptBody } from '../src/receipt/receipt.js';
import { prepareBody, sealReceipts, type PreparedBody } from '../src/receipt/sign.js';
import { sha256Hex } from '../src/crypto/sha256.js';
import { DEFAULT_VERIFY_THREADS } from '../src/crypto/ed25519-pool.js';
import { startChioLedger } from './lib/servers.js';
import { rssOf } from './lib/rss.js';

const N = Number(process.env.BENCH_RECEIPTS ?? 200_000);
const CHAINS = Number(process.env.BENCH_CHAINS ?? 8);
const PER_MESSAGE = Number(process.env.BENCH_RECEIPTS_PER_MESSAGE ?? 4);
const ORIGIN = 'chio.local/receipts';
/** Signature check threads beside the ledger's own, as `chio ledger` runs by default (CHIO_LEDGER_VERIFY_THREADS). */
const VERIFY_THREADS = Number(process.env.CHIO_LEDGER_VERIFY_THREADS ?? DEFAULT_VERIFY_THREADS);
const LEDGER_NODE_OPTIONS = process.env.LEDGER_NODE_OPTIONS ?? '--max-semi-space-size=8';
/** Messages published before waiting for their acks while the stream fills. */
const FILL_WINDOW = 512;

const work = mkdtempSync(join(tmpdir(), 'chio-bench-ledger-'));
const keyDir = join(work, 'keys');
generateKeys(keyDir, ORIGIN);
const nats = await startEmbeddedNats({ storeDir: join(work, 'nats') });
const nc = await connectNats({ servers: [nats.url], name: 'chio-bench-ledger' });
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** Sign and store N receipts: CHAINS chains, round robin, PER_MESSAGE consecutive receipts of one chain per message. */
async function fill(): Promise<{ messages: number; bytes: number }> {
  const js = jetstream(nc);
  const kernel = loadKey(keyDir, 'kernel');
  const heads = Array.from({ length: CHAINS }, () => ({ seq: 0, prev: GENESIS_PREV }));
  let inFlight: Array<Promise<unknown>> = [];
  let made = 0;
  let messages = 0;
  let bytes = 0;
  for (let chain = 0; made < N; chain = (chain + 1) % CHAINS) {
    const head = heads[chain]!;
    // Signed as authz signs a message: each body serialised with its id, then one batch signature.
    const prepared: PreparedBody[] = [];
    for (let k = 0; k < PER_MESSAGE && made < N; k++, made++) {
      const allow = made % 4 !== 0;
      const body: ReceiptBody = {
        schema: RECEIPT_SCHEMA, chain: `bench-${chain}`, seq: head.seq + 1, prev: head.prev, kernel_key: kernel.verifierKey,
        time: new Date(1_790_000_000_000 + made).toISOString(),
        request: { kind: 'http', id: `bench-${made}`, method: 'POST', host: 'tools.chio.local', path: `/tools/t${made % 50}`, protocol: 'HTTP/1.1', source_address: '10.0.0.2:51234' },
        subject: { capability_id: 'bench-capability', subject: 'demo-agent', credential_sha256: 'ab'.repeat(32) },
        decision: allow ? { verdict: 'allow', http_status: 200, shadow: false } : { verdict: 'deny', guard: 'Policy', reason: 'no rule allows', http_status: 403, shadow: false },
        evidence: [{ guard: 'Request', verdict: 'allow' }, { guard: 'Capability', verdict: 'allow' }, { guard: 'Policy', verdict: allow ? 'allow' : 'deny' }],
        policy_hash: `sha256:${'cd'.repeat(32)}`,
      };
      const one = prepareBody(body, sha256Hex);
      prepared.push(one);
      head.seq += 1;
      head.prev = one.id;
    }
    const sealed = sealReceipts(prepared, kernel.signer);
    const batch = sealed.map((s) => s.bytes);
    const ids = sealed.map((s) => s.receipt.id);
    const data = joinReceiptMessage(batch);
    const h = natsHeaders();
    h.set(RECEIPT_IDS_HEADER, ids.join(','));
    inFlight.push(js.publish(receiptSubject(`bench-${chain}`), data, { msgID: ids[0]!, headers: h }));
    messages++;
    bytes += data.length;
    if (inFlight.length >= FILL_WINDOW) {
      await Promise.all(inFlight);
      inFlight = [];
    }
  }
  await Promise.all(inFlight);
  return { messages, bytes };
}

/** Read the whole stream as the ledger does (ordered consumer, stream order), splitting messages into receipts; nothing else. */
async function bareConsumer(messages: number): Promise<{ seconds: number; receipts: number }> {
  const js = jetstream(nc);
  const t = performance.now();
  const it = await consumeReceipts(js, 1, 512);
  let receipts = 0;
  for await (const m of it) {
    receipts += splitReceiptMessage(m.data).length;
    if (m.seq >= messages) break;
  }
  it.stop();
  return { seconds: (performance.now() - t) / 1000, receipts };
}

/**
 * `chio ledger` (a child process, as deployed) integrates the stream until its tree has N
 * leaves; its RSS at every 100,000. The rate is timed from its first answer on /metrics (it is
 * integrating by then) to the last leaf, over the leaves integrated in between.
 */
async function ledgerRun(): Promise<{ seconds: number; leaves: number; rssStart: number; rss: Array<{ leaves: number; rss: number }> }> {
  // NODE_OPTIONS as the ledger's Deployment sets it (deploy/istio/00-chio.yaml).
  const ledger = await startChioLedger({ NATS_URL: nats.url, CHIO_KEY_DIR: keyDir, CHIO_LOG_ORIGIN: ORIGIN, CHIO_LEDGER_VERIFY_THREADS: String(VERIFY_THREADS), NODE_OPTIONS: LEDGER_NODE_OPTIONS });
  try {
    const pid = ledger.process.pid!;
    const t = performance.now();
    const first = await ledger.treeSize();
    const rssStart = rssOf(pid) ?? 0;
    const rss: Array<{ leaves: number; rss: number }> = [];
    let mark = 100_000;
    for (let size = first; size < N; ) {
      await new Promise((r) => setTimeout(r, 100));
      size = await ledger.treeSize();
      if (size >= mark) {
        rss.push({ leaves: size, rss: rssOf(pid) ?? 0 });
        while (mark <= size) mark += 100_000;
      }
    }
    return { seconds: (performance.now() - t) / 1000, leaves: N - first, rssStart, rss };
  } finally {
    await ledger.stop();
  }
}

try {
  const jsReady = await ensureResources(nc);
  void jsReady;
  const t = performance.now();
  const filled = await fill();
  const fillSeconds = (performance.now() - t) / 1000;
  const info = await (await jetstreamManager(nc)).streams.info('CHIO_RECEIPTS');
  if (info.state.messages !== filled.messages) throw new Error(`stream holds ${info.state.messages} messages, ${filled.messages} were published`);
  globalThis.gc?.();
  const bare = await bareConsumer(filled.messages);
  if (bare.receipts !== N) throw new Error(`the bare consumer read ${bare.receipts} receipts, not ${N}`);
  const ledger = await ledgerRun();

  const out: string[] = [];
  out.push(`# Ledger benchmark (issue #9)\n`);
  out.push(`- date: ${new Date().toISOString()}`);
  out.push(`- machine: ${cpus().length} × ${cpus()[0]?.model.replace(/\s+/g, ' ').trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB; node ${process.version}; nats-server on the same machine`);
  out.push(`- stream: ${fmt(N)} receipts on ${CHAINS} chains, ${PER_MESSAGE} per message (${fmt(filled.messages)} messages, ${mib(filled.bytes)}); filled in ${fillSeconds.toFixed(1)} s`);
  out.push(`- ledger: \`chio ledger\` in its own process, every receipt check on, signatures checked on its own thread and ${VERIFY_THREADS} worker thread(s), NODE_OPTIONS=${LEDGER_NODE_OPTIONS} (as deployed), default batch and checkpoint interval; timed over the ${fmt(ledger.leaves)} leaves it integrated after its first answer on /metrics\n`);
  out.push('| row | seconds | receipts/s | vs bare | target |');
  out.push('| --- | --- | --- | --- | --- |');
  out.push(`| bare JetStream consumer (reads only) | ${bare.seconds.toFixed(1)} | ${fmt(N / bare.seconds)} | 1.00 | |`);
  const rate = ledger.leaves / ledger.seconds;
  out.push(`| chio ledger (checked, integrated, committed) | ${ledger.seconds.toFixed(1)} | ${fmt(rate)} | ${(rate / (N / bare.seconds)).toFixed(2)} | ≥ 10,000/s |`);
  out.push(`\nResident memory of the ledger's process (${mib(ledger.rssStart)} at its first answer; target ≤ 256 MiB, flat after warm-up):\n`);
  out.push('| leaves | RSS |');
  out.push('| --- | --- |');
  for (const s of ledger.rss) out.push(`| ${fmt(s.leaves)} | ${mib(s.rss)} |`);
  const report = `${out.join('\n')}\n`;
  process.stdout.write(report);
  writeFileSync(join(import.meta.dirname, 'results/ledger.md'), report);
} finally {
  await nc.drain().catch(() => undefined);
  await nats.stop();
  rmSync(work, { recursive: true, force: true });
}
