/**
 * A silent partition: nats-server paused (SIGSTOP), so the TCP connection stays open and nothing
 * answers, as when packets are dropped or a server host vanishes without a reset. The client sees
 * it only at its ping check (nats/connection.ts NATS_PING_INTERVAL_MS, NATS_MAX_PINGS_OUT).
 *
 * - The services' connection notices while the server is still silent: with nats.js's defaults
 *   (PING every 2 min, 2 unanswered) that took 358 s here, and this test ran out of time first.
 * - authz answers every Check meanwhile, before, at and after that moment, with deny /
 *   ReceiptLedger / 503: never an allow, and never left to its client's deadline. The client
 *   gives each Check twice the receipt deadline, so an answer proves authz kept its own.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestNats, tempDir, type TestNats } from '../support/nats.js';
import { startTestChio, testConfig, type TestChio } from '../support/chio.js';
import { nextStatus } from '../support/settling.js';
import { buildCheckRequest } from '../../src/cli/envoy-request.js';
import { sendCheck, type CheckAnswer } from '../../src/cli/check.js';
import { demoToken } from '../../src/up.js';

const RECEIPT_TIMEOUT_MS = 1000;

let nats: TestNats;
let chio: TestChio;
let token: string;

async function check(): Promise<CheckAnswer> {
  const request = buildCheckRequest({ method: 'POST', path: '/tools/x', host: 'h', headers: { 'x-chio-capability-token': token } });
  return sendCheck(chio.grpcAddr, request, 2 * RECEIPT_TIMEOUT_MS);
}

const denied503 = { verdict: 'deny', httpStatus: 503, headers: expect.objectContaining({ 'x-chio-denial-guard': 'ReceiptLedger' }) };

beforeAll(async () => {
  nats = await startTestNats();
  chio = await startTestChio(testConfig(tempDir('chio-silent-partition-'), nats.current.url, { CHIO_CHAIN_ID: 'silent-partition', CHIO_RECEIPT_TIMEOUT_MS: String(RECEIPT_TIMEOUT_MS) }));
  token = demoToken(chio.config);
}, 60_000);

afterEach(() => nats.resume());

afterAll(async () => {
  await chio?.stop();
  await nats?.cleanup();
}, 60_000);

describe('a silent partition from nats-server', () => {
  it('is noticed at the ping check while it lasts, and every Check meanwhile is denied ReceiptLedger within its deadline', async () => {
    expect((await check()).verdict).toBe('allow');
    await nats.pause();
    const stale = nextStatus(chio.nc, 'staleConnection');
    let noticed = false;
    void stale.then(() => (noticed = true));
    const beforeNoticed: CheckAnswer[] = [];
    while (!noticed) beforeNoticed.push(await check());
    // Dropped and dialled again: the paused server takes the TCP connection and answers nothing.
    const afterNoticed = [await check(), await check()];
    const reconnected = nextStatus(chio.nc, 'reconnect');
    nats.resume();

    expect(beforeNoticed.length).toBeGreaterThan(0);
    for (const answer of [...beforeNoticed, ...afterNoticed]) expect(answer).toMatchObject(denied503);
    await reconnected;
    let after = await check();
    for (let i = 0; i < 20 && after.verdict !== 'allow'; i++) after = (await new Promise((r) => setTimeout(r, 100)), await check());
    expect(after.verdict, 'once the server answers again').toBe('allow');
  }, 60_000);
});
