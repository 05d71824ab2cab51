/**
 * While nats-server is down, a verifier request that reads NATS is answered 503 at once: a
 * JetStream request sent while the connection is down is dropped by nats.js when it dials again,
 * so waiting on it only waits out its 5 s timeout, holding the client (a load balancer's health
 * check, `chio prove`) and one of the server's connections for a 503 it could have had at once.
 * A request in flight when the connection drops is given up then, for the same reason (its
 * reply was bound for the socket that is gone). Once nats-server is back, the same requests are
 * served again without a restart. The ledger's /metrics, whose stream gauges read NATS, leaves
 * them out at once too, rather than after their probe timeout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNats, tempDir, type TestNats } from '../support/nats.js';
import { nextStatus } from '../support/settling.js';
import { startTestChio, testConfig, type TestChio } from '../support/chio.js';
import { pollUntil } from '../support/health.js';
import { LATEST_REUSE_MS } from '../../src/verifier/checkpoint-source.js';
import { PROBE_TIMEOUT_MS } from '../../src/health/nats-health.js';

/** Far below the NATS client's 5 s request timeout, far above a prompt answer on a loaded machine. */
const PROMPT_MS = 2_000;
/**
 * Every route that reads NATS before it answers, and its answer once NATS is back: the log is
 * empty, so no tile or consistency proof is in it, and no receipt or policy set has these names.
 */
const ANSWERS: Record<string, number> = {
  '/checkpoint': 200,
  [`/v1/receipts/${'ab'.repeat(32)}`]: 404,
  '/v1/consistency?old=1&new=1': 400,
  '/tile/0/000': 404,
  [`/v1/policies/sha256:${'cd'.repeat(32)}`]: 404,
};
const PATHS = Object.keys(ANSWERS);

let nats: TestNats;
let chio: TestChio;

beforeAll(async () => {
  nats = await startTestNats();
  chio = await startTestChio(testConfig(tempDir('chio-http-outage-prompt-'), nats.current.url, { CHIO_CHAIN_ID: 'http-outage-prompt' }));
}, 60_000);

// Each test starts nats-server again after its outage, even when it fails.
afterAll(async () => {
  await chio?.stop();
  await nats?.cleanup();
}, 60_000);

async function timedGet(path: string, base = chio.verifierUrl): Promise<{ path: string; status: number; ms: number; retryAfter: string | null }> {
  const started = performance.now();
  const res = await fetch(`${base}${path}`);
  await res.arrayBuffer();
  return { path, status: res.status, ms: performance.now() - started, retryAfter: res.headers.get('retry-after') };
}

describe('the verifier while nats-server is down', () => {
  it('answers 503 at once, not after the NATS request timeout, and serves again once it is back', async () => {
    await pollUntil(() => timedGet('/checkpoint'), (a) => a.status === 200, 20_000);

    const disconnected = nextStatus(chio.nc, 'disconnect');
    await nats.current.kill();
    const answers: Array<Awaited<ReturnType<typeof timedGet>>> = [];
    let scrape: Awaited<ReturnType<typeof timedGet>> | undefined;
    try {
      await disconnected;
      // The latest checkpoint in hand is reused this long: past it, /checkpoint reads NATS.
      await new Promise((r) => setTimeout(r, LATEST_REUSE_MS + 100));
      for (const path of PATHS) answers.push(await timedGet(path));
      scrape = await timedGet('/metrics', `http://127.0.0.1:${chio.ledger.httpPort}`);
    } finally {
      await nats.restart();
    }
    for (const answer of answers) {
      expect(answer, `${answer.path} while down`).toMatchObject({ status: 503, retryAfter: '1' });
      expect(answer.ms, `${answer.path} answered 503 after ${Math.round(answer.ms)} ms`).toBeLessThan(PROMPT_MS);
    }
    // The ledger's gauges read from NATS are left out of the scrape: at once, not after the probe timeout.
    expect(scrape?.status).toBe(200);
    expect(scrape!.ms, `the ledger's /metrics answered after ${Math.round(scrape!.ms)} ms`).toBeLessThan(PROBE_TIMEOUT_MS / 2);

    for (const path of PATHS) {
      const { answer } = await pollUntil(() => timedGet(path), (a) => a.status !== 503, 30_000, 100);
      expect(answer.status, `${path} after the restart`).toBe(ANSWERS[path]);
    }
  }, 90_000);

  it('gives up a request in flight when the connection drops', async () => {
    await pollUntil(() => timedGet('/checkpoint'), (a) => a.status === 200, 30_000, 100);
    // Paused, nats-server holds the connection open and answers nothing: the request is in flight.
    await nats.pause();
    await new Promise((r) => setTimeout(r, LATEST_REUSE_MS + 100));
    const answer = timedGet('/checkpoint');
    await new Promise((r) => setTimeout(r, 300));
    const disconnected = nextStatus(chio.nc, 'disconnect');
    await nats.current.kill();
    let status: number, afterDrop: number;
    try {
      await disconnected;
      const dropped = performance.now();
      status = (await answer).status;
      afterDrop = performance.now() - dropped;
    } finally {
      await nats.restart();
    }
    expect(status).toBe(503);
    expect(afterDrop, `answered ${Math.round(afterDrop)} ms after the connection dropped`).toBeLessThan(PROMPT_MS);
    await pollUntil(() => timedGet('/checkpoint'), (a) => a.status === 200, 30_000, 100);
  }, 90_000);
});
