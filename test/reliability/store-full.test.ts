/**
 * The JetStream file store fills up (docs/operations.md "Sizing the store"): nothing Chio stores
 * expires, so nats-server's max_file_store is reached one day. Here nats-server runs with a 2 MB
 * file store and Checks flow from several concurrent clients until JetStream refuses to store;
 * then the store is grown the way an operator would (nats-server restarted on the same store
 * directory with a larger max_file_store), with Chio left running.
 *
 *   - once JetStream refuses, every Check is deny / ReceiptLedger / 503 within the receipt
 *     deadline plus a margin (not counting the time this process could not run: loop-stalls.ts),
 *     never an allow, an internal error or a hang;
 *   - while full: authz stays up and answers; the ledger cannot renew its writer lease and steps
 *     down, and its /ready says that the lease cannot be written (not a bare "standby", which
 *     reads as "another ledger writes"); nothing is quarantined, nothing crashes, and the
 *     publisher does not flood the log with receipts "of unknown outcome" (the stream said it
 *     stored nothing), and no warning is logged per Check or per refused message: each kind at
 *     most about once a second, with the count of those left out (src/log-throttle.ts);
 *   - grown: Checks are allowed again within seconds, without a restart of Chio; the ledger is
 *     the writer again; every allow from before and after is proven; on every chain the
 *     receipts link seq 1..n with no seq reused and no gap (checkChainLink); nothing is
 *     quarantined, and a receipt stored for a Check answered 503 carries its correction.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { jetstreamManager } from '@nats-io/jetstream';
import { startTestNats, tempDir, type TestNats } from '../support/nats.js';
import { timedCheckClient, type TimedCheck } from '../support/timed-checks.js';
import { startTestChio, testConfig, type TestChio } from '../support/chio.js';
import { httpReady, pollUntil, type ReadyAnswer } from '../support/health.js';
import { quarantineReasons, storedReceipts, waitIntegrated, type StoredReceipt } from '../support/stream-audit.js';
import type { CheckAnswer } from '../../src/cli/check.js';
import { proveReceipt } from '../../src/cli/prove.js';
import { checkChainLink, type ChainHead } from '../../src/receipt/verify.js';
import { demoToken } from '../../src/up.js';
import { describeRates, logRates, unboundedKinds, type TimedLogLine } from '../support/log-rates.js';
import { answersPastBound, watchLoopStalls, type LoopStalls } from '../support/loop-stalls.js';

const RECEIPT_TIMEOUT_MS = 150;
/**
 * Slack on top of the receipt deadline, besides the time this process's loop was held
 * (loop-stalls.ts): an answer that waits on NATS still goes past it.
 */
const ANSWER_MARGIN_MS = 750;
const CLIENTS = 4;
/** Small enough to fill in seconds (a few hundred receipts), as nats-server counts it. */
const SMALL_STORE = 'jetstream { max_file_store: 2MB }\n';
const LARGE_STORE = 'jetstream { max_file_store: 256MB }\n';
/** How long the store is left full before it is grown. */
const FULL_FOR_MS = 8_000;
/** After the first refusal, a moment for Checks already past their publish to be answered. */
const SETTLE_MS = 1_000;

let nats: TestNats;
let chio: TestChio;
let dataDir: string;
let stalls: LoopStalls;

type LogLine = TimedLogLine;
const logLines: LogLine[] = [];
const log = pino({ level: 'info' }, {
  write(line: string) {
    try {
      logLines.push(JSON.parse(line) as LogLine);
    } catch {
      logLines.push({ time: Date.now(), level: 60, msg: line });
    }
  },
});

type Sent = TimedCheck;

const keyFile = (name: string) => readFileSync(join(dataDir, 'keys', name), 'utf8').trim();
const isAllow = (s: Sent): s is Sent & { answer: CheckAnswer } => 'verdict' in s.answer && s.answer.verdict === 'allow';

beforeAll(async () => {
  nats = await startTestNats({ config: SMALL_STORE });
  dataDir = tempDir('chio-store-full-');
  chio = await startTestChio(testConfig(dataDir, nats.current.url, { CHIO_RECEIPT_TIMEOUT_MS: String(RECEIPT_TIMEOUT_MS), CHIO_CHAIN_ID: 'store-full', CHIO_LANES: '2' }), { log });
  stalls = watchLoopStalls();
});

afterAll(async () => {
  stalls?.stop();
  await chio?.stop();
  await nats?.cleanup();
});

