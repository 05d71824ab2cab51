/**
 * Truthful health (SPEC §1): while NATS or JetStream is unusable, `/ready` on every service
 * answers 503 with the reason and gRPC Health answers NOT_SERVING; once it is usable again they
 * answer ready, within a second of recovery. nats-server is killed (connection lost) and
 * paused (connection held, nothing answers), then brought back.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestNats, tempDir, type TestNats } from '../support/nats.js';
import { startTestChio, testConfig, type TestChio } from '../support/chio.js';
import { grpcHealth, httpReady, pollUntil } from '../support/health.js';
import { registry } from '../../src/metrics.js';

let nats: TestNats;
let chio: TestChio;

beforeAll(async () => {
  nats = await startTestNats();
  chio = await startTestChio(testConfig(tempDir('chio-ready-'), nats.current.url, { CHIO_CHAIN_ID: 'readiness', CHIO_LANES: '1' }));
});

// A test that fails or times out while nats-server is paused must not leave it stopped for the
// next test (or after the run: the server is a process group of its own).
afterEach(() => nats?.resume());

afterAll(async () => {
  await chio?.stop();
  await nats?.cleanup();
});

interface Health {
  authz: number;
  ledger: number;
  verifier: number;
  grpc: string;
  reasons: string[];
}

async function health(): Promise<Health> {
  const [authz, ledger, verifier, grpc] = await Promise.all([
    httpReady(chio.authz.httpPort),
    httpReady(chio.ledger.httpPort),
    httpReady(chio.verifier.httpPort),
    grpcHealth(chio.grpcAddr),
  ]);
  return { authz: authz.status, ledger: ledger.status, verifier: verifier.status, grpc, reasons: [authz, ledger, verifier].map((a) => a.body.reason ?? '') };
}

const allReady = (h: Health) => h.authz === 200 && h.ledger === 200 && h.verifier === 200 && h.grpc === 'SERVING';
const noneReady = (h: Health) => h.authz === 503 && h.ledger === 503 && h.verifier === 503 && h.grpc === 'NOT_SERVING';

async function readyGauge(): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric('chio_ready')!.get();
  return Object.fromEntries(metric.values.map((v) => [String(v.labels.component), v.value]));
}

describe('readiness follows NATS', () => {
  it('is ready while NATS and JetStream are usable', async () => {
    expect(await health()).toMatchObject({ authz: 200, ledger: 200, verifier: 200, grpc: 'SERVING' });
    expect(await grpcHealth(chio.grpcAddr, 'envoy.service.auth.v3.Authorization')).toBe('SERVING');
    expect(await readyGauge()).toEqual({ authz: 1, ledger: 1, verifier: 1 });
  });

  it('says not ready, with the reason, while nats-server is down, and ready again soon after it is back', async () => {
    await nats.current.kill();
    const down = await pollUntil(health, noneReady, 10_000);
    for (const reason of down.answer.reasons) expect(reason).toMatch(/NATS|JetStream/);
    expect(await readyGauge()).toEqual({ authz: 0, ledger: 0, verifier: 0 });

    await nats.restart();
    const up = await pollUntil(health, allReady, 15_000);
    console.log(`ready again ${Math.round(up.ms)} ms after nats-server was back (killed: not ready after ${Math.round(down.ms)} ms)`);
    expect(await readyGauge()).toEqual({ authz: 1, ledger: 1, verifier: 1 });
  }, 40_000);

  it('says JetStream does not answer while nats-server holds the connection but is paused', async () => {
    // Every thread stopped (pauseProcess) before the first probe, and let go on by afterEach
    // should this test fail or time out before its own resume.
    await nats.pause();
    let down;
    try {
      down = await pollUntil(health, noneReady, 15_000, 100);
    } finally {
      nats.resume();
    }
    for (const reason of down.answer.reasons) expect(reason).toMatch(/JetStream is not usable|NATS is disconnected/);
    const up = await pollUntil(health, allReady, 15_000);
    console.log(`paused: not ready after ${Math.round(down.ms)} ms; ready ${Math.round(up.ms)} ms after SIGCONT`);
  }, 40_000);
});
