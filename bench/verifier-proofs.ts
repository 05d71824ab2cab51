/**
 * Proofs by receipt id per second (issue #10): `chio verifier` in its own process answering
 * GET /v1/receipts/<id> (JSON proof) and GET /v1/receipts/<id>/proof (tlog-proof@v1) for
 * receipts Chio made, against its own GET /health under the same load (h2load, HTTP/1.1,
 * one request in flight per connection), rounds alternating so that the machine's other load
 * falls on every row alike.
 *
 *   npm run bench:verifier                       # prints the table, kept in bench/results/verifier.md
 *   BENCH_SECONDS=3 BENCH_ROUNDS=1 npm run bench:verifier
 *
 * Set-up: `chio authz` (child) answers BENCH_RECEIPTS allowed Checks, so that many receipts
 * are stored; a ledger integrates and publishes them and stops; then only the verifier and
 * nats-server run while h2load asks for proofs of BENCH_IDS different receipts in turn.
 */
import { cpus, totalmem } from 'node:os';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeys } from '../src/keys.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { demoToken } from '../src/up.js';
import { buildCheckRequest } from '../src/cli/envoy-request.js';
import { connectNats } from '../src/nats/connection.js';
import { startEmbeddedNats } from '../src/nats/server.js';
import { startLedger } from '../src/ledger/service.js';
import { ensureResources } from '../src/store/resources.js';
import { readLatestCheckpoint } from '../src/store/checkpoints.js';
import { readLastStreamSeq } from '../src/store/receipts.js';
import { parseCheckpoint } from '../src/tlog/index.js';
import { jetstreamManager } from '@nats-io/jetstream';
import { h2load, h2loadGet, h2loadPost, percentile, writeGrpcBody, type LoadResult } from './lib/h2load.js';
import { REPO, startChioAuthz, startChioVerifier } from './lib/servers.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const RECEIPTS = Number(process.env.BENCH_RECEIPTS ?? 3000);
const IDS = Number(process.env.BENCH_IDS ?? 1000);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 32);
const TARGET = 5000;

const work = mkdtempSync(join(tmpdir(), 'chio-bench-verifier-'));
const keyDir = join(work, 'keys');
generateKeys(keyDir, 'chio.local/receipts');
const nats = await startEmbeddedNats({ storeDir: join(work, 'nats') });
const env = { NATS_URL: nats.url, CHIO_KEY_DIR: keyDir, CHIO_POLICIES: join(REPO, 'deploy/policies'), CHIO_CHAIN_ID: 'bench', CHIO_CHECKPOINT_INTERVAL_MS: '200', CHIO_LEDGER_PORT: '0' };
const config = loadConfig({ env, defaultBind: '127.0.0.1' });
const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '—');

// 1. Receipts, made the way production makes them.
const authz = await startChioAuthz(env);
const allowBody = writeGrpcBody(work, 'allow', buildCheckRequest({ method: 'POST', path: '/tools/hello', host: 'tools.chio.local', headers: { 'x-chio-capability-token': demoToken(config) } }));
await h2load({ port: authz.port, body: allowBody, clients: 4, streams: 16, requests: RECEIPTS }, work);
await authz.stop();

// 2. Integrated and published, then the ledger stops: the verifier runs alone.
const nc = await connectNats({ servers: [nats.url], name: 'chio-bench' });
const jsm = await jetstreamManager(nc);
const ledger = await startLedger(config, nc, createLogger('error'));
const stored = await readLastStreamSeq(jsm);
for (let published = 0; published < stored;) {
  await new Promise((r) => setTimeout(r, 200));
  const latest = await readLatestCheckpoint(jsm);
  published = latest ? parseCheckpoint(latest.note.slice(0, latest.note.indexOf('\n\n') + 1)).size : 0;
}
await ledger.stop();
const ids: string[] = [];
for await (const id of await (await ensureResources(nc)).index.keys()) if (ids.push(id) >= IDS) break;
await nc.drain();

