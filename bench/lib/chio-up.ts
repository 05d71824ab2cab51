/**
 * `chio up` (authz, ledger and verifier in one process, as bin/chio.js runs it) against a
 * nats-server started for the run, with fresh keys in a temp dir; for the benchmarks that
 * drive the whole product (soak, Check → checkpoint latency).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from './servers.js';
import { findFreePort, startEmbeddedNats, type EmbeddedNats } from '../../src/nats/server.js';
import { loadConfig, type ChioConfig } from '../../src/config.js';
import { generateKeys } from '../../src/keys.js';

export interface ChioUp {
  readonly process: ChildProcess;
  readonly config: ChioConfig;
  readonly nats: EmbeddedNats;
  readonly grpcAddr: string;
  readonly verifierUrl: string;
  /** SIGTERM (SIGKILL after 10 s), then stop nats-server and remove the temp dir. */
  stop(): Promise<void>;
}

/** Start `chio up`; ready when its authz /ready answers 200. `env` adds or overrides settings. */
export async function startChioUp(name: string, env: Record<string, string> = {}): Promise<ChioUp> {
  const root = mkdtempSync(join(tmpdir(), `chio-${name}-`));
  const nats = await startEmbeddedNats({ storeDir: join(root, 'nats') });
  const [grpcPort, httpPort, ledgerPort, verifierPort] = await Promise.all([findFreePort(), findFreePort(), findFreePort(), findFreePort()]);
  const settings: Record<string, string> = {
    NATS_URL: nats.url,
    CHIO_DATA_DIR: join(root, 'chio'),
    CHIO_KEY_DIR: join(root, 'keys'),
    CHIO_CHAIN_ID: name,
    CHIO_GRPC_PORT: String(grpcPort),
    CHIO_HTTP_PORT: String(httpPort),
    CHIO_LEDGER_PORT: String(ledgerPort),
    CHIO_VERIFIER_PORT: String(verifierPort),
    CHIO_LOG_LEVEL: 'warn',
    CHIO_LOG_FORMAT: 'json',
    ...env,
  };
  const config = loadConfig({ env: settings, defaultBind: '127.0.0.1' });
  generateKeys(config.keyDir, config.logOrigin);
  // BENCH_PROFILE=<dir>: a V8 CPU profile of chio up, written there when it stops.
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const child = spawn(process.execPath, [...profile, join(REPO, 'bin/chio.js'), 'up'], { cwd: REPO, env: { ...process.env, ...settings }, stdio: ['ignore', 'pipe', process.env.CHIO_UP_STDERR ? 'inherit' : 'pipe'] });
  for (const deadline = Date.now() + 60_000; ; ) {
    if (await fetch(`http://127.0.0.1:${httpPort}/ready`).then((r) => r.ok, () => false)) break;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('chio up did not become ready in 60 s');
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    process: child,
    config,
    nats,
    grpcAddr: `127.0.0.1:${grpcPort}`,
    verifierUrl: `http://127.0.0.1:${verifierPort}`,
    async stop() {
      await new Promise<void>((done) => {
        if (child.exitCode !== null || child.signalCode !== null) return done();
        child.once('exit', () => done());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
      });
      await nats.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
