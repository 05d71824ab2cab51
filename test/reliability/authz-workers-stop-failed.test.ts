/**
 * `chio authz --workers 2` sent SIGTERM after its nats-server died: each worker cannot drain
 * its NATS connection, says "stop failed" and exits 1, as a single authz does
 * (stop-without-nats.test.ts). The primary must say so too, by its exit status: it exited 0,
 * "stopped cleanly", whatever its workers' stops came to (exit 1, or SIGKILL past the grace).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { startTestNats, tempDir, type TestNats } from '../support/nats.js';
import { testConfig } from '../support/chio.js';
import { freePort, spawnChio, waitFor, type ChioProcess } from '../support/chio-process.js';
import { generateKeys } from '../../src/keys.js';

let nats: TestNats | undefined;
let proc: ChioProcess | undefined;

afterAll(async () => {
  await proc?.kill();
  await nats?.cleanup();
});

describe('chio authz --workers 2 sent SIGTERM while its nats-server is gone', () => {
  it('exits 1 when its workers could not stop cleanly', async () => {
    nats = await startTestNats();
    const dataDir = tempDir('chio-workers-stop-failed-');
    const config = testConfig(dataDir, nats.current.url);
    generateKeys(config.keyDir, config.logOrigin);
    const httpPort = await freePort();
    proc = spawnChio(['authz', '--workers', '2'], {
      NATS_URL: nats.current.url, CHIO_DATA_DIR: dataDir, CHIO_KEY_DIR: config.keyDir, CHIO_POLICIES: config.policies, CHIO_BIND: '127.0.0.1',
      CHIO_GRPC_PORT: String(await freePort()), CHIO_HTTP_PORT: String(httpPort), CHIO_LOG_LEVEL: 'info',
    });
    const running = proc;
    await waitFor(async () => ((await fetch(`http://127.0.0.1:${httpPort}/ready`)).ok ? true : undefined), 60_000, 'chio authz workers to be ready', 200).catch((err: Error) => {
      throw new Error(`${err.message}; its output: ${running.lines.slice(-5).join(' | ')}`);
    });
    await nats.current.kill();
    running.child.kill('SIGTERM');
    const code = await Promise.race([running.exited, new Promise<string>((r) => setTimeout(() => r('still running 40 s after SIGTERM'), 40_000))]);
    const workerStops = running.lines.filter((l) => l.includes('"msg":"authz worker stopped"')).map((l) => (JSON.parse(l) as { code: number | null }).code);
    expect(workerStops, 'each worker could not drain NATS, and exited 1').toEqual([1, 1]);
    expect(code, 'the primary exits 1, as its workers did').toBe(1);
  }, 120_000);
});
