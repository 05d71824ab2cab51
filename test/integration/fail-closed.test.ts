/**
 * Fail closed (SPEC §2): when the receipt cannot be stored — NATS killed mid-run — every Check
 * is a deny by guard ReceiptLedger with HTTP 503, answered within the receipt deadline plus a
 * little, never an allow. When NATS comes back, the chain continues without reusing a seq and
 * the ledger keeps integrating.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestNats, tempDir, type TestNats } from '../support/nats.js';
import { startTestChio, testConfig, type TestChio } from '../support/chio.js';
import { buildCheckRequest } from '../../src/cli/envoy-request.js';
import { sendCheck } from '../../src/cli/check.js';
import { proveReceipt } from '../../src/cli/prove.js';
import { demoToken } from '../../src/up.js';

let nats: TestNats;
let chio: TestChio;
let dataDir: string;
let token: string;

const keyFile = (name: string) => readFileSync(join(dataDir, 'keys', name), 'utf8').trim();
const allowRequest = () => buildCheckRequest({ method: 'POST', path: '/tools/x', host: 'h', headers: { 'x-chio-capability-token': token } });

beforeAll(async () => {
  nats = await startTestNats();
  dataDir = tempDir('chio-failclosed-');
  // One lane: this suite follows one chain across the outage (lanes are tested elsewhere).
  chio = await startTestChio(testConfig(dataDir, nats.current.url, { CHIO_RECEIPT_TIMEOUT_MS: '150', CHIO_CHAIN_ID: 'fail-closed', CHIO_LANES: '1' }));
  token = demoToken(chio.config);
});

afterAll(async () => {
  await chio?.stop();
  await nats?.cleanup();
});

describe('when NATS is gone', () => {
  it('denies 503 ReceiptLedger instead of allowing', async () => {
    // The first Checks of a cold process on a loaded machine may miss the 150 ms deadline.
    let ok = await sendCheck(chio.grpcAddr, allowRequest());
    for (let i = 0; i < 20 && ok.verdict !== 'allow'; i++) ok = (await new Promise((r) => setTimeout(r, 100)), await sendCheck(chio.grpcAddr, allowRequest()));
    expect(ok.verdict).toBe('allow');
    await nats.current.kill();
    const answers = await Promise.all(Array.from({ length: 5 }, () => sendCheck(chio.grpcAddr, allowRequest())));
    for (const a of answers) {
      expect(a).toMatchObject({ verdict: 'deny', grpcCode: 7, httpStatus: 503 });
      expect(a.headers['x-chio-denial-guard']).toBe('ReceiptLedger');
      expect(a.receiptId).toBeUndefined();
    }
  });

  it('continues the chain without reusing a seq when NATS is back', async () => {
    await nats.restart();
    let a = await sendCheck(chio.grpcAddr, allowRequest());
    // The client reconnects in the background; the first Checks may still deny.
    for (let i = 0; i < 50 && a.verdict !== 'allow'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      a = await sendCheck(chio.grpcAddr, allowRequest());
    }
    expect(a.verdict).toBe('allow');
    const proven = await proveReceipt(a.receiptId!, { verifierUrl: chio.verifierUrl, logKey: keyFile('log.pub'), kernelKeys: [keyFile('kernel.pub')], waitMs: 10_000 });
    expect(proven.receipt.chain).toBe('fail-closed');
    expect(proven.receipt.seq).toBeGreaterThan(1);
    expect(chio.ledger.ledger.treeSize).toBe(proven.receipt.seq);
  }, 30_000);
});
