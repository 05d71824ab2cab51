/**
 * Running the real bin/chio.js as a child process, its dist/ imports loaded from src/
 * (bin-from-src.mjs) under tsx, so no `npm run build` is needed: exit code, stdout, stderr.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from './chio.js';

export interface Run {
  exit: number;
  stdout: string;
  stderr: string;
}

/** The node arguments that run a script with bin/chio.js's dist/ imports taken from src/. */
export function nodeArgsFromSrc(): string[] {
  const fromSrc = pathToFileURL(join(REPO_ROOT, 'test/unit/surface/bin-from-src.mjs')).href;
  return ['--import', 'tsx', '--import', `data:text/javascript,import{register}from"node:module";register(${JSON.stringify(fromSrc)})`];
}

/** Run `file` with `args` (default: bin/chio.js); the environment's NATS_URL is never inherited. */
export function runNode(file: string, args: string[], env: Record<string, string>, cwd = REPO_ROOT): Promise<Run> {
  const { NATS_URL: _ignored, ...inherited } = process.env;
  return new Promise((done) => {
    execFile(file, args, { cwd, env: { ...inherited, ...env }, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      done({ exit: err ? Number((err as { code?: unknown }).code) : 0, stdout, stderr });
    });
  });
}

export function runChio(args: string[], env: Record<string, string>): Promise<Run> {
  return runNode(process.execPath, [...nodeArgsFromSrc(), join(REPO_ROOT, 'bin/chio.js'), ...args], env);
}

/**
 * How long a command that must end, whatever file it reads, is given before it is killed: a
 * hang never ends, while starting bin/chio.js from src/ under tsx took 10 s once with the
 * unit suites running on two loaded cores.
 */
export const SPAWN_LIMIT_MS = 30_000;

/**
 * bin/chio.js with `args`, killed (SIGKILL) after `ms`: exit status (null when killed), the
 * signal, output. For commands that must end however hostile a file they read is.
 */
export function runChioFor(ms: number, args: string[], env: Record<string, string>): Promise<{ exit: number | null; signal: string | null; stdout: string; stderr: string }> {
  const { NATS_URL: _never, ...inherited } = process.env;
  return new Promise((done) => {
    const child = execFile(process.execPath, [...nodeArgsFromSrc(), join(REPO_ROOT, 'bin/chio.js'), ...args], { timeout: ms, killSignal: 'SIGKILL', env: { ...inherited, ...env } }, (_err, stdout, stderr) => {
      done({ exit: child.exitCode, signal: child.signalCode, stdout, stderr });
    });
  });
}