describe('the JetStream file store fills up, then is grown', () => {
  it('fails closed while full, says why on /ready, and recovers by itself once grown', async () => {
    const token = demoToken(chio.config);
    const client = timedCheckClient(chio.grpcAddr, token);
    const check = () => client.check();
    const sent: Sent[] = [];
    let stop = false;
    const clients = Array.from({ length: CLIENTS }, async () => {
      while (!stop) {
        sent.push(await check());
        // A short breath between Checks: what matters is the store filling, not the rate.
        await new Promise((r) => setTimeout(r, 5));
      }
    });
    // Logged by the chain writer for each receipt message the stream refused for want of room.
    const refusals = () => logLines.filter((l) => l.msg.startsWith('receipts not stored') && /insufficient resources/.test(l.err ?? ''));

    // 1. Fill the store: wait for JetStream to refuse a receipt message for want of room.
    const { ms: fillMs } = await pollUntil(async () => refusals().length, (n) => n > 0, 60_000, 100);
    const fullAt = refusals()[0]!.time;
    const allowsBeforeFull = sent.filter(isAllow).length;
    await new Promise((r) => setTimeout(r, FULL_FOR_MS));

    // While full: who says what.
    const [authzReady, ledgerReady, verifierReady] = await Promise.all([httpReady(chio.authz.httpPort), httpReady(chio.ledger.httpPort), httpReady(chio.verifier.httpPort)]);
    const ledgerWhileFull = { role: chio.ledger.ledger.role, treeSize: chio.ledger.ledger.treeSize, publishedSize: chio.ledger.ledger.publishedSize, halted: chio.ledger.ledger.halted };
    const logWhileFull = logLines.filter((l) => l.time >= fullAt);
    const growingAt = Date.now();
    const whileFull = sent.filter((s) => s.sentAt >= fullAt + SETTLE_MS && s.answeredAt < growingAt);
    // How much the services logged while full: per second, by kind, and per denied Check.
    const fullRates = logRates(logLines, fullAt, growingAt);
    const deniedWhileFull = sent.filter((s) => s.answeredAt >= fullAt && s.answeredAt < growingAt && !isAllow(s)).length;
    console.log(`store-full: while full, ${deniedWhileFull} Checks denied, ${(fullRates.warnings / Math.max(1, deniedWhileFull)).toFixed(2)} warning lines per denied Check; ${describeRates(fullRates)}`);

    // 2. Grow the store, as an operator would: nats-server restarted on the same store directory.
    await nats.current.stop();
    await nats.restart({ config: LARGE_STORE });
    const restartedAt = Date.now();
    // Both from the restart: polled one after the other, the ledger's time counted from the first allow.
    const ledgerBack = pollUntil(() => httpReady(chio.ledger.httpPort), (r: ReadyAnswer) => r.status === 200, 30_000, 100);
    const { answer: recoveredAt } = await pollUntil(async () => sent.find((s) => s.sentAt > restartedAt && isAllow(s))?.answeredAt, (t) => t !== undefined, 30_000, 50);
    const { ms: ledgerBackMs } = await ledgerBack;
    await new Promise((r) => setTimeout(r, 2_000));
    stop = true;
    await Promise.all(clients);
    client.close();

    // --- Fail closed while full.
    expect(sent.filter((s) => 'error' in s.answer), 'every Check is answered (no gRPC error, no hang)').toEqual([]);
    const answers = sent.map((s) => ({ ...s, a: s.answer as CheckAnswer }));
    for (const s of answers.filter((s) => s.a.verdict === 'deny')) {
      expect(s.a, s.requestId).toMatchObject({ httpStatus: 503, grpcCode: 7 });
      expect(s.a.headers['x-chio-denial-guard'], s.requestId).toBe('ReceiptLedger');
    }
    expect(whileFull.length, 'Checks sent while the store was full').toBeGreaterThan(50);
    for (const s of whileFull as Array<Sent & { answer: CheckAnswer }>) expect(s.answer.verdict, `no allow while full (${s.requestId})`).toBe('deny');
    const fullTimes = answersPastBound(whileFull, RECEIPT_TIMEOUT_MS + ANSWER_MARGIN_MS, stalls);
    expect(fullTimes.late, 'answered within the receipt deadline, but for the time the loop was held').toEqual([]);

    // --- What the services said and did while full.
    expect(authzReady.status, 'authz is up while full').toBe(200);
    expect(verifierReady.status, 'the verifier is up while full').toBe(200);
    expect(ledgerWhileFull.role, 'the ledger cannot renew its lease: it steps down').toBe('standby');
    expect(ledgerWhileFull.halted).toBeUndefined();
    expect(ledgerReady.status, 'the ledger is not ready while it cannot write').toBe(503);
    expect(ledgerReady.body.reason, 'the ledger says why it is not the writer').toMatch(/insufficient resources/);
    const errorsWhileFull = logWhileFull.filter((l) => l.level >= 50);
    // The stream said it stored nothing: the chain writer knows the outcome, and has nothing to
    // look for later. Taken as unknown, the refusals filled its list of unsure messages (1,024)
    // within seconds, and then every message logged an error that it might go uncorrected.
    expect(logWhileFull.filter((l) => /unknown outcome/.test(l.msg)).length, 'lines about receipts of unknown outcome').toBe(0);
    expect(refusals().filter((l) => l.msg !== 'receipts not stored: the stream refused them for want of room').length, 'refusals taken for unknown outcomes').toBe(0);
    expect(errorsWhileFull.length, `error lines while full: ${[...new Set(errorsWhileFull.map((l) => l.msg))].join(' | ')}`).toBeLessThan(100);
    // Hundreds of Checks a second are denied while full: a warning line for each (and one for
    // each refused message) was a flood of ~550 lines a second. Each kind, about once a second.
    expect(unboundedKinds(fullRates), `warning kinds logged more than about once a second while full (${describeRates(fullRates)})`).toEqual([]);
    const summaries = logWhileFull.filter((l) => / … and \d+ more in the last [\d.]+ s$/.test(l.msg));
    expect(summaries.length, 'the warnings left out are counted').toBeGreaterThan(0);

    // --- Recovery without a restart of Chio.
    expect(recoveredAt! - restartedAt, 'allowed again within 10 s of the store growing').toBeLessThan(10_000);
    expect(chio.ledger.ledger.role, 'the ledger is the writer again').toBe('writer');
    for (const port of [chio.authz.httpPort, chio.ledger.httpPort, chio.verifier.httpPort]) expect((await httpReady(port)).status).toBe(200);

    // Every allow, from before the store filled and after it grew, is proven.
    await waitIntegrated(chio.nc, 60_000);
    const logKey = keyFile('log.pub');
    const kernelKeys = [keyFile('kernel.pub')];
    const allows = answers.filter((s) => s.a.verdict === 'allow');
    for (let i = 0; i < allows.length; i += 16) {
      await Promise.all(allows.slice(i, i + 16).map(async (s) => {
        const proven = await proveReceipt(s.a.receiptId!, { verifierUrl: chio.verifierUrl, logKey, kernelKeys, waitMs: 20_000 });
        expect(proven.receipt.request.id).toBe(s.requestId);
      }));
    }

    // No chain reuses a seq or skips one; nothing is quarantined; stored-but-503 receipts are corrected.
    const stored: StoredReceipt[] = await storedReceipts(chio.nc);
    const heads = new Map<string, ChainHead>();
    for (const { receipt } of stored) {
      expect(() => checkChainLink(heads.get(receipt.chain), receipt), `chain ${receipt.chain} seq ${receipt.seq}`).not.toThrow();
      heads.set(receipt.chain, { seq: receipt.seq, id: receipt.id });
    }
    const jsm = await jetstreamManager(chio.nc);
    expect(await quarantineReasons(jsm), 'the ledger quarantined nothing').toEqual([]);
    const receipts = stored.map((s) => s.receipt);
    const corrected = new Set(receipts.flatMap((r) => (r.corrects !== undefined ? [r.corrects] : [])));
    const byRequest = new Map(receipts.filter((r) => r.corrects === undefined).map((r) => [r.request.id, r]));
    let correctedCount = 0;
    const denies = answers.filter((s) => s.a.verdict === 'deny');
    for (const s of denies) {
      const r = byRequest.get(s.requestId);
      if (!r) continue;
      expect(corrected.has(r.id), `receipt ${r.id} says allow but ${s.requestId} was answered 503`).toBe(true);
      correctedCount++;
    }

    console.log(
      `store-full: filled in ${Math.round(fillMs)} ms after ${allowsBeforeFull} allows; full for ${growingAt - fullAt} ms: ${whileFull.length} Checks all denied 503 ReceiptLedger ` +
        `(slowest ${fullTimes.slowestMs} ms; at most ${fullTimes.slowestOwnMs} ms less loop holds, longest hold ${stalls.longestMs()} ms); ledger ${ledgerWhileFull.role} at tree ${ledgerWhileFull.treeSize}, checkpoint ${ledgerWhileFull.publishedSize}, ` +
        `/ready ledger "${ledgerReady.body.reason}"; ${logWhileFull.length} log lines while full (${errorsWhileFull.length} errors); ` +
        `grown: allowed again ${recoveredAt! - restartedAt} ms after restart, ledger ready ${Math.round(ledgerBackMs)} ms after restart; ` +
        `${sent.length} Checks, ${allows.length} allows (all proven), ${denies.length} denied 503, ${correctedCount} stored-but-503 corrected; ` +
        `${stored.length} receipts on ${heads.size} chains (${[...heads].map(([c, h]) => `${c}: 1..${h.seq}`).join(', ')}), 0 quarantined`,
    );
  }, 240_000);
});
