/**
 * NATS dies under load (issue #12, SPEC §2): Checks flow from several concurrent clients while
 * nats-server is SIGKILLed and restarted 3 s later.
 *
 *   - during the outage every answer that is not an allow (stored before the kill) is deny /
 *     ReceiptLedger / 503, answered within the receipt deadline plus a margin (not counting
 *     the time this process could not run: loop-stalls.ts);
 *   - Chio recovers by itself: an allow again within 5 s of the restart;
 *   - afterwards every receipt id answered with allow is proven against the log;
 *   - no receipt in the stream says allow for a Check that was answered 503 unless a
 *     correction names it (SPEC §5).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { startTestNats, tempDir, type TestNats } from '../support/nats.js';
import { timedCheckClient, type TimedCheck } from '../support/timed-checks.js';
import { startTestChio, testConfig, type TestChio } from '../support/chio.js';
import type { CheckAnswer } from '../../src/cli/check.js';
import { proveReceipt } from '../../src/cli/prove.js';
import { demoToken } from '../../src/up.js';
import { storedReceipts } from '../support/stream-audit.js';
import { describeRates, logRates, unboundedKinds, type TimedLogLine } from '../support/log-rates.js';
import { answersPastBound, watchLoopStalls, type LoopStalls } from '../support/loop-stalls.js';

const RECEIPT_TIMEOUT_MS = 150;
/**
 * Slack on top of the receipt deadline, besides the time this process's loop was held
 * (loop-stalls.ts): an answer that waits on NATS (its client's 5 s request timeout) still
 * goes past it.
 */
const ANSWER_MARGIN_MS = 750;
const CLIENTS = 8;

let nats: TestNats;
let chio: TestChio;
let dataDir: string;
let stalls: LoopStalls;

type Sent = TimedCheck;

/**
 * What the services logged at info and above, but the per-Check denials: the last lines are
 * printed when a proof is not ready in time, so a failure on a loaded machine says where the
 * ledger was (writer or not, integrated and published sizes) and what it went through.
 */
const logLines: string[] = [];
const LOG_LINES_KEPT = 400;
/** Every line, parsed: how much was logged during the outage. */
const timedLines: TimedLogLine[] = [];
const log = pino({ level: 'info' }, {
  write(line: string) {
    try {
      timedLines.push(JSON.parse(line) as TimedLogLine);
    } catch {
      timedLines.push({ time: Date.now(), level: 60, msg: line });
    }
    if (line.includes('denied (ReceiptLedger)')) return;
    logLines.push(line.trimEnd());
    if (logLines.length > LOG_LINES_KEPT) logLines.shift();
  },
});

const keyFile = (name: string) => readFileSync(join(dataDir, 'keys', name), 'utf8').trim();

beforeAll(async () => {
  nats = await startTestNats();
  dataDir = tempDir('chio-nats-dies-');
  chio = await startTestChio(testConfig(dataDir, nats.current.url, { CHIO_RECEIPT_TIMEOUT_MS: String(RECEIPT_TIMEOUT_MS), CHIO_CHAIN_ID: 'nats-dies', CHIO_LANES: '4' }), { log });
  stalls = watchLoopStalls();
});

afterAll(async () => {
  stalls?.stop();
  await chio?.stop();
  await nats?.cleanup();
});

