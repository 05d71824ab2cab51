/**
 * A Check carrying a W3C traceparent (as Envoy forwards it) leaves a receipt whose request holds
 * it, signed, stored and provable like any other member.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestNats, tempDir, type TestNats } from '../support/nats.js';
import { startTestChio, testConfig, type TestChio } from '../support/chio.js';
import { buildCheckRequest } from '../../src/cli/envoy-request.js';
import { sendCheck } from '../../src/cli/check.js';
import { proveReceipt } from '../../src/cli/prove.js';
import { demoToken } from '../../src/up.js';

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

let nats: TestNats;
let chio: TestChio;
let dataDir: string;

beforeAll(async () => {
  nats = await startTestNats();
  dataDir = tempDir('chio-trace-');
  chio = await startTestChio(testConfig(dataDir, nats.current.url, { CHIO_CHAIN_ID: 'trace', CHIO_LANES: '1' }));
});

afterAll(async () => {
  await chio?.stop();
  await nats?.cleanup();
});

it('records the traceparent in the proven receipt, and leaves out one that is not valid', async () => {
  const keyFile = (name: string) => readFileSync(join(dataDir, 'keys', name), 'utf8').trim();
  const check = (traceparent: string) =>
    sendCheck(chio.grpcAddr, buildCheckRequest({ method: 'POST', path: '/tools/t', host: 'h', headers: { 'x-chio-capability-token': demoToken(chio.config), traceparent } }));
  const prove = (id: string) => proveReceipt(id, { verifierUrl: chio.verifierUrl, logKey: keyFile('log.pub'), kernelKeys: [keyFile('kernel.pub')], waitMs: 10_000 });

  const traced = await check(TRACEPARENT);
  expect(traced.verdict).toBe('allow');
  expect((await prove(traced.receiptId!)).receipt.request.traceparent).toBe(TRACEPARENT);

  const untraced = await check(`${TRACEPARENT}-and-more`);
  expect((await prove(untraced.receiptId!)).receipt.request).not.toHaveProperty('traceparent');
}, 30_000);
