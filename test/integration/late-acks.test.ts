/**
 * The log tells the truth about every answer (SPEC §5), over real gRPC and a real nats-server:
 * the nats-server child is paused (SIGSTOP) while Checks are in flight, so their PubAcks come
 * after the receipt deadline — within the publisher's ack wait, and past it (unknown outcome,
 * found at the head read). Every Check answered 503 whose receipt was stored has a correction,
 * the next receipt on the chain; no Check answered from its receipt has one; the ledger
 * quarantines nothing; and `chio prove` shows the corrected receipt as corrected.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { startTestNats, tempDir, type TestNats } from '../support/nats.js';
import { startTestChio, testConfig, type TestChio } from '../support/chio.js';
import { buildCheckRequest } from '../../src/cli/envoy-request.js';
import * as grpc from '@grpc/grpc-js';
import { sendCheck, summarise, type CheckAnswer } from '../../src/cli/check.js';
import { loadChioProtos, type AuthorizationClient } from '../../src/authz/proto.js';
import type { CheckResponse } from '../../src/authz/wire.js';
import { formatProven, proveReceipt } from '../../src/cli/prove.js';
import { runChio } from '../support/run-chio.js';
import { demoToken } from '../../src/up.js';
import { DEFAULT_ACK_WAIT_MS } from '../../src/chain/publisher.js';
import { storedReceipts as storedInStream } from '../support/stream-audit.js';
import { QUARANTINE_STREAM } from '../../src/store/resources.js';
import { checkChainLink, verifyReceiptBytes } from '../../src/receipt/verify.js';
import { receiptBytes, type Receipt } from '../../src/receipt/receipt.js';

const TIMEOUT_MS = 150;
const CHAIN = 'late-acks';

let nats: TestNats;
let chio: TestChio;
let dataDir: string;
let token: string;
/** Every answer, by the request id its receipt records. */
const answers = new Map<string, CheckAnswer>();

const keyFile = (name: string) => readFileSync(join(dataDir, 'keys', name), 'utf8').trim();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One Check, its client giving up after `clientTimeoutMs` (sent as grpc-timeout, as Envoy sends its ext_authz timeout). */
async function check(clientTimeoutMs?: number): Promise<CheckAnswer> {
  const request = buildCheckRequest({ method: 'POST', path: '/tools/x', host: 'h', headers: { 'x-chio-capability-token': token } });
  const answer = await sendCheck(chio.grpcAddr, request, clientTimeoutMs);
  answers.set(request.attributes!.request!.http!.id!, answer);
  return answer;
}

/** Pause nats-server for `ms` while `count` Checks are sent; resolves with their answers. */
async function checksWhilePaused(count: number, ms: number, clientTimeoutMs?: number): Promise<CheckAnswer[]> {
  // Every thread of it stopped before the first Check goes: else one sent while it stops may be
  // stored, PubAcked and rightly answered allow (pauseProcess).
  await nats.pause();
  try {
    const sent = Array.from({ length: count }, () => check(clientTimeoutMs));
    await sleep(ms);
    return await Promise.all(sent);
  } finally {
    nats.resume();
  }
}

/**
 * The chain takes Checks at first and again once nats-server is back; but on a loaded machine
 * the first Check may miss the 150 ms deadline (a cold process, or late acks and owed
 * corrections still in flight). Its 503 is recorded in `answers` and held to a correction like
 * any other, so a few are tried over two seconds.
 */
async function allowedSoon(): Promise<CheckAnswer> {
  let after = await check();
  for (let i = 0; i < 20 && after.verdict !== 'allow'; i++) after = (await sleep(100), await check());
  return after;
}

/**
 * Every receipt in the stream, in stream order: every receipt of each message, as the chain
 * writer puts the receipts queued behind a publish into one message (a loaded machine does).
 */
async function storedReceipts(): Promise<Receipt[]> {
  return (await storedInStream(chio.nc)).map((s) => s.receipt);
}

/**
 * The stream's receipts once the ledger's `size` counts them all: a correction owed on another
 * lane may still be stored after a test's last Check (its chain retries after the ack wait), so
 * the count is read again until the two agree or `ms` pass.
 */
async function receiptsOnceCounted(size: () => number, ms: number): Promise<Receipt[]> {
  let receipts = await storedReceipts();
  for (const until = Date.now() + ms; size() !== receipts.length && Date.now() < until; receipts = await storedReceipts()) await sleep(100);
  return receipts;
}

beforeAll(async () => {
  nats = await startTestNats();
  dataDir = tempDir('chio-late-acks-');
  chio = await startTestChio(testConfig(dataDir, nats.current.url, { CHIO_RECEIPT_TIMEOUT_MS: String(TIMEOUT_MS), CHIO_CHAIN_ID: CHAIN }));
  token = demoToken(chio.config);
});

