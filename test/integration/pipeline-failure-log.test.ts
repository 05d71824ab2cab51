/**
 * A fault that makes the decision pipeline throw on every Check (here the revocation lookup,
 * standing for any dependency or bug a request shape can reach again and again) does not write
 * one error line per Check: over real gRPC, N such Checks are each denied (Internal), the first
 * failure is logged at once with its error text, the rest are counted in summaries
 * (src/log-throttle.ts), and the counts add up to N once the service stops.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestNats, tempDir, type TestNats } from '../support/nats.js';
import { startTestChio, testConfig, type TestChio } from '../support/chio.js';
import { captureLog } from '../support/log-capture.js';
import { sendCheck } from '../../src/cli/check.js';
import { buildCheckRequest } from '../../src/cli/envoy-request.js';
import { demoToken } from '../../src/up.js';
import { RevocationList } from '../../src/credentials/revocations.js';

const CHECKS = 40;
const FAILED = 'decision pipeline failed; denied (Internal)';

let nats: TestNats;
let chio: TestChio | undefined;
const captured = captureLog('info');

beforeAll(async () => {
  nats = await startTestNats();
  chio = await startTestChio(testConfig(tempDir('chio-pipeline-failure-'), nats.current.url, { CHIO_CHAIN_ID: 'pipeline-failure' }), { log: captured.log });
}, 60_000);

afterAll(async () => {
  vi.restoreAllMocks();
  await chio?.stop();
  await nats?.cleanup();
});

interface Line {
  level: number;
  msg: string;
  err?: string;
  suppressed?: number;
}

const failureLines = (): Line[] => captured.lines.map((l) => JSON.parse(l) as Line).filter((l) => l.msg.startsWith(FAILED));

describe('a decision pipeline that fails on every Check', () => {
  it('is logged once, then counted, not once per Check', async () => {
    const running = chio!;
    const token = demoToken(running.config);
    const lookup = vi.spyOn(RevocationList.prototype, 'isRevoked').mockImplementation(() => {
      throw new Error('revocation lookup broke');
    });
    const request = () => buildCheckRequest({ method: 'POST', path: '/tools/x', host: 'h', headers: { 'x-chio-capability-token': token } });
    for (let i = 0; i < CHECKS; i++) {
      const answer = await sendCheck(running.grpcAddr, request());
      expect(answer.verdict).toBe('deny');
    }
    expect(lookup).toHaveBeenCalledTimes(CHECKS);
    const during = failureLines();
    expect(during[0], 'the first failure, at once, with its text').toMatchObject({ level: 50, msg: FAILED, err: 'Error: revocation lookup broke' });
    // The Checks took well under a few seconds: the first line and at most a summary a second.
    expect(during.length, 'lines while the Checks were denied').toBeLessThanOrEqual(4);
    lookup.mockRestore();
    await running.stop();
    chio = undefined;
    const lines = failureLines();
    for (const l of lines) expect(l.level, 'an error stays an error in its summary').toBe(50);
    const counted = lines.reduce((sum, l) => sum + (l.suppressed ?? 1), 0);
    expect(counted, 'every failure logged or counted, once stopped').toBe(CHECKS);
  }, 60_000);
});
