/**
 * The metrics each service serves on /metrics move with what happens: Checks by verdict and
 * guard, receipt store latency, the capability cache, verifier requests by route, and the
 * ledger's lag, checkpoint age, quarantine and stream sizes (SPEC §1; docs/configuration.md#metrics).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNats, tempDir, type TestNats } from '../support/nats.js';
import { startTestChio, testConfig, type TestChio } from '../support/chio.js';
import { scrape, sample } from '../support/metrics.js';
import { pollUntil } from '../support/health.js';
import { buildCheckRequest } from '../../src/cli/envoy-request.js';
import { sendCheck } from '../../src/cli/check.js';
import { demoToken } from '../../src/up.js';
import { jetstream } from '@nats-io/jetstream';
import { appendReceipts } from '../../src/store/receipts.js';
import { CHIO_STREAMS } from '../../src/store/resources.js';

const ORIGIN = { origin: 'chio.local/receipts' };

let nats: TestNats;
let chio: TestChio;
let token: string;

const allow = () => sendCheck(chio.grpcAddr, buildCheckRequest({ method: 'POST', path: '/tools/m', host: 'h', headers: { 'x-chio-capability-token': token } }));
const deny = () => sendCheck(chio.grpcAddr, buildCheckRequest({ method: 'POST', path: '/tools/m', host: 'h' }));

beforeAll(async () => {
  nats = await startTestNats();
  chio = await startTestChio(testConfig(tempDir('chio-metrics-'), nats.current.url, { CHIO_CHAIN_ID: 'metrics', CHIO_LANES: '1' }));
  token = demoToken(chio.config);
});

afterAll(async () => {
  await chio?.stop();
  await nats?.cleanup();
});

describe('authz metrics', () => {
  it('count decisions by verdict and guard, time the Check and the receipt store, and count cache hits', async () => {
    const before = await scrape(chio.authz.httpPort);
    expect((await allow()).verdict).toBe('allow');
    expect((await allow()).verdict).toBe('allow');
    expect((await deny()).verdict).toBe('deny');
    const after = await scrape(chio.authz.httpPort);
    const delta = (name: string, labels: Record<string, string> = {}) => sample(after, name, labels) - sample(before, name, labels);
    expect(delta('chio_decisions_total', { verdict: 'allow', guard: '' })).toBe(2);
    expect(delta('chio_decisions_total', { verdict: 'deny', guard: 'Policy' })).toBe(1);
    expect(delta('chio_check_duration_seconds_count')).toBe(3);
    expect(delta('chio_receipt_store_duration_seconds_count')).toBe(3);
    expect(delta('chio_receipts_stored_total')).toBe(3);
    // The same token twice: verified once, then found in the cache.
    expect(delta('chio_cache_lookups_total', { cache: 'capability', result: 'miss' })).toBe(1);
    expect(delta('chio_cache_lookups_total', { cache: 'capability', result: 'hit' })).toBe(1);
    expect(sample(after, 'chio_ready', { component: 'authz' })).toBe(1);
  });
});

describe('verifier metrics', () => {
  it('time requests by route, never by path', async () => {
    const a = await allow();
    const before = await scrape(chio.verifier.httpPort);
    await fetch(`${chio.verifierUrl}/v1/receipts/${a.receiptId}`);
    await fetch(`${chio.verifierUrl}/checkpoint`);
    await fetch(`${chio.verifierUrl}/no/such/thing`);
    const after = await scrape(chio.verifier.httpPort);
    const delta = (route: string) => sample(after, 'chio_verifier_request_duration_seconds_count', { route }) - sample(before, 'chio_verifier_request_duration_seconds_count', { route });
    expect([delta('receipt'), delta('checkpoint'), delta('other')]).toEqual([1, 1, 1]);
    expect(after).not.toContain(a.receiptId);
  });
});

describe('ledger metrics', () => {
  it('show the ledger caught up with a fresh checkpoint, then lagging and the checkpoint ageing while it is stopped', async () => {
    await allow();
    const caughtUp = await pollUntil(() => scrape(chio.ledger.httpPort), (t) => sample(t, 'chio_ledger_lag_messages', ORIGIN) === 0 && sample(t, 'chio_tree_size') === sample(t, 'chio_published_tree_size') && sample(t, 'chio_tree_size') > 0, 10_000);
    expect(sample(caughtUp.answer, 'chio_checkpoint_age_seconds', ORIGIN)).toBeLessThan(5);
    expect(caughtUp.answer).toContain('chio_quarantine_receipts{origin="chio.local/receipts"} 0');
    expect(sample(caughtUp.answer, 'chio_ledger_batch_duration_seconds_count')).toBeGreaterThan(0);

    // Bytes that are no receipt, stored as one: the ledger quarantines them, and the gauge shows it.
    await appendReceipts(jetstream(chio.nc), 'forged', [{ id: 'f'.repeat(64), bytes: new TextEncoder().encode('not a receipt') }], 0, 2_000);
    await pollUntil(() => scrape(chio.ledger.httpPort), (t) => sample(t, 'chio_quarantine_receipts', ORIGIN) === 1, 10_000);

    // What each stream holds, for sizing the file store: the receipts stream grows by each receipt.
    const streamBytes = (t: string, stream: string) => sample(t, 'chio_jetstream_stream_bytes', { ...ORIGIN, stream });
    const before = await scrape(chio.ledger.httpPort);
    expect(before.split('\n').filter((l) => l.startsWith('chio_jetstream_stream_bytes{')).length).toBe(CHIO_STREAMS.length);
    expect(streamBytes(before, 'OBJ_chio-entries')).toBeGreaterThan(0);

    await chio.ledger.ledger.stop();
    for (let i = 0; i < 3; i++) expect((await allow()).verdict).toBe('allow');
    expect(streamBytes(await scrape(chio.ledger.httpPort), 'CHIO_RECEIPTS')).toBeGreaterThan(streamBytes(before, 'CHIO_RECEIPTS'));
    // The stream's last sequence is probed every second: wait for it to show.
    const behind = await pollUntil(() => scrape(chio.ledger.httpPort), (t) => sample(t, 'chio_ledger_lag_messages', ORIGIN) === 3, 10_000);
    const age = sample(behind.answer, 'chio_checkpoint_age_seconds', ORIGIN);
    await new Promise((r) => setTimeout(r, 1_100));
    expect(sample(await scrape(chio.ledger.httpPort), 'chio_checkpoint_age_seconds', ORIGIN)).toBeGreaterThan(age + 1);
  }, 30_000);
});
