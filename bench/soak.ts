/**
 * Soak (`npm run soak`, issue #12): `chio up` (authz, ledger and verifier in one process, as
 * bin/chio.js runs it, against a nats-server started for the run) takes valid Checks at a fixed
 * rate for a long time. Every SOAK_SAMPLE_SECONDS its resident memory (/proc/<pid>/status
 * VmRSS) and open file descriptors (/proc/<pid>/fd) are sampled, and every log line at error
 * level or above is counted. At the end a sample of the allows is proven against the log.
 *
 * Exits non-zero when RSS or open fds grew more than SOAK_MAX_GROWTH (10 %) from just after
 * warm-up to the end, on any error log line, any Check unanswered after warm-up, or any sampled
 * allow not proven.
 *
 *   SOAK_SECONDS=600  SOAK_RATE=1000  SOAK_SAMPLE_SECONDS=10  (defaults)
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import { startChioUp } from './lib/chio-up.js';
import { demoToken } from '../src/up.js';
import { loadChioProtos } from '../src/authz/proto.js';
import { buildCheckRequest } from '../src/cli/envoy-request.js';
import { summarise } from '../src/cli/check.js';
import { proveReceipt } from '../src/cli/prove.js';
import type { CheckResponse } from '../src/authz/wire.js';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const RATE = Number(process.env.SOAK_RATE ?? 1000);
const SAMPLE_SECONDS = Number(process.env.SOAK_SAMPLE_SECONDS ?? 10);
const MAX_GROWTH = Number(process.env.SOAK_MAX_GROWTH ?? 0.1);
/** Samples before this share of the run are warm-up (JIT, caches, pools filling). */
const WARM_UP_SHARE = 0.2;
/** Checks in flight at most: past it the generator skips a tick rather than pile up (counted). */
const MAX_IN_FLIGHT = 5_000;
const PROVE_SAMPLE = 200;
const TICK_MS = 10;

const up = await startChioUp('soak');
const { config } = up;
const chio = up.process;
const verifierUrl = up.verifierUrl;
const pid = chio.pid!;
const levels = new Map<number, number>();
const errorLines: string[] = [];
const countLines = (stream: NodeJS.ReadableStream) =>
  createInterface({ input: stream }).on('line', (line) => {
    let level: number | undefined;
    try {
      level = (JSON.parse(line) as { level?: number }).level;
    } catch {
      return; // the welcome text of `chio up`
    }
    if (level === undefined) return;
    levels.set(level, (levels.get(level) ?? 0) + 1);
    if (level >= 50 && errorLines.length < 5) errorLines.push(line.slice(0, 300));
  });
countLines(chio.stdout!);
countLines(chio.stderr!);
const client = new (loadChioProtos().authorizationClient)(up.grpcAddr, grpc.credentials.createInsecure());
const token = demoToken(config);
const counts = { sent: 0, allow: 0, deny: 0, error: 0, skipped: 0 };
/** gRPC errors by their status name, to say what went wrong. */
const errorKinds = new Map<string, number>();
/** What the first few errors of each kind said. */
const errorExamples = new Map<string, string[]>();
const allowIds: string[] = [];
let inFlight = 0;
const check = () => {
  inFlight++;
  counts.sent++;
  const request = buildCheckRequest({ method: 'POST', path: '/tools/hello', host: 'tools.chio.local', headers: { 'x-chio-capability-token': token } });
  client.Check(request, { deadline: Date.now() + 5_000 }, (err: grpc.ServiceError | null, r: CheckResponse) => {
    inFlight--;
    if (err) {
      counts.error++;
      const kind = grpc.status[err.code] ?? String(err.code);
      const examples = errorExamples.get(kind) ?? [];
      if (examples.length < 3 && !examples.includes(err.details)) errorExamples.set(kind, [...examples, err.details]);
      return void errorKinds.set(kind, (errorKinds.get(kind) ?? 0) + 1);
    }
    const a = summarise(r);
    if (a.verdict === 'allow') {
      counts.allow++;
      // Keep an even sample for proving: every k-th allow, k chosen so the list stays small.
      if (counts.allow % Math.max(1, Math.floor((RATE * SECONDS) / PROVE_SAMPLE)) === 0) allowIds.push(a.receiptId!);
    } else counts.deny++;
  });
};

interface Sample { at: number; rssMb: number; fds: number; sent: number; allow: number; deny: number; error: number }
const samples: Sample[] = [];
const sample = (at: number) => {
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
  samples.push({ at, rssMb: rssKb / 1024, fds: readdirSync(`/proc/${pid}/fd`).length, sent: counts.sent, allow: counts.allow, deny: counts.deny, error: counts.error });
};

