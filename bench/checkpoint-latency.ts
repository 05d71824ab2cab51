/**
 * Check → receipt in a signed checkpoint (issue #9): `chio up` takes valid Checks at a fixed
 * rate (default 1,000/s for 30 s) with the default checkpoint interval (1 s). Every checkpoint
 * the ledger publishes is watched as it comes (its signature checked with the log key), and for
 * an even sample of the allows the leaf index is asked of the verifier; the latency of a
 * receipt is from its Check's answer to the first checkpoint that covers its leaf. Prints
 * p50/p90/p99/max, kept in bench/results/checkpoint-latency.md; no assertions.
 *
 *   npm run bench:checkpoint
 *   BENCH_RATE=2000 BENCH_SECONDS=60 npm run bench:checkpoint
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { connectNats } from '../src/nats/connection.js';
import { demoToken } from '../src/up.js';
import { loadChioProtos } from '../src/authz/proto.js';
import { buildCheckRequest } from '../src/cli/envoy-request.js';
import { summarise } from '../src/cli/check.js';
import { openCheckpoint } from '../src/tlog/index.js';
import { CHECKPOINTS_SUBJECT } from '../src/store/resources.js';
import type { CheckResponse } from '../src/authz/wire.js';
import { startChioUp } from './lib/chio-up.js';

const RATE = Number(process.env.BENCH_RATE ?? 1000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
/** Allows answered in the first seconds (JIT, pools filling) are not sampled. */
const WARM_UP_SECONDS = 5;
const SAMPLE = 3000;
const TICK_MS = 10;

const chio = await startChioUp('latency', process.env.CHIO_CHECKPOINT_INTERVAL_MS ? { CHIO_CHECKPOINT_INTERVAL_MS: process.env.CHIO_CHECKPOINT_INTERVAL_MS } : {});
const nc = await connectNats({ servers: [chio.nats.url], name: 'chio-bench-latency' });
const logKey = readFileSync(join(chio.config.keyDir, 'log.pub'), 'utf8').trim();
/** Every checkpoint seen, in order: its size and when it arrived. */
const checkpoints: Array<{ size: number; at: number }> = [];
const watch = nc.subscribe(CHECKPOINTS_SUBJECT, {
  callback: (_err, msg) => void checkpoints.push({ size: openCheckpoint(msg.string(), logKey).size, at: performance.now() }),
});
await nc.flush();

const client = new (loadChioProtos().authorizationClient)(chio.grpcAddr, grpc.credentials.createInsecure());
const token = demoToken(chio.config);
const answered: Array<{ id: string; at: number }> = [];
const counts = { sent: 0, allow: 0, deny: 0, error: 0 };
const started = performance.now();
const check = () => {
  counts.sent++;
  const request = buildCheckRequest({ method: 'POST', path: '/tools/hello', host: 'tools.chio.local', headers: { 'x-chio-capability-token': token } });
  client.Check(request, { deadline: Date.now() + 5_000 }, (err: grpc.ServiceError | null, r: CheckResponse) => {
    if (err) return void counts.error++;
    const a = summarise(r);
    if (a.verdict !== 'allow') return void counts.deny++;
    counts.allow++;
    const at = performance.now();
    if (at - started > WARM_UP_SECONDS * 1000) answered.push({ id: a.receiptId!, at });
  });
};
let due = 0;
while (performance.now() - started < SECONDS * 1000) {
  const target = Math.floor(((performance.now() - started) / 1000) * RATE);
  for (; due < target; due++) check();
  await new Promise((r) => setTimeout(r, TICK_MS));
}
// The last receipts need a checkpoint or two more.
await new Promise((r) => setTimeout(r, 3_000));
client.close();
watch.unsubscribe();

const every = Math.max(1, Math.floor(answered.length / SAMPLE));
const latencies: number[] = [];
let unproven = 0;
for (let i = 0; i < answered.length; i += every) {
  const { id, at } = answered[i]!;
  const res = await fetch(`${chio.verifierUrl}/v1/receipts/${id}`);
  const body = (await res.json()) as { index?: number };
  const covering = body.index === undefined ? undefined : checkpoints.find((c) => c.size > body.index! && c.at >= at - 1);
  if (res.status !== 200 || !covering) {
    unproven++;
    continue;
  }
  latencies.push(covering.at - at);
}
await nc.drain();
await chio.stop();

latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN;
const ms = (x: number) => `${Math.round(x).toLocaleString('en-US')}`;
const report = [
  '# Check → signed checkpoint latency (issue #9)',
  '',
  `- date: ${new Date().toISOString()}`,
  `- machine: ${cpus().length} × ${cpus()[0]?.model.replace(/\s+/g, ' ').trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB; node ${process.version}; nats-server, chio up and this load on the same machine`,
  `- load: ${RATE} Checks/s for ${SECONDS} s (${counts.sent} sent: ${counts.allow} allows, ${counts.deny} denies, ${counts.error} gRPC errors); checkpoint interval ${chio.config.checkpointIntervalMs} ms; ${checkpoints.length} checkpoints seen`,
  `- sample: ${latencies.length} allows answered after ${WARM_UP_SECONDS} s of warm-up, every ${every}th; ${unproven} not in a checkpoint when asked`,
  '',
  '| min (ms) | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) | target |',
  '| --- | --- | --- | --- | --- | --- |',
  `| ${ms(latencies[0] ?? NaN)} | ${ms(pct(50))} | ${ms(pct(90))} | ${ms(pct(99))} | ${ms(latencies.at(-1) ?? NaN)} | p99 ≤ 1,500 |`,
  '',
].join('\n');
process.stdout.write(report);
writeFileSync(join(import.meta.dirname, 'results/checkpoint-latency.md'), report);
