/**
 * A stop that cannot be clean still ends the process: `chio authz`, run as an operator runs it,
 * is sent SIGTERM after its nats-server died. It cannot drain its NATS connection, so it says
 * so and exits 1, where it used to wait for NATS to come back for ever (the connection kept
 * reconnecting, holding the event loop), until the orchestrator's SIGKILL.
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

describe('chio authz sent SIGTERM while its nats-server is gone', () => {
  it('exits 1, saying the stop failed, instead of waiting for NATS', async () => {
    nats = await startTestNats();
    const dataDir = tempDir('chio-stop-without-nats-');
    const config = testConfig(dataDir, nats.current.url);
    generateKeys(config.keyDir, config.logOrigin);
    const httpPort = await freePort();
    proc = spawnChio(['authz'], {
      NATS_URL: nats.current.url, CHIO_DATA_DIR: dataDir, CHIO_KEY_DIR: config.keyDir, CHIO_POLICIES: config.policies, CHIO_BIND: '127.0.0.1',
      CHIO_GRPC_PORT: String(await freePort()), CHIO_HTTP_PORT: String(httpPort), CHIO_LOG_LEVEL: 'info',
    });
    const running = proc;
    await waitFor(async () => ((await fetch(`http://127.0.0.1:${httpPort}/ready`)).ok ? true : undefined), 60_000, 'chio authz to be ready', 100).catch((err: Error) => {
      throw new Error(`${err.message}; its output: ${running.lines.slice(-5).join(' | ')}`);
    });
    await nats.current.kill();
    running.child.kill('SIGTERM');
    const code = await Promise.race([running.exited, new Promise<string>((r) => setTimeout(() => r('still running 20 s after SIGTERM'), 20_000))]);
    expect(code).toBe(1);
    expect(running.lines.some((l) => l.includes('"msg":"stop failed"'))).toBe(true);
  }, 90_000);
});