afterAll(async () => {
  await chio?.stop();
  await nats?.cleanup();
});

describe('when PubAcks come after the receipt deadline', () => {
  it('corrects every stored receipt whose Check was answered 503, and only those', async () => {
    expect((await allowedSoon()).verdict).toBe('allow');
    // Acks late but within the ack wait (abandoned, then acked), three times over.
    for (let round = 0; round < 3; round++) {
      const paused = await checksWhilePaused(4, TIMEOUT_MS + 250);
      for (const a of paused) expect(a).toMatchObject({ verdict: 'deny', httpStatus: 503 });
      expect((await allowedSoon()).verdict).toBe('allow');
    }
    // Acks later than the ack wait: the publish times out, the head read finds the receipt.
    await checksWhilePaused(2, TIMEOUT_MS + DEFAULT_ACK_WAIT_MS + 500);
    expect((await allowedSoon()).verdict).toBe('allow');

    const receipts = await storedReceipts();
    // Lanes: several chains, each in stream order. A correction is next on its own chain.
    const chains = new Map<string, Receipt[]>();
    for (const r of receipts) chains.set(r.chain, [...(chains.get(r.chain) ?? []), r]);
    // Each verifies on its own with the kernel key, and no chain has a gap or a reused seq.
    for (const chain of chains.values()) {
      chain.forEach((r, i) => {
        expect(verifyReceiptBytes(receiptBytes(r), [keyFile('kernel.pub')])).toEqual(r);
        checkChainLink(i === 0 ? undefined : chain[i - 1], r);
      });
    }
    const corrections = receipts.filter((r) => r.corrects !== undefined);
    // One in-flight receipt per pause is stored late (4 pauses); allow for a loaded machine.
    expect(corrections.length).toBeGreaterThanOrEqual(3);
    for (const chain of chains.values()) {
      chain.forEach((r, i) => {
        if (r.corrects !== undefined) return;
        const answer = answers.get(r.request.id!)!;
        if (answer.httpStatus === 503) expect(chain[i + 1]?.corrects, `503 for ${r.request.id}`).toBe(r.id);
        else {
          expect(answer.receiptId).toBe(r.id);
          expect(chain[i + 1]?.corrects).toBeUndefined();
        }
      });
    }
  }, 30_000);

  it("is proven corrected by chio prove, and the ledger took every receipt", async () => {
    // The last receipts were stored just now: the ledger integrates them within a batch or two
    // (after nats-server was paused its reader may first wait out one pull, CONSUME_PULL_EXPIRES_MS).
    const receipts = await receiptsOnceCounted(() => chio.ledger.ledger.treeSize, 10_000);
    expect(chio.ledger.ledger.treeSize).toBe(receipts.length);
    const correction = receipts.find((r) => r.corrects !== undefined)!;
    const opts = { verifierUrl: chio.verifierUrl, logKey: keyFile('log.pub'), kernelKeys: [keyFile('kernel.pub')], waitMs: 10_000 };
    const proven = await proveReceipt(correction.corrects!, opts);
    expect(proven.correction?.receipt.id).toBe(correction.id);
    expect(formatProven(proven)).toContain(`stored, but answered deny 503 by ReceiptLedger (corrected by ${correction.id})`);
    expect(formatProven(await proveReceipt(correction.id, opts))).toContain(`a correction of ${correction.corrects}`);
    const jsm = await jetstreamManager(chio.nc);
    expect((await jsm.streams.info(QUARANTINE_STREAM)).state.messages).toBe(0);
  }, 30_000);

  it('exports the log, and chio verify-export checks each real correction against the receipt it corrects', async () => {
    const receipts = await receiptsOnceCounted(() => chio.ledger.ledger.publishedSize, 15_000);
    expect(chio.ledger.ledger.publishedSize).toBe(receipts.length);
    const env = { NATS_URL: nats.current.url, CHIO_DATA_DIR: dataDir, CHIO_KEY_DIR: join(dataDir, 'keys'), CHIO_LOG_LEVEL: 'silent' };
    const out = join(dataDir, 'bundle');
    const exported = await runChio(['export', '--out', out], env);
    expect(exported, exported.stderr).toMatchObject({ exit: 0 });
    const verified = await runChio(['verify-export', out], { CHIO_KEY_DIR: env.CHIO_KEY_DIR, CHIO_DATA_DIR: dataDir });
    expect(verified, verified.stderr).toMatchObject({ exit: 0 });
    const corrections = receipts.filter((r) => r.corrects !== undefined).length;
    expect(verified.stdout).toContain(`OK — ${receipts.length} receipts (${corrections} corrections, each checked against the receipt it corrects)`);
  }, 180_000);
});

