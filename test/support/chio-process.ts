/**
 * `chio` as a child process, the way an operator runs it: bin/chio.js under tsx with its dist/
 * imports loaded from src/ (test/unit/surface/bin-from-src.mjs), so that a test can SIGKILL it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from './chio.js';

export interface ChioProcess {
  child: ChildProcess;
  pid: number;
  /** Every stdout line so far (pino JSON when CHIO_LOG_LEVEL allows). */
  lines: string[];
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Start `chio <args>`; the environment is the test's, without NATS_URL, plus `env`. */
export function spawnChio(args: string[], env: Record<string, string>): ChioProcess {
  const fromSrc = pathToFileURL(join(REPO_ROOT, 'test/unit/surface/bin-from-src.mjs')).href;
  const nodeArgs = ['--import', 'tsx', '--import', `data:text/javascript,import{register}from"node:module";register(${JSON.stringify(fromSrc)})`, join(REPO_ROOT, 'bin/chio.js'), ...args];
  const { NATS_URL: _ignored, ...inherited } = process.env;
  const child = spawn(process.execPath, nodeArgs, { cwd: REPO_ROOT, env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let rest = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const parts = (rest + chunk.toString('utf8')).split('\n');
    rest = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr!.on('data', (chunk: Buffer) => lines.push(chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child, pid: child.pid!, lines, exited,
    async kill(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** A loopback port free right now (for a child's CHIO_*_PORT). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Wait until `probe` returns a value (not undefined), polling every `everyMs`. */
export async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number, what: string, everyMs = 50): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await Promise.resolve(probe()).catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The pids of `pid`'s child processes, from /proc (an authz primary's: its workers). */
export function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) children.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return children;
}

/**
 * SIGKILL an authz primary and then each of its workers: after a failure, a worker may be left
 * stopped (SIGSTOP) or orphaned.
 */
export async function killWithWorkers(primary: { process: ChildProcess; kill(): Promise<void> } | undefined): Promise<void> {
  const orphans = primary ? childrenOf(primary.process.pid!) : [];
  await primary?.kill();
  for (const pid of orphans) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
