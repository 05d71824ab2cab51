/**
 * Each integration test file starts its own real `nats-server -js` on a free loopback port with
 * a temporary store directory, so that it can kill and restart it. Never the shared server.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedNats, type EmbeddedNats } from '../../src/nats/server.js';

export interface TestNats {
  current: EmbeddedNats;
  storeDir: string;
  /**
   * Start again on the same port and store (after stop or kill); `config`: another nats-server
   * configuration file's text than the one started with (an operator growing the store, say).
   */
  restart(options?: { config?: string }): Promise<EmbeddedNats>;
  /** Pause the server (SIGSTOP): resolves once every thread of it is stopped (see pauseProcess). */
  pause(): Promise<void>;
  /**
   * Let a paused server go on (SIGCONT); nothing when it is not paused, so that an afterEach
   * may call it whether or not its test got as far as its own resume.
   */
  resume(): void;
  /** Resumes a paused server first: a stopped one would not act on SIGTERM until the grace period's SIGKILL. */
  cleanup(): Promise<void>;
}

/** `config`: the text of a nats-server configuration file to start with (e.g. `jetstream { max_file_store: 4MB }`). */
export async function startTestNats(options: { config?: string } = {}): Promise<TestNats> {
  const root = mkdtempSync(join(tmpdir(), 'chio-nats-'));
  const storeDir = join(root, 'store');
  const configFile = join(root, 'nats.conf');
  const withConfig = (config: string | undefined) => (config === undefined ? {} : (writeFileSync(configFile, config), { configFile }));
  let config = options.config;
  const first = await startEmbeddedNats({ storeDir, ...withConfig(config) });
  /** The server SIGSTOPped and not yet let go on; set before the signal, so a pause that throws is still undone. */
  let paused: EmbeddedNats | undefined;
  const t: TestNats = {
    current: first,
    storeDir,
    async restart(again = {}) {
      config = again.config ?? config;
      t.current = await startEmbeddedNats({ storeDir, port: first.port, ...withConfig(config) });
      return t.current;
    },
    pause: () => ((paused = t.current), pauseProcess(t.current.pid!)),
    resume() {
      if (paused === undefined) return;
      const { pid } = paused;
      paused = undefined;
      try {
        process.kill(pid!, 'SIGCONT');
      } catch (err) {
        // Killed while paused (SIGKILL ends a stopped process): nothing to let go on.
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
      }
    },
    async cleanup() {
      t.resume();
      await t.current.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
  return t;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** How long a paused process may take to stop: far more than a loaded machine needs. */
const STOP_TIMEOUT_MS = 10_000;

/**
 * SIGSTOP `pid` and resolve once every one of its threads is stopped (Linux: /proc). kill(2)
 * returns before that: the kernel wakes one thread to take a stop signal, and the others are
 * stopped only when that one runs. Until then they go on: nats-server's may read a publish,
 * store it and send its PubAck: on a machine under load a JetStream publish written after
 * kill(SIGSTOP) returned was PubAcked while the server was "paused", and a Check sent then
 * was rightly answered allow. A test holding that no PubAck comes while paused waits here.
 */
export async function pauseProcess(pid: number): Promise<void> {
  process.kill(pid, 'SIGSTOP');
  for (const until = Date.now() + STOP_TIMEOUT_MS; !everyThreadStopped(pid); await new Promise((r) => setTimeout(r, 1))) {
    if (Date.now() > until) throw new Error(`process ${pid} not stopped ${STOP_TIMEOUT_MS} ms after SIGSTOP`);
  }
}

/** Whether every thread of `pid` is stopped: state T (or t, traced) in /proc/<pid>/task/<tid>/stat. */
function everyThreadStopped(pid: number): boolean {
  return readdirSync(`/proc/${pid}/task`).every((tid) => {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      return true; // the thread ended since the directory was read
    }
    // The state follows the command name, which is in parentheses and may itself hold a ')'.
    const state = stat[stat.lastIndexOf(')') + 2];
    return state === 'T' || state === 't';
  });
}
