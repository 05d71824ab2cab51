/**
 * Ledger integration speed and memory (issue #9): a receipts stream pre-filled with N valid
 * receipts (default 200,000) on CHAINS chains, RECEIPTS_PER_MESSAGE per message, as group
 * commit stores them; then, in the same run and on the same stream:
 *   - a bare JetStream consumer that only reads it (the baseline);
 *   - the real Ledger integrating it with every check on (JCS, id, trusted key, Ed25519
 *     signature, chain link), index, chain heads, tiles, bundles, commits and checkpoints,
 *     with the resident memory printed every 100,000 leaves (flat memory: item 4).
 * Prints a table; no assertions.
 *
 *   npm run bench:ledger                             # prints the table, kept in bench/results/ledger.md
 *   BENCH_RECEIPTS=1000000 npm run bench:ledger     # the flat-memory run
 *   BENCH_PROFILE=/tmp/ledger.cpuprofile npm run bench:ledger   # where the ledger's time goes
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { pino } from 'pino';
import { generateKeys, loadKey } from '../src/keys.js';
import { startEmbeddedNats } from '../src/nats/server.js';
import { connectNats } from '../src/nats/connection.js';
import { ensureResources, receiptSubject } from '../src/store/resources.js';
import { consumeReceipts } from '../src/store/receipts.js';
import { RECEIPT_IDS_HEADER, joinReceiptMessage, splitReceiptMessage } from '../src/store/receipt-message.js';
import { Ledger } from '../src/ledger/ledger.js';
import { GENESIS_PREV, RECEIPT_SCHEMA, type ReceiptBody } from '../src/receipt/receipt.js';
import { signReceiptToBytes } from '../src/receipt/sign.js';
import { sha256Hex } from '../src/crypto/sha256.js';
import { defaultVerifyThreads } from '../src/crypto/ed25519-pool.js';

const N = Number(process.env.BENCH_RECEIPTS ?? 200_000);
const CHAINS = Number(process.env.BENCH_CHAINS ?? 8);
const PER_MESSAGE = Number(process.env.BENCH_RECEIPTS_PER_MESSAGE ?? 4);
const ORIGIN = 'chio.local/receipts';
/** Signature check threads beside the ledger's own, as `chio ledger` runs by default (CHIO_LEDGER_VERIFY_THREADS). */
const VERIFY_THREADS = Number(process.env.CHIO_LEDGER_VERIFY_THREADS ?? defaultVerifyThreads());
/** Messages published before waiting for their acks while the stream fills. */
const FILL_WINDOW = 512;

const work = mkdtempSync(join(tmpdir(), 'chio-bench-ledger-'));
const keyDir = join(work, 'keys');
generateKeys(keyDir, ORIGIN);
const nats = await startEmbeddedNats({ storeDir: join(work, 'nats') });
const nc = await connectNats({ servers: [nats.url], name: 'chio-bench-ledger' });
const log = pino({ level: 'silent' });
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
    const batch: Uint8Array[] = [];
    const ids: string[] = [];
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
      const signed = signReceiptToBytes(body, kernel.signer, sha256Hex);
      batch.push(signed.bytes);
      ids.push(signed.receipt.id);
      head.seq += 1;
      head.prev = signed.receipt.id;
    }
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

/** Integrate with the real Ledger until the tree has N leaves; RSS at every 100,000. */
async function ledgerRun(): Promise<{ seconds: number; rss: Array<{ leaves: number; rss: number }> }> {
  const resources = await ensureResources(nc);
  const ledger = new Ledger({ nc, resources, kernelKeys: [loadKey(keyDir, 'kernel').verifierKey], origin: ORIGIN, logSignerKey: loadKey(keyDir, 'log').signerKey, verifyThreads: VERIFY_THREADS, log });
  const rss: Array<{ leaves: number; rss: number }> = [];
  const t = performance.now();
  await ledger.start();
  let mark = 100_000;
  while (ledger.treeSize < N) {
    await new Promise((r) => setTimeout(r, 50));
    if (ledger.treeSize >= mark) {
      rss.push({ leaves: ledger.treeSize, rss: process.memoryUsage.rss() });
      mark += 100_000;
    }
  }
  const seconds = (performance.now() - t) / 1000;
  await ledger.stop();
  return { seconds, rss };
}

/** BENCH_PROFILE=<file>: a V8 CPU profile of `phase` alone (not of the fill), written there. */
async function profiled<T>(phase: () => Promise<T>): Promise<T> {
  const file = process.env.BENCH_PROFILE;
  if (!file) return phase();
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await phase();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
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
  globalThis.gc?.();
  const rssBefore = process.memoryUsage.rss();
  const ledger = await profiled(ledgerRun);

  const out: string[] = [];
  out.push(`# Ledger benchmark (issue #9)\n`);
  out.push(`- date: ${new Date().toISOString()}`);
  out.push(`- machine: ${cpus().length} × ${cpus()[0]?.model.replace(/\s+/g, ' ').trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB; node ${process.version}; nats-server on the same machine`);
  out.push(`- stream: ${fmt(N)} receipts on ${CHAINS} chains, ${PER_MESSAGE} per message (${fmt(filled.messages)} messages, ${mib(filled.bytes)}); filled in ${fillSeconds.toFixed(1)} s`);
  out.push(`- ledger: one process (this one), every receipt check on, signatures checked on ${VERIFY_THREADS} worker thread(s) and its own, default batch and checkpoint interval\n`);
  out.push('| row | seconds | receipts/s | vs bare | target |');
  out.push('| --- | --- | --- | --- | --- |');
  out.push(`| bare JetStream consumer (reads only) | ${bare.seconds.toFixed(1)} | ${fmt(N / bare.seconds)} | 1.00 | |`);
  out.push(`| chio ledger (checked, integrated, committed) | ${ledger.seconds.toFixed(1)} | ${fmt(N / ledger.seconds)} | ${(bare.seconds / ledger.seconds).toFixed(2)} | ≥ 10,000/s |`);
  out.push(`\nResident memory of the ledger's process (${mib(rssBefore)} before it started; target ≤ 256 MiB, flat after warm-up):\n`);
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