describe("when the client's deadline (grpc-timeout) is sooner than the receipt deadline", () => {
  /**
   * A Chio of its own, whose receipt deadline is a minute: nats-server is paused until every
   * Check is answered (or PAUSE_CAP_MS pass), so an answer that comes before it is let go on
   * can only have come from the client's deadline. No window is timed: on a loaded machine an
   * answer may come late, but a Chio that ignored grpc-timeout would answer only once its
   * receipt was stored after the resume (allow), or at the minute.
   */
  const RECEIPT_TIMEOUT_MS = 60_000;
  /** Room for the loop's lag (loop-clock.ts takes off up to 1 s of it) and still a receipt signed. */
  const CLIENT_TIMEOUT_MS = 3_000;
  const PAUSE_CAP_MS = 20_000;
  let ownNats: TestNats;
  let own: TestChio;

  beforeAll(async () => {
    ownNats = await startTestNats();
    const dir = tempDir('chio-late-acks-client-');
    own = await startTestChio(testConfig(dir, ownNats.current.url, { CHIO_RECEIPT_TIMEOUT_MS: String(RECEIPT_TIMEOUT_MS), CHIO_CHAIN_ID: `${CHAIN}-client` }));
  });

  afterEach(() => ownNats?.resume());

  afterAll(async () => {
    await own?.stop();
    await ownNats?.cleanup();
  });

  /**
   * `count` Checks on one connection, as Envoy keeps one, each naming CLIENT_TIMEOUT_MS in
   * grpc-timeout but not held to it here (no client-side deadline): whether it is met is
   * Chio's to show, by the order of events. `events` gets 'answer' as each comes.
   */
  function checksNamingADeadline(client: AuthorizationClient, count: number, events: string[]): Array<Promise<{ id: string; answer: CheckAnswer }>> {
    const ownToken = demoToken(own.config);
    return Array.from({ length: count }, () => {
      const request = buildCheckRequest({ method: 'POST', path: '/tools/x', host: 'h', headers: { 'x-chio-capability-token': ownToken } });
      const metadata = new grpc.Metadata();
      metadata.set('grpc-timeout', `${CLIENT_TIMEOUT_MS}m`);
      return new Promise((resolve, reject) =>
        client.Check(request, metadata, {}, (err: grpc.ServiceError | null, r: CheckResponse) => {
          events.push('answer');
          if (err) reject(err);
          else resolve({ id: request.attributes!.request!.http!.id!, answer: summarise(r) });
        }),
      );
    });
  }

  it('answers deny 503 by ReceiptLedger before nats-server is let go on, and the log corrects any receipt stored', async () => {
    const { authorizationClient } = loadChioProtos();
    const client = new authorizationClient(own.grpcAddr, grpc.credentials.createInsecure());
    const events: string[] = [];
    let sent: Array<Promise<{ id: string; answer: CheckAnswer }>> = [];
    try {
      await new Promise<void>((resolve, reject) => client.waitForReady(Date.now() + 5_000, (err?: Error) => (err ? reject(err) : resolve())));
      // Every thread of nats-server stopped before the first Check goes (pauseProcess).
      await ownNats.pause();
      try {
        sent = checksNamingADeadline(client, 4, events);
        await Promise.race([Promise.allSettled(sent), sleep(PAUSE_CAP_MS)]);
      } finally {
        events.push('resume');
        ownNats.resume();
      }
      const answered = await Promise.all(sent);
      expect(events, 'every answer came while nats-server was paused').toEqual(['answer', 'answer', 'answer', 'answer', 'resume']);
      for (const { answer } of answered) expect(answer).toMatchObject({ verdict: 'deny', httpStatus: 503, headers: expect.objectContaining({ 'x-chio-denial-guard': 'ReceiptLedger' }) });

      // The receipts that were in flight are stored once nats-server goes on: each is followed
      // on its chain by its correction (after a late PubAck, or a head read).
      const ids = new Set(answered.map((a) => a.id));
      const uncorrected = (receipts: Receipt[]) =>
        receipts.filter((r, i) => r.corrects === undefined && ids.has(r.request.id!) && receipts.slice(i + 1).find((n) => n.chain === r.chain)?.corrects !== r.id);
      let receipts = (await storedInStream(own.nc)).map((s) => s.receipt);
      for (const until = Date.now() + 15_000; (uncorrected(receipts).length > 0 || !receipts.some((r) => r.corrects)) && Date.now() < until; ) {
        await sleep(200);
        receipts = (await storedInStream(own.nc)).map((s) => s.receipt);
      }
      expect(receipts.filter((r) => ids.has(r.request.id!)).length, 'receipts of the paused Checks stored after the resume').toBeGreaterThan(0);
      expect(uncorrected(receipts).map((r) => r.request.id), 'stored receipts of Checks answered 503 without a correction').toEqual([]);
    } finally {
      client.close();
    }
  }, 90_000);
});
