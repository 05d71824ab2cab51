/**
 * The nats-server an earlier `chio up` left running on its store. `chio up` stops its embedded
 * server when it stops, but a SIGKILL (an OOM kill, a crash) ends Chio alone, and the server
 * runs on. Started again, `chio up` would start a second server on the same store directory,
 * two JetStream servers writing one set of files. So the embedded server's pid is noted beside
 * its URL, and a server still running under that pid, with that store, is stopped first.
 *
 * The pid of the `chio up` that started it is noted too: while that one still runs, the server
 * is no leftover but its NATS, and a second `chio up` on the same data directory is refused
 * rather than stopping the first's store under it.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { ChioError } from '../errors/index.js';
import { isProcessAlive } from '../process-alive.js';

/** How long a left-over server has to stop on SIGTERM (it flushes its store) before SIGKILL. */
const STOP_GRACE_MS = 10_000;

/** Where `chio up` notes the pid of the nats-server it started. */
export function embeddedNatsPidFile(dataDir: string): string {
  return resolve(dataDir, 'nats.pid');
}

/** Notes the embedded server's pid and its owner's (this process): `<nats pid> <chio up pid>`. */
export function noteEmbeddedNatsPid(dataDir: string, pid: number): void {
  writeFileSync(embeddedNatsPidFile(dataDir), `${pid} ${process.pid}\n`);
}

export function forgetEmbeddedNatsPid(dataDir: string): void {
  rmSync(embeddedNatsPidFile(dataDir), { force: true });
}

/**
 * Stop the nats-server a killed `chio up` left running on `storeDir`, if there is one: the
 * process under the noted pid, and only when its command line is nats-server's with that
 * store (a pid may since belong to anything else). Resolves with its pid when one was stopped.
 */
export async function stopLeftoverNats(dataDir: string, storeDir: string, log: Logger): Promise<number | undefined> {
  let noted: string;
  try {
    noted = readFileSync(embeddedNatsPidFile(dataDir), 'utf8');
  } catch {
    return undefined;
  }
  // `<nats pid>` alone is an older chio up's note.
  const [pid = Number.NaN, owner] = noted.trim().split(' ').map(Number);
  if (owner !== undefined && Number.isSafeInteger(owner) && owner > 1 && owner !== process.pid && isProcessAlive(owner) && isChioProcess(owner)) {
    throw new ChioError('CONFIG_INVALID', `another chio up (pid ${owner}) runs on ${dataDir}: stop it first, or give this one its own CHIO_DATA_DIR`);
  }
  forgetEmbeddedNatsPid(dataDir);
  if (!Number.isSafeInteger(pid) || pid <= 1 || !isProcessAlive(pid)) return undefined;
  const command = commandLineOf(pid);
  if (!command || !/(^|\/)nats-server( |$)/.test(command.split(' -')[0] ?? '') || !command.includes(` -sd ${storeDir}`)) return undefined;
  log.warn({ nats_pid: pid, store: storeDir }, 'stopping the nats-server an earlier chio up left running on this store');
  process.kill(pid, 'SIGTERM');
  if (!(await exited(pid, STOP_GRACE_MS))) {
    process.kill(pid, 'SIGKILL');
    if (!(await exited(pid, 2_000))) throw new ChioError('UNAVAILABLE', `the nats-server left running on ${storeDir} (pid ${pid}) does not stop`);
  }
  return pid;
}

async function exited(pid: number, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (isProcessAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/**
 * Whether `pid` looks like the chio up that noted it (Node running bin/chio.js, or a `chio`
 * program), not a process that took its pid since, after a reboot say: a wrong "yes" refuses a
 * start with a message naming the pid, a wrong "no" is the older behaviour.
 */
function isChioProcess(pid: number): boolean {
  const command = commandLineOf(pid);
  if (command === undefined) return false;
  const [program = '', ...args] = command.split(' ');
  return /(^|\/)(node|chio)$/.test(program) && (program.endsWith('chio') || args.some((a) => /(^|\/)chio(\.js)?$/.test(a)));
}

/** The process's command line, its arguments joined by spaces: /proc on Linux, else ps. */
function commandLineOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    try {
      return execFileSync('ps', ['-o', 'command=', '-p', String(pid)], { encoding: 'utf8' }).trim() || undefined;
    } catch {
      return undefined;
    }
  }
}