console.log(`soak: chio up (pid ${pid}) at ${RATE} Checks/s for ${SECONDS} s, sampling every ${SAMPLE_SECONDS} s`);
const started = Date.now();
sample(0);
let due = 0;
let nextSample = SAMPLE_SECONDS;
while (Date.now() - started < SECONDS * 1000) {
  const elapsed = (Date.now() - started) / 1000;
  // Catch up to the rate from the clock, so timer lateness does not lower it.
  const target = Math.floor(elapsed * RATE);
  for (; due < target; due++) (inFlight < MAX_IN_FLIGHT ? check() : counts.skipped++);
  if (elapsed >= nextSample) {
    sample(Math.round(elapsed));
    nextSample += SAMPLE_SECONDS;
  }
  await new Promise((r) => setTimeout(r, TICK_MS));
}
for (const deadline = Date.now() + 10_000; inFlight > 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
sample(Math.round((Date.now() - started) / 1000));
client.close();

let proven = 0;
const keyText = (name: string) => readFileSync(join(config.keyDir, name), 'utf8').trim();
const proveFailures: string[] = [];
for (const id of allowIds) {
  try {
    await proveReceipt(id, { verifierUrl, logKey: keyText('log.pub'), kernelKeys: [keyText('kernel.pub')], waitMs: 30_000 });
    proven++;
  } catch (err) {
    proveFailures.push(`${id}: ${String(err)}`);
  }
}

await up.stop();

const rows = samples.map((s, i) => {
  const prev = samples[i - 1];
  const rate = prev ? Math.round((s.sent - prev.sent) / Math.max(1, s.at - prev.at)) : 0;
  return `| ${String(s.at).padStart(5)} | ${s.rssMb.toFixed(1).padStart(7)} | ${String(s.fds).padStart(4)} | ${String(rate).padStart(6)} | ${String(s.allow).padStart(8)} | ${String(s.deny).padStart(6)} | ${String(s.error).padStart(6)} |`;
});
console.log(['| t (s) | RSS MiB |  fds | Chk/s  |   allows |  denies | errors |', '|------:|--------:|-----:|-------:|---------:|-------:|-------:|', ...rows].join('\n'));

// Growth from the first samples after warm-up to the last ones (two each, to smooth GC).
const afterWarmUp = samples.filter((s) => s.at >= SECONDS * WARM_UP_SHARE);
const mean = (xs: Sample[], f: (s: Sample) => number) => xs.reduce((a, s) => a + f(s), 0) / xs.length;
const first = afterWarmUp.slice(0, 2);
const last = afterWarmUp.slice(-2);
const growth = (f: (s: Sample) => number) => (first.length > 0 ? (mean(last, f) - mean(first, f)) / mean(first, f) : NaN);
const rssGrowth = growth((s) => s.rssMb);
// A Check unanswered in its 5 s after warm-up is a failure; during warm-up (start-up, JIT) it is reported.
const errorsAfterWarmUp = first.length > 0 ? samples.at(-1)!.error - first[0]!.error : counts.error;
const fdGrowth = growth((s) => s.fds);
const errorCount = [...levels].filter(([l]) => l >= 50).reduce((a, [, n]) => a + n, 0);
const warnCount = levels.get(40) ?? 0;
console.log(
  `soak: ${counts.sent} Checks sent (${counts.skipped} skipped at ${MAX_IN_FLIGHT} in flight), ${counts.allow} allows, ${counts.deny} denies, ${counts.error} gRPC errors; ` +
    `${proven}/${allowIds.length} sampled allows proven; RSS ${(rssGrowth * 100).toFixed(1)} %, fds ${(fdGrowth * 100).toFixed(1)} % after warm-up; ${errorCount} error log lines, ${warnCount} warnings`,
);
const problems = [
  ...(Number.isFinite(rssGrowth) ? [] : ['too short a run to compare samples after warm-up']),
  ...(rssGrowth > MAX_GROWTH ? [`RSS grew ${(rssGrowth * 100).toFixed(1)} %`] : []),
  ...(fdGrowth > MAX_GROWTH ? [`open fds grew ${(fdGrowth * 100).toFixed(1)} %`] : []),
  ...(errorCount > 0 ? [`${errorCount} error log lines, e.g. ${errorLines.join(' / ')}`] : []),
  ...(errorsAfterWarmUp > 0 ? [`${errorsAfterWarmUp} Checks got a gRPC error after warm-up (all run: ${[...errorKinds].map(([k, n]) => `${k}: ${n}`).join(', ')})`] : []),
  ...proveFailures.slice(0, 5).map((f) => `not proven: ${f}`),
];
for (const p of problems) console.error(`soak: FAIL ${p}`);
for (const [kind, examples] of errorExamples) console.error(`soak: ${kind} said: ${examples.map((e) => JSON.stringify(e)).join(', ')}`);
process.exit(problems.length > 0 ? 1 : 0);