// 3. The verifier under load.
const verifier = await startChioVerifier(env);
const base = `http://127.0.0.1:${verifier.port}`;
const urlFile = (name: string, urls: string[]) => {
  const path = join(work, `${name}.urls`);
  writeFileSync(path, `${urls.join('\n')}\n`);
  return path;
};
const rows = {
  health: urlFile('health', [`${base}/health`]),
  json: urlFile('json', ids.map((id) => `${base}/v1/receipts/${id}`)),
  tlog: urlFile('tlog', ids.map((id) => `${base}/v1/receipts/${id}/proof`)),
};
const sample = await fetch(`${base}/v1/receipts/${ids[0]}`);
if (sample.status !== 200) throw new Error(`the verifier answers ${sample.status} for a published receipt`);
// POST /v1/verify: one receipt with its tlog-proof, every check of the report holding.
const verifyBody = join(work, 'verify.json');
const { receipt } = (await sample.json()) as { receipt: unknown };
writeFileSync(verifyBody, JSON.stringify({ receipt, proof: await (await fetch(`${base}/v1/receipts/${ids[0]}/proof`)).text() }));
const report0 = (await (await fetch(`${base}/v1/verify`, { method: 'POST', body: readFileSync(verifyBody), headers: { 'content-type': 'application/json' } })).json()) as { checks: Array<{ status: string }> };
if (report0.checks.some((c) => c.status === 'fails')) throw new Error('the verify body does not verify');

const results: Record<keyof typeof rows | 'verify', LoadResult[]> = { health: [], json: [], tlog: [], verify: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const row of Object.keys(rows) as Array<keyof typeof rows>) {
    results[row].push(await h2loadGet({ urlFile: rows[row], clients: CLIENTS, seconds: SECONDS }, work));
  }
  results.verify.push(await h2loadPost({ url: `${base}/v1/verify`, body: verifyBody, contentType: 'application/json', clients: CLIENTS, seconds: SECONDS }, work));
}
await verifier.stop();
await nats.stop();
rmSync(work, { recursive: true, force: true });

const rate = (r: LoadResult) => r.succeeded / r.seconds;
const median = (rs: LoadResult[]) => [...rs].sort((a, b) => rate(a) - rate(b))[Math.floor(rs.length / 2)]!;
const health = rate(median(results.health));
const line = (name: string, rs: LoadResult[], target: string) => {
  const m = median(rs);
  const failed = rs.reduce((n, r) => n + r.failed + (r.done - r.succeeded), 0);
  return `| ${name} | ${fmt(rate(m))} | ${fmt(rate(m) / health, 2)} | ${fmt(percentile(m.latencies, 50), 2)} / ${fmt(percentile(m.latencies, 99), 2)} | ${target} | ${failed} |`;
};
const nghttp = execFileSync('h2load', ['--version'], { encoding: 'utf8' }).trim();
const report = [
  `# Verifier benchmark (issue #10)`,
  '',
  `- date: ${new Date().toISOString()}`,
  `- machine: ${cpus().length} × ${cpus()[0]?.model.split(' ').slice(0, 2).join(' ')}, ${Math.round(totalmem() / 2 ** 30)} GiB; node ${process.version}, ${nghttp}`,
  `- load: h2load --h1, ${CLIENTS} connections, 1 request in flight each; ${SECONDS} s × ${ROUNDS} alternating rounds (median); ${ids.length} different receipts of a log of ${stored}`,
  `- chio verifier: one process; nats-server on the same machine; nothing else of Chio running`,
  '',
  '| row | answers/s | vs /health | p50 / p99 (ms) | target | non-2xx or failed |',
  '| --- | --- | --- | --- | --- | --- |',
  line('GET /health', results.health, ''),
  line('GET /v1/receipts/<id> (JSON proof)', results.json, `≥ ${fmt(TARGET)}/s`),
  line('GET /v1/receipts/<id>/proof (tlog-proof)', results.tlog, `≥ ${fmt(TARGET)}/s`),
  line('POST /v1/verify (a receipt and its tlog-proof)', results.verify, ''),
  '',
].join('\n');
process.stdout.write(report);
writeFileSync(join(import.meta.dirname, 'results/verifier.md'), report);
