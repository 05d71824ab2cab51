/**
 * What junk on the receipts subjects costs the ledger (`npm run bench:quarantine`). Anyone who
 * may publish on `chio.receipts.*` can store messages of up to 128 lines that are no receipts;
 * the ledger quarantines what it refuses. This stores BENCH_MESSAGES (default 16) messages of
 * 128 lines of `x` (255 bytes each) per round and integrates them as one batch with the
 * ledger's own Integrator, against a nats-server started for the run, BENCH_ROUNDS times
 * (default 5, after one warm-up). Per round: wall time, this process's CPU (the ledger's), the
 * nats-server's CPU, and the quarantine messages and bytes written. Prints the medians as one
 * JSON line; no assertions. Compare two builds by running it from each, alternating.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { startEmbeddedNats } from '../src/nats/server.js';
import { connectNats } from '../src/nats/connection.js';
import { QUARANTINE_STREAM, ensureResources, receiptSubject } from '../src/store/resources.js';
import { LedgerLease } from '../src/store/ledger-lease.js';
import { TileStore } from '../src/store/tile-store.js';
import { Integrator } from '../src/ledger/integrator.js';
import { createLogger } from '../src/log.js';
import { cpuSeconds } from './lib/cpu.js';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 16);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
/** 128 lines of `x`: the most lines a message may hold, each refused (not JSON). */
const JUNK = new TextEncoder().encode(Array.from({ length: 128 }, () => 'x').join('\n'));

const work = mkdtempSync(join(tmpdir(), 'chio-bench-quarantine-'));
const nats = await startEmbeddedNats({ storeDir: join(work, 'nats') });
const nc = await connectNats({ servers: [nats.url], name: 'chio-bench-quarantine' });
try {
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const resources = await ensureResources(nc);
  const lease = new LedgerLease(resources.ledger, { holder: 'bench-quarantine' });
  await lease.tryAcquire();
  const integrator = new Integrator({
    js, jsm, index: resources.index, chains: resources.chains, lease, tiles: new TileStore(resources.tiles, resources.entries),
    kernelKeys: [], log: createLogger('silent'),
  });
  await integrator.open();
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const rows: Array<{ wallMs: number; cpuMs: number; natsCpuMs: number; entries: number; bytes: number }> = [];
  for (let round = 0; round <= ROUNDS; round++) {
    const batch = [];
    for (let i = 0; i < MESSAGES; i++) batch.push({ seq: (await js.publish(receiptSubject('junk'), JUNK)).seq, data: JUNK, subjectChain: 'junk' });
    const before = (await jsm.streams.info(QUARANTINE_STREAM)).state;
    const natsCpu = cpuSeconds(nats.pid);
    const cpu = process.cpuUsage();
    const start = performance.now();
    await integrator.integrate(batch);
    const wallMs = performance.now() - start;
    const used = process.cpuUsage(cpu);
    const natsCpuMs = (cpuSeconds(nats.pid) - natsCpu) * 1000;
    const after = (await jsm.streams.info(QUARANTINE_STREAM)).state;
    if (round > 0) rows.push({ wallMs, cpuMs: (used.user + used.system) / 1000, natsCpuMs, entries: after.messages - before.messages, bytes: after.bytes - before.bytes });
  }
  const pick = (k: keyof (typeof rows)[number]) => Number(median(rows.map((r) => r[k])).toFixed(1));
  console.log(JSON.stringify({ messages: MESSAGES, inputBytes: MESSAGES * JUNK.length, rounds: ROUNDS, wallMs: pick('wallMs'), cpuMs: pick('cpuMs'), natsCpuMs: pick('natsCpuMs'), entries: pick('entries'), quarantineBytes: pick('bytes') }));
  await integrator.close();
} finally {
  await nc.drain();
  await nats.stop();
  rmSync(work, { recursive: true, force: true });
}
