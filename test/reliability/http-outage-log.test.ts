/**
 * While NATS is away every verifier request that needs it is answered 503, and its warning
 * (`NATS unavailable; answered 503`) came once per request: anyone who can reach the verifier
 * (its API and explorer are meant to be public) chose how fast the log grew for as long as the
 * outage lasted. It is throttled as the per-Check warnings are (src/log-throttle.ts): logged at
 * once, then counted, and the count said in a summary line, so no request goes uncounted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNats, tempDir, type TestNats } from '../support/nats.js';
import { startTestChio, testConfig, type TestChio } from '../support/chio.js';
import { captureLog } from '../support/log-capture.js';
import { LOG_THROTTLE_WINDOW_MS } from '../../src/log-throttle.js';

const MESSAGE = 'NATS unavailable; answered 503';
const REQUESTS = 60;

let nats: TestNats;
let chio: TestChio;
const captured = captureLog('info');
const lines = (): Array<{ msg: string; suppressed?: number }> => captured.lines.map((l) => JSON.parse(l) as { msg: string; suppressed?: number });

beforeAll(async () => {
  nats = await startTestNats();
  chio = await startTestChio(testConfig(tempDir('chio-http-outage-'), nats.current.url, { CHIO_CHAIN_ID: 'http-outage' }), { log: captured.log });
}, 60_000);

afterAll(async () => {
  await nats?.restart();
  await chio?.stop();
  await nats?.cleanup();
}, 60_000);

describe('the verifier while NATS is away', () => {
  it('logs its 503s at most about once a second, and counts every one', async () => {
    await nats.current.kill();
    const statuses = await Promise.all(Array.from({ length: REQUESTS }, () => fetch(`${chio.verifierUrl}/checkpoint`).then(async (r) => (await r.arrayBuffer(), r.status))));
    expect(statuses, 'every request answered 503').toEqual(Array(REQUESTS).fill(503));
    const now = lines().filter((l) => l.msg.startsWith(MESSAGE));
    expect(now.length, `${now.length} "${MESSAGE}" lines for ${REQUESTS} requests answered within moments`).toBeLessThanOrEqual(3);
    // The summary comes at the end of the window: every 503 is in a line or in a count.
    await new Promise((r) => setTimeout(r, LOG_THROTTLE_WINDOW_MS + 500));
    const said = lines().filter((l) => l.msg.startsWith(MESSAGE));
    expect(said.reduce((n, l) => n + (l.suppressed ?? 1), 0)).toBe(REQUESTS);
  }, 30_000);
});
