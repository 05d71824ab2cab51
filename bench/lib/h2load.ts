/**
 * Load from h2load (Debian nghttp2-client): gRPC unary Checks from a pre-encoded body file,
 * over h2c with prior knowledge, as Envoy talks to an ext_authz server. h2load is C and uses
 * little CPU per request, so the server under test is what limits the rate.
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadChioProtos } from '../../src/authz/proto.js';
import type { CheckRequest } from '../../src/authz/wire.js';

export const CHECK_PATH = '/envoy.service.auth.v3.Authorization/Check';

/** Write a CheckRequest as one gRPC message (1-byte flag, 4-byte length, protobuf) to a file. */
export function writeGrpcBody(dir: string, name: string, request: CheckRequest): string {
  const check = loadChioProtos().authorizationService.Check!;
  const message = check.requestSerialize(request) as Buffer;
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  const path = join(dir, `${name}.grpc`);
  writeFileSync(path, frame);
  return path;
}

export interface LoadOptions {
  port: number;
  body: string;
  clients: number;
  streams: number;
  /** Run for this many seconds (after warm-up) … */
  seconds?: number;
  /** … or send exactly this many requests. */
  requests?: number;
  warmUpSeconds?: number;
  /** Requests per second per client (fixed-rate load); unlimited when absent. */
  ratePerClient?: number;
}

export interface LoadResult {
  seconds: number;
  done: number;
  succeeded: number;
  failed: number;
  /** Per-request latency in ms, sorted (h2load's log file). */
  latencies: number[];
}

export async function h2load(o: LoadOptions, logDir: string): Promise<LoadResult> {
  const log = join(logDir, `h2load-${o.port}-${Date.now()}.log`);
  const args = [
    '-c', String(o.clients), '-m', String(o.streams),
    '-d', o.body, '-H', 'content-type: application/grpc', '-H', 'te: trailers',
    `--log-file=${log}`,
    ...(o.seconds !== undefined ? ['-D', String(o.seconds), '--warm-up-time', String(o.warmUpSeconds ?? 1)] : ['-n', String(o.requests ?? 10_000)]),
    ...(o.ratePerClient !== undefined ? [`--rps=${o.ratePerClient}`] : []),
    `http://127.0.0.1:${o.port}${CHECK_PATH}`,
  ];
  return summaryOf(await run('h2load', args), log);
}

export interface GetLoadOptions {
  /** A file of absolute URLs, one per line: h2load requests them in turn. */
  urlFile: string;
  clients: number;
  seconds: number;
  warmUpSeconds?: number;
}

/** HTTP/1.1 GETs (h2load --h1), one in flight per connection, cycling through a list of URLs. */
export async function h2loadGet(o: GetLoadOptions, logDir: string): Promise<LoadResult> {
  const log = join(logDir, `h2load-get-${Date.now()}.log`);
  const args = ['--h1', '-c', String(o.clients), '-m', '1', '-D', String(o.seconds), '--warm-up-time', String(o.warmUpSeconds ?? 1), `--log-file=${log}`, '-i', o.urlFile];
  return summaryOf(await run('h2load', args), log);
}

export interface PostLoadOptions {
  url: string;
  /** The body file, sent with every request. */
  body: string;
  contentType: string;
  clients: number;
  seconds: number;
  warmUpSeconds?: number;
}

/** HTTP/1.1 POSTs of one body (one request in flight per connection). */
export async function h2loadPost(o: PostLoadOptions, logDir: string): Promise<LoadResult> {
  const log = join(logDir, `h2load-post-${Date.now()}.log`);
  const args = ['--h1', '-c', String(o.clients), '-m', '1', '-D', String(o.seconds), '--warm-up-time', String(o.warmUpSeconds ?? 1), `--log-file=${log}`, '-d', o.body, '-H', `content-type: ${o.contentType}`, o.url];
  return summaryOf(await run('h2load', args), log);
}

function summaryOf(out: string, log: string): LoadResult {
  const finished = /finished in ([\d.]+)(m?s)/.exec(out);
  const requests = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed/.exec(out);
  if (!finished || !requests) throw new Error(`h2load printed no summary:\n${out}`);
  const latencies = readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => Number(l.split('\t')[2]) / 1000).sort((a, b) => a - b);
  rmSync(log, { force: true });
  return {
    seconds: Number(finished[1]) / (finished[2] === 'ms' ? 1000 : 1),
    done: Number(requests[3]),
    succeeded: Number(requests[4]),
    failed: Number(requests[5]),
    latencies,
  };
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', (err) => reject(new Error(`${command} could not be run (Debian: apt-get install nghttp2-client): ${err.message}`)));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${command} exited ${code}:\n${out}`))));
  });
}
