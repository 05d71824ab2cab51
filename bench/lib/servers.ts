/**
 * The processes a benchmark compares, each in its own process as in production: the bare
 * grpc-js baseline (bench/bare-server.ts) and `chio authz` (bin/chio.js, from dist/), against
 * a nats-server started for the run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { findFreePort } from '../../src/nats/server.js';

export const REPO = resolve(import.meta.dirname, '../..');

export interface Child {
  readonly port: number;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise<void>((done) => {
      if (child.exitCode !== null || child.signalCode !== null) return done();
      child.once('exit', () => done());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
    });
}

/** The bare allow-all gRPC server. */
export async function startBareServer(): Promise<Child> {
  const port = await findFreePort();
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'bench/bare-server.ts'), String(port)], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((ready, fail) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('listening') && ready());
    child.once('exit', (code) => fail(new Error(`bare server exited ${code}`)));
  });
  return { port, process: child, stop: stopper(child) };
}

/** bench/stage-server.ts: Chio's edge alone, or edge and decision without the receipt. */
export async function startStageServer(stage: 'edge' | 'decide', keyDir: string, policies: string): Promise<Child> {
  const port = await findFreePort();
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'bench/stage-server.ts'), stage, String(port), keyDir, policies], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((ready, fail) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('listening') && ready());
    child.once('exit', (code) => fail(new Error(`stage server ${stage} exited ${code}`)));
  });
  return { port, process: child, stop: stopper(child) };
}

export interface ChioAuthz extends Child {
  readonly httpPort: number;
  /** Abrupt stop (SIGKILL), as a crash or an OOM kill would do; resolves when it exited. */
  kill(): Promise<void>;
  /** Current value of a counter from /metrics, summed over the series whose labels match. */
  counter(name: string, labels?: Record<string, string>): Promise<number>;
}

export interface ChioAuthzOptions {
  /** Listen on these ports (to start again where a killed one was); free ones by default. */
  grpcPort?: number;
  httpPort?: number;
  /** Where its standard output (its log) goes: this terminal, or a pipe the caller reads. */
  stdout?: 'inherit' | 'pipe';
}

/** `chio authz` as an operator runs it, with its settings from the environment. */
export async function startChioAuthz(env: Record<string, string>, options: ChioAuthzOptions = {}): Promise<ChioAuthz> {
  const port = options.grpcPort ?? (await findFreePort());
  const httpPort = options.httpPort ?? (await findFreePort());
  // BENCH_PROFILE=<dir>: a V8 CPU profile of chio authz, written there when it stops.
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const child = spawn(process.execPath, [...profile, join(REPO, 'bin/chio.js'), 'authz'], {
    cwd: REPO,
    env: { ...process.env, CHIO_BIND: '127.0.0.1', CHIO_GRPC_PORT: String(port), CHIO_HTTP_PORT: String(httpPort), CHIO_LOG_LEVEL: 'error', ...env },
    stdio: ['ignore', options.stdout ?? 'inherit', 'inherit'],
  });
  const exited = new Promise<never>((_, fail) => child.once('exit', (code) => fail(new Error(`chio authz exited ${code}`))));
  exited.catch(() => undefined);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ready = await fetch(`http://127.0.0.1:${httpPort}/ready`).then((r) => r.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline) throw new Error('chio authz did not become ready in 30 s');
    await Promise.race([new Promise((r) => setTimeout(r, 200)), exited]);
  }
  const counter = async (name: string, labels: Record<string, string> = {}) => {
    const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    let sum = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
      if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return sum;
  };
  const kill = () =>
    new Promise<void>((done) => {
      if (child.exitCode !== null || child.signalCode !== null) return done();
      child.once('exit', () => done());
      child.kill('SIGKILL');
    });
  return { port, httpPort, process: child, stop: stopper(child), kill, counter };
}

/** `chio verifier` as an operator runs it; ready when its /health answers. */
export async function startChioVerifier(env: Record<string, string>): Promise<Child> {
  return startHttpService('verifier', 'CHIO_VERIFIER_PORT', env);
}

/** `chio <command>` with its HTTP port from `portVariable`; resolves once its /health answers. */
async function startHttpService(command: string, portVariable: string, env: Record<string, string>): Promise<Child> {
  const port = await findFreePort();
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const child = spawn(process.execPath, [...profile, join(REPO, 'bin/chio.js'), command], {
    cwd: REPO,
    env: { ...process.env, CHIO_BIND: '127.0.0.1', [portVariable]: String(port), CHIO_LOG_LEVEL: 'error', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const deadline = Date.now() + 30_000;
  while (!(await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false))) {
    if (child.exitCode !== null) throw new Error(`chio ${command} exited ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error(`chio ${command} did not answer /health in 30 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port, process: child, stop: stopper(child) };
}

export interface ChioLedger extends Child {
  /** The ledger's tree size as its /metrics says (chio_tree_size). */
  treeSize(): Promise<number>;
}

/** `chio ledger` as an operator runs it; resolves once its HTTP port answers (it integrates from its start). */
export async function startChioLedger(env: Record<string, string>): Promise<ChioLedger> {
  const ledger = await startHttpService('ledger', 'CHIO_LEDGER_PORT', env);
  const treeSize = async () => {
    const text = await (await fetch(`http://127.0.0.1:${ledger.port}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('chio_tree_size '));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
  };
  return { ...ledger, treeSize };
}
