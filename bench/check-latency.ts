/**
 * Check latency and throughput on this machine, end to end: gRPC Check → decision → receipt
 * signed and stored (PubAck) → answer, against a real nats-server started for the run.
 * Prints a table; no assertions (performance is measured here, never in tests).
 *
 *   npm run bench            # defaults: 2000 checks per row
 *   BENCH_CHECKS=500 npm run bench
 */
import { performance } from 'node:perf_hooks';
import * as grpc from '@grpc/grpc-js';
import { startTestNats, tempDir } from '../test/support/nats.js';
import { startTestChio, testConfig } from '../test/support/chio.js';
import { buildCheckRequest } from '../src/cli/envoy-request.js';
import { loadChioProtos } from '../src/authz/proto.js';
import { demoToken } from '../src/up.js';
import type { CheckRequest } from '../src/authz/wire.js';

const CHECKS = Number(process.env.BENCH_CHECKS ?? 2000);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function run(client: any, request: () => CheckRequest, concurrency: number) {
  const latencies: number[] = [];
  let next = 0;
  let allowed = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < CHECKS) {
      next += 1;
      const t0 = performance.now();
      const res = await new Promise<any>((resolve, reject) => client.Check(request(), (err: Error | null, r: any) => (err ? reject(err) : resolve(r))));
      latencies.push(performance.now() - t0);
      if (res.status.code === 0) allowed += 1;
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99), rate: latencies.length / seconds, allowed };
}

const nats = await startTestNats();
const chio = await startTestChio(testConfig(tempDir('chio-bench-'), nats.current.url, { CHIO_RECEIPT_TIMEOUT_MS: '150', CHIO_CHAIN_ID: 'bench' }));
const token = demoToken(chio.config);
const { authorizationClient } = loadChioProtos();
const client = new authorizationClient(chio.grpcAddr, grpc.credentials.createInsecure());
const allow = () => buildCheckRequest({ method: 'POST', path: '/tools/hello', host: 'tools', headers: { 'x-chio-capability-token': token } });
const denyReq = () => buildCheckRequest({ method: 'POST', path: '/tools/hello', host: 'tools' });

await run(client, allow, 4); // warm-up
const rows: Array<[string, Awaited<ReturnType<typeof run>>]> = [];
for (const [name, req, c] of [['allow, capability token', allow, 1], ['deny, no credentials', denyReq, 1], ['allow, capability token', allow, 16]] as const) {
  rows.push([`${name}, concurrency ${c}`, await run(client, req, c)]);
}
client.close();
// Wait for the ledger to integrate everything: the table is only honest if the ledger worked.
const stored = (rows.length + 1) * CHECKS; // the warm-up and every row
const waitUntil = Date.now() + 30_000;
while (chio.ledger.ledger.treeSize < stored && Date.now() < waitUntil) await new Promise((r) => setTimeout(r, 100));
const integrated = chio.ledger.ledger.treeSize;
await chio.stop();
await nats.cleanup();

console.log(`\nChio Check, end to end (receipt stored before the answer), ${CHECKS} checks per row, node ${process.version}\n`);
console.log(`receipts integrated by the ledger: ${integrated} of ${stored} stored\n`);
console.log('| scenario | p50 ms | p95 ms | p99 ms | checks/s | allowed |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const [name, r] of rows) {
  console.log(`| ${name} | ${r.p50.toFixed(2)} | ${r.p95.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.rate.toFixed(0)} | ${r.allowed} |`);
}
