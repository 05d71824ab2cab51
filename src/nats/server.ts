/**
 * Embedded NATS: starts a real `nats-server -js` child process on a free loopback port.
 *
 * Used by `chio up` when no NATS_URL is given, and by every integration test file (each starts
 * its own server with its own store directory, so a test can kill and restart it).
 * The child is started with `-js -sd <storeDir>` so JetStream data survives a restart of the
 * child when the same store directory is given again.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { ChioError } from '../errors/index.js';

/** How long a starting nats-server may take to say it is ready. */
export const DEFAULT_NATS_START_TIMEOUT_MS = 15_000;

export interface EmbeddedNatsOptions {
  /** JetStream store directory (created by nats-server when missing). */
  storeDir: string;
  /** Port to listen on; a free loopback port when omitted. */
  port?: number;
  /** nats-server binary; `nats-server` from PATH by default. */
  binary?: string;
  startTimeoutMs?: number;
  /** A nats-server configuration file (`-c`), e.g. for authentication or TLS; the flags above win over it. */
  configFile?: string;
}

export interface EmbeddedNats {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  /** The child's process id (tests pause it with SIGSTOP to delay PubAcks). */
  readonly pid: number | undefined;
  /** Graceful stop (SIGTERM, then SIGKILL after a grace period). Resolves when the child exited. */
  stop(): Promise<void>;
  /** Abrupt stop (SIGKILL), as a crash would do. */
  kill(): Promise<void>;
}

/** True when a `nats-server` binary can be run from PATH (or the given path). */
export function hasNatsServerBinary(binary = 'nats-server'): boolean {
  const probe = spawnSync(binary, ['--version'], { stdio: 'ignore', timeout: 5_000 });
  return probe.error === undefined && probe.status === 0;
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export async function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Start `nats-server -js` on loopback and wait until it reports ready. */
export async function startEmbeddedNats(options: EmbeddedNatsOptions): Promise<EmbeddedNats> {
  const binary = options.binary ?? 'nats-server';
  const port = options.port ?? (await findFreePort());
  const args = [...(options.configFile ? ['-c', options.configFile] : []), '-a', '127.0.0.1', '-p', String(port), '-js', '-sd', options.storeDir];
  // Its own process group: a terminal's Ctrl-C reaches only Chio, which then drains and stops
  // this server last. If Chio exits anyway, the server goes with it.
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      process.off('exit', killOnExit);
      resolve();
    }),
  );
  await waitForReady(child, options.startTimeoutMs ?? DEFAULT_NATS_START_TIMEOUT_MS);
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir: options.storeDir,
    pid: child.pid,
    stop: () => stopChild(child, exited, 'SIGTERM'),
    kill: () => stopChild(child, exited, 'SIGKILL'),
  };
}

function waitForReady(child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const onError = (err: Error) => fail(err.message);
    const onExit = (code: number | null) => fail(`exited with code ${code}`);
    const settle = () => {
      clearTimeout(timer);
      child.off('error', onError);
      child.off('exit', onExit);
      child.stderr?.off('data', onData);
      // Keep draining the child's log so that a full pipe never blocks it.
      child.stderr?.resume();
    };
    const fail = (why: string) => {
      settle();
      child.kill('SIGKILL');
      reject(new ChioError('UNAVAILABLE', `nats-server did not start: ${why}\n${output.slice(-2_000)}`));
    };
    const onData = (chunk: string) => {
      // Keep only a tail for error messages.
      output = (output + chunk).slice(-8_000);
      if (output.includes('Server is ready')) {
        settle();
        resolve();
      }
    };
    const timer = setTimeout(() => fail(`not ready after ${timeoutMs} ms`), timeoutMs);
    child.once('error', onError);
    child.once('exit', onExit);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', onData);
  });
}

async function stopChild(child: ChildProcess, exited: Promise<void>, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  const grace = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(grace);
}