describe('NATS SIGKILLed under load and restarted 3 s later', () => {
  it('fails closed during the outage, recovers by itself, and leaves a log that matches every answer', async () => {
    const token = demoToken(chio.config);
    const client = timedCheckClient(chio.grpcAddr, token);
    const check = () => client.check();

    const sent: Sent[] = [];
    let stop = false;
    const clients = Array.from({ length: CLIENTS }, async () => {
      while (!stop) sent.push(await check());
    });
    await new Promise((r) => setTimeout(r, 1_500));
    const killedAt = Date.now();
    await nats.current.kill();
    await new Promise((r) => setTimeout(r, 3_000));
    const restartedAt = Date.now();
    await nats.restart();
    let recoveredAt: number | undefined;
    for (const deadline = Date.now() + 10_000; Date.now() < deadline && recoveredAt === undefined; ) {
      await new Promise((r) => setTimeout(r, 50));
      recoveredAt = sent.find((s) => s.sentAt > restartedAt && 'verdict' in s.answer && s.answer.verdict === 'allow')?.answeredAt;
    }
    await new Promise((r) => setTimeout(r, 1_500));
    stop = true;
    await Promise.all(clients);
    client.close();

    const answers = sent.map((s) => ({ ...s, a: s.answer as CheckAnswer }));
    expect(sent.filter((s) => 'error' in s.answer), 'every Check is answered (no gRPC error)').toEqual([]);
    const allows = answers.filter((s) => s.a.verdict === 'allow');
    const denies = answers.filter((s) => s.a.verdict === 'deny');
    const during = answers.filter((s) => s.sentAt >= killedAt && s.sentAt < restartedAt);
    // How much the services logged while NATS was down: per second, by kind, and per denied Check.
    const outageRates = logRates(timedLines, killedAt, restartedAt);
    const deniedDuring = answers.filter((s) => s.answeredAt >= killedAt && s.answeredAt < restartedAt && s.a.verdict === 'deny').length;
    console.log(`nats-dies: while NATS was down, ${deniedDuring} Checks denied, ${(outageRates.warnings / Math.max(1, deniedDuring)).toFixed(2)} warning lines per denied Check; ${describeRates(outageRates)}`);
    // Fail closed: a valid token is only ever denied because its receipt was not stored.
    for (const s of denies) {
      expect(s.a, s.requestId).toMatchObject({ httpStatus: 503, grpcCode: 7 });
      expect(s.a.headers['x-chio-denial-guard']).toBe('ReceiptLedger');
    }
    expect(during.length).toBeGreaterThan(10);
    // Allows during the outage were stored before the kill: proven below.
    const deniedTimes = answersPastBound(during.filter((s) => s.a.verdict !== 'allow'), RECEIPT_TIMEOUT_MS + ANSWER_MARGIN_MS, stalls);
    expect(deniedTimes.late, 'answered within the receipt deadline, but for the time the loop was held').toEqual([]);
    expect(during.filter((s) => s.a.verdict === 'deny').length).toBeGreaterThan(during.length / 2);
    // No warning per denied Check or per failed publish: each kind about once a second at most.
    expect(unboundedKinds(outageRates), `warning kinds logged more than about once a second while NATS was down (${describeRates(outageRates)})`).toEqual([]);
    expect(recoveredAt, 'an allow after the restart').toBeDefined();
    expect(recoveredAt! - restartedAt, 'recovered within 5 s').toBeLessThan(5_000);

    // Every allow is proven.
    const logKey = keyFile('log.pub');
    const kernelKeys = [keyFile('kernel.pub')];
    for (const s of allows) {
      const proven = await proveReceipt(s.a.receiptId!, { verifierUrl: chio.verifierUrl, logKey, kernelKeys, waitMs: 15_000 }).catch((err: unknown) => {
        const { ledger } = chio.ledger;
        const where = { role: ledger.role, treeSize: ledger.treeSize, publishedSize: ledger.publishedSize, integratedStreamSeq: ledger.integratedStreamSeq };
        console.error(`nats-dies: ${String(err)}\nledger: ${JSON.stringify(where)}\nlast log lines:\n${logLines.join('\n')}`);
        throw err;
      });
      expect(proven.receipt.request.id).toBe(s.requestId);
    }

    // The log never contradicts an answer: an allow receipt for a 503 answer carries its correction.
    const receipts = (await storedReceipts(chio.nc)).map((s) => s.receipt);
    const corrected = new Set(receipts.flatMap((r) => (r.corrects !== undefined ? [r.corrects] : [])));
    const byRequest = new Map(receipts.filter((r) => r.corrects === undefined).map((r) => [r.request.id, r]));
    let correctedCount = 0;
    for (const s of denies) {
      const r = byRequest.get(s.requestId);
      if (!r) continue;
      expect(corrected.has(r.id), `receipt ${r.id} says allow but ${s.requestId} was answered 503`).toBe(true);
      correctedCount++;
    }
    for (const s of allows) expect(corrected.has(s.a.receiptId!), `${s.a.receiptId} was answered from, yet corrected`).toBe(false);
    console.log(`nats-dies: ${sent.length} Checks, ${allows.length} allows (all proven), ${denies.length} denied 503 (${during.length} sent during the outage), ${correctedCount} stored-but-503 receipts corrected, recovered ${recoveredAt! - restartedAt} ms after restart; ` +
      `slowest denial during the outage ${deniedTimes.slowestMs} ms (at most ${deniedTimes.slowestOwnMs} ms less loop holds; longest hold ${stalls.longestMs()} ms)`);
  }, 90_000);
});
