import { describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { DEFAULT_ACK_WAIT_MS } from '../../../src/chain/publisher.js';
import { MAX_BATCH_BYTES } from '../../../src/chain/sign-next.js';
import { MAX_RECEIPTS_PER_MESSAGE } from '../../../src/store/receipts.js';
import { GENESIS_PREV, MAX_RECEIPT_BYTES, receiptBytes, type Receipt } from '../../../src/receipt/receipt.js';
import { PLAIN_SEAL_BYTES, SEAL_MAX_BYTES, prepareBody } from '../../../src/receipt/sign.js';
import { verifyReceiptBytes } from '../../../src/receipt/verify.js';
import { RECEIPTS_STREAM, receiptSubject } from '../../../src/store/resources.js';
import { expectRejectCode } from '../../support/errors.js';
import { bodyOf, draftOf, kernelOf, signReceipt } from '../receipt/helpers.js';
import { FakeJetStream } from './fake-jetstream.js';
import { CHAIN, KERNEL, SUBJECT, publisherOn, soon, storedChain, storedMessages, storeOf } from './chain-fixture.js';

/**
 * On a fake clock: start `work` with a deadline `ms` ahead and say how it stands 1 ms before
 * the deadline and at it ('pending', 'stored' or the ChioError code it rejected with).
 */
async function settledAt(ms: number, work: (deadline: number) => Promise<unknown>): Promise<{ before: string; at: string }> {
  vi.useFakeTimers({ now: 1_000_000 });
  try {
    let state = 'pending';
    work(Date.now() + ms).then(() => (state = 'stored'), (err: { code?: string }) => (state = err.code ?? 'rejected'));
    await vi.advanceTimersByTimeAsync(ms - 1);
    const before = state;
    await vi.advanceTimersByTimeAsync(1);
    return { before, at: state };
  } finally {
    vi.useRealTimers();
  }
}

describe('ReceiptPublisher', () => {
  describe('when receipts are stored one after another', () => {
    it('numbers them 1, 2, 3 … each naming the one before as prev, and resolves each with what was stored', async () => {
      const fake = new FakeJetStream(RECEIPTS_STREAM);
      const publisher = publisherOn(fake);
      expect(await publisher.open()).toEqual({ seq: 0 });
      const answered: Receipt[] = [];
      for (let i = 0; i < 5; i++) answered.push(await storeOf(publisher, draftOf(i)));
      expect(answered.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(answered.map((r) => r.prev)).toEqual([GENESIS_PREV, ...answered.slice(0, 4).map((r) => r.id)]);
      expect(storedChain(fake)).toEqual(answered);
      expect(fake.on(SUBJECT).map((m) => m.data)).toEqual(answered.map(receiptBytes));
    });

    it('carries the draft unchanged and signs with the kernel key it names', async () => {
      const fake = new FakeJetStream(RECEIPTS_STREAM);
      const receipt = await storeOf(publisherOn(fake), draftOf(3));
      expect(receipt).toMatchObject({ ...draftOf(3), schema: 'chio.receipt.v1', chain: CHAIN, kernel_key: KERNEL.verifierKey });
      expect(verifyReceiptBytes(receiptBytes(receipt), [KERNEL.verifierKey])).toEqual(receipt);
    });
  });

  describe('when many receipts are stored at once', () => {
    it('stores them in chain order without a fork', async () => {
      const fake = new FakeJetStream(RECEIPTS_STREAM);
      const publisher = publisherOn(fake);
      const answered = await Promise.all(Array.from({ length: 20 }, (_, i) => storeOf(publisher, draftOf(i))));
      expect(answered.map((r) => r.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(storedChain(fake)).toHaveLength(20);
    });

    it('stores those queued behind a publish in flight as one message (group commit), its Nats-Msg-Id the first receipt id', async () => {
      const fake = new FakeJetStream(RECEIPTS_STREAM);
      const publisher = publisherOn(fake);
      const answered = await Promise.all(Array.from({ length: 20 }, (_, i) => storeOf(publisher, draftOf(i))));
      // The first is published alone; the 19 queued meanwhile go together.
      expect(storedMessages(fake).map((m) => m.map((r) => r.seq))).toEqual([[1], Array.from({ length: 19 }, (_, i) => i + 2)]);
      expect(fake.publishes.map((p) => p.msgID)).toEqual([answered[0]!.id, answered[1]!.id]);
    });

    it('signs a message of several receipts once (a batch signature), and each receipt still verifies alone', async () => {
      const fake = new FakeJetStream(RECEIPTS_STREAM);
      const publisher = publisherOn(fake);
      const answered = await Promise.all(Array.from({ length: 20 }, (_, i) => storeOf(publisher, draftOf(i))));
      const [alone, ...together] = answered;
      expect(alone!.batch).toBeUndefined();
      expect(together.map((r) => r.batch && { index: r.batch.index, size: r.batch.size })).toEqual(together.map((_, index) => ({ index, size: 19 })));
      expect(new Set(together.map((r) => r.signature)).size).toBe(1);
      for (const r of answered) expect(verifyReceiptBytes(receiptBytes(r), [KERNEL.verifierKey])).toEqual(r);
      expect(storedChain(fake)).toEqual(answered);
    });

    it('keeps each message within MAX_RECEIPTS_PER_MESSAGE receipts and MAX_BATCH_BYTES bytes', async () => {
      const fake = new FakeJetStream(RECEIPTS_STREAM);
      const publisher = publisherOn(fake);
      const big = (i: number) => draftOf(i, { request: { ...draftOf(i).request, path: `/tools/${'p'.repeat(6_000)}` } });
      await Promise.all([
        ...Array.from({ length: 100 }, (_, i) => storeOf(publisher, draftOf(i))),
        ...Array.from({ length: 12 }, (_, i) => storeOf(publisher, big(100 + i))),
      ]);
      const messages = fake.on(SUBJECT);
      expect(storedChain(fake)).toHaveLength(112);
      for (const m of storedMessages(fake)) expect(m.length).toBeLessThanOrEqual(MAX_RECEIPTS_PER_MESSAGE);
      for (const m of messages) expect(m.data.length).toBeLessThanOrEqual(MAX_BATCH_BYTES);
      expect(Math.max(...messages.map((m) => m.data.length))).toBeGreaterThan(MAX_BATCH_BYTES - 8_000);
    });

    it('signs nothing for a queued receipt whose deadline passed while the message before it was in flight', async () => {
      const fake = new FakeJetStream(RECEIPTS_STREAM);
      const publisher = publisherOn(fake);
      fake.publishFaults.push({ ackAfterMs: 30 });
      const first = storeOf(publisher, draftOf(0));
      const late = publisher.store(draftOf(1), Date.now() + 10);
      const onTime = storeOf(publisher, draftOf(2));
      await first;
      await expectRejectCode(late.stored, 'TIMEOUT');
      expect((await onTime).seq).toBe(2);
      expect(storedChain(fake).map((r) => r.request.id)).toEqual(['req-0', 'req-2']);
    });
  });

  describe('when each receipt is published', () => {
    it('sets Nats-Msg-Id to the receipt id and Nats-Expected-Last-Subject-Sequence to the stream sequence of the previous one', async () => {
      const fake = new FakeJetStream(RECEIPTS_STREAM);
      const publisher = publisherOn(fake);
      // Other chains share the stream, so stream and chain sequences differ.
      fake.append(receiptSubject('other'), new Uint8Array([1]));
      const first = await storeOf(publisher, draftOf(0));
      fake.append(receiptSubject('other'), new Uint8Array([2]));
      const second = await storeOf(publisher, draftOf(1));
      expect(fake.publishes.map(({ subject, msgID, lastSubjectSequence }) => ({ subject, msgID, lastSubjectSequence }))).toEqual([
        { subject: SUBJECT, msgID: first.id, lastSubjectSequence: 0 },
        { subject: SUBJECT, msgID: second.id, lastSubjectSequence: 2 },
      ]);
    });
  });

  describe('when the stream already holds the chain (a restart)', () => {
    it('resumes after the last stored receipt', async () => {
      const fake = new FakeJetStream(RECEIPTS_STREAM);
      const before = publisherOn(fake);
      await storeOf(before, draftOf(0));
      const last = await storeOf(before, draftOf(1));
      const after = publisherOn(fake);
      expect(await after.open()).toEqual({ seq: 2 });
      const next = await storeOf(after, draftOf(2));
      expect(next).toMatchObject({ seq: 3, prev: last.id });
      expect(storedChain(fake)).toHaveLength(3);
    });
  });

  describe('when a publish fails before the receipt was stored', () => {
    it('rejects, and the next receipt takes the seq that was never stored, linked to the stored head', async () => {
      const fake = new FakeJetStream(RECEIPTS_STREAM);
      const publisher = publisherOn(fake);
      const first = await storeOf(publisher, draftOf(0));
      fake.publishFaults.push('reject');
      await expectRejectCode(storeOf(publisher, draftOf(1)), 'UNAVAILABLE');
      const next = await storeOf(publisher, draftOf(2));
      expect(next).toMatchObject({ seq: 2, prev: first.id, request: draftOf(2).request });
      expect(storedChain(fake).map((r) => r.seq)).toEqual([1, 2]);
    });
  });

  // Anyone who may publish on the receipts subjects can put a message on a live chain's subject.
  describe('log lines while publishes fail', () => {
    it('says a run of failed publishes once, a new error at once, then how many more (log-throttle.ts); a correction each time', async () => {
      const lines: Array<Record<string, unknown> & { msg: string }> = [];
      const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
      const fake = new FakeJetStream(RECEIPTS_STREAM);
      const publisher = publisherOn(fake, { log });
      fake.publishFaults.push(...Array<'reject'>(30).fill('reject'), 'lose-ack');
      for (let i = 0; i < 31; i++) await expectRejectCode(storeOf(publisher, draftOf(i)), 'UNAVAILABLE');
      await storeOf(publisher, draftOf(32));
      await publisher.drain();
      const said = (msg: string) => lines.filter((l) => l.msg === msg);
      expect(said('receipts not stored, or not known to be').map((l) => l.err)).toEqual(['Error: fake: no responders', 'Error: fake: timeout waiting for the PubAck']);
      expect(lines.filter((l) => l.msg.startsWith('receipts not stored, or not known to be … and 29 more in the last '))).toEqual([expect.objectContaining({ chain: CHAIN, suppressed: 29 })]);
      expect(said('receipt stored after its Check was answered 503; correcting it')).toHaveLength(1);
      expect(said('receipt corrected: stored, but answered deny 503 (ReceiptLedger)')).toHaveLength(1);
    });
  });

  describe('when a message on the chain\'s subject is not its receipt', () => {
    const ownChain = (fake: FakeJetStream) => fake.on(SUBJECT).flatMap((m) => {
      try {
        return [verifyReceiptBytes(m.data, [KERNEL.verifierKey])];
      } catch {
        return [];
      }
    });
    const forgeries: Array<[string, (r: Receipt) => Uint8Array]> = [
      ['a forged head', () => new TextEncoder().encode(JSON.stringify({ seq: 1000, id: 'ab'.repeat(32), chain: CHAIN }))],
      ['bytes that are no JSON', () => new TextEncoder().encode('not a receipt')],
      ['a receipt of another kernel', (r) => receiptBytes(signReceipt(draftOf(9), { chain: CHAIN, seq: r.seq + 1, prev: r.id }, kernelOf(9)))],
    ];
    it.each(forgeries)('goes on from its own head past %s, naming that message\'s stream sequence', async (_name, forge) => {
      const fake = new FakeJetStream(RECEIPTS_STREAM);
      const publisher = publisherOn(fake);
      await storeOf(publisher, draftOf(0));
      const head = await storeOf(publisher, draftOf(1));
      const forged = fake.append(SUBJECT, forge(head));
      // The next publish is refused (its expected last subject sequence is no longer the last).
      await expectRejectCode(storeOf(publisher, draftOf(2)), 'UNAVAILABLE');
      const next = await storeOf(publisher, draftOf(3));
      expect(next).toMatchObject({ seq: 3, prev: head.id });
      expect(fake.publishes.at(-1)).toMatchObject({ lastSubjectSequence: forged.seq });
      const own = ownChain(fake);
      expect(own.map((r) => r.seq)).toEqual([1, 2, 3]);
    });

    it('does not take a replayed earlier receipt of its own for its head', async () => {
      const fake = new FakeJetStream(RECEIPTS_STREAM);
      const publisher = publisherOn(fake);
      const first = await storeOf(publisher, draftOf(0));
      const head = await storeOf(publisher, draftOf(1));
      fake.append(SUBJECT, receiptBytes(first));
      await expectRejectCode(storeOf(publisher, draftOf(2)), 'UNAVAILABLE');
      expect(await storeOf(publisher, draftOf(3))).toMatchObject({ seq: 3, prev: head.id });
    });

    it('finds a receipt of its own stored after all behind such a message, and corrects it', async () => {
      const fake = new FakeJetStream(RECEIPTS_STREAM);
      const publisher = publisherOn(fake);
      const head = await storeOf(publisher, draftOf(0));
      // Stored, but its PubAck lost: the Check was answered 503. Then someone writes after it.
      fake.publishFaults.push('lose-ack');
      await expectRejectCode(storeOf(publisher, draftOf(1)), 'UNAVAILABLE');
      fake.append(SUBJECT, new TextEncoder().encode('not a receipt'));
      const next = await storeOf(publisher, draftOf(2));
      const own = ownChain(fake);
      expect(own.map((r) => [r.seq, r.corrects ?? null])).toEqual([[1, null], [2, null], [3, own[1]!.id], [4, null]]);
      expect(next).toMatchObject({ seq: 4, prev: own[2]!.id });
      expect(own[1]!.prev).toBe(head.id);
    });

    it.each([
      ['emptied (deleted and made again)', (fake: FakeJetStream) => fake.messages.splice(0)],
      ['emptied, then written by someone else', (fake: FakeJetStream) => (fake.messages.splice(0), fake.append(SUBJECT, new TextEncoder().encode('x')))],
    ])('does not start the chain again when the stream was %s: its seqs would be reused', async (_name, lose) => {
      const fake = new FakeJetStream(RECEIPTS_STREAM);
      const publisher = publisherOn(fake);
      await storeOf(publisher, draftOf(0));
      await storeOf(publisher, draftOf(1));
      lose(fake);
      await expectRejectCode(storeOf(publisher, draftOf(2)), 'UNAVAILABLE');
      await expect(storeOf(publisher, draftOf(3))).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining('is gone from the stream') });
      expect(fake.on(SUBJECT).filter((m) => m.msgID !== 'other-1')).toHaveLength(0);
      expect(publisher.problem).toContain('is gone from the stream');
    });

    it('says why while its stream lost its receipts, and goes on by itself, with no receipt to store, once they are back', async () => {
      const fake = new FakeJetStream(RECEIPTS_STREAM);
      const publisher = publisherOn(fake, { ackWaitMs: 20 });
      await storeOf(publisher, draftOf(0));
      await storeOf(publisher, draftOf(1));
      const lost = fake.messages.splice(0);
      await expectRejectCode(storeOf(publisher, draftOf(2)), 'UNAVAILABLE');
      expect(publisher.problem).toContain('receipt seq 2, stored at stream seq 2, is gone from the stream');
      fake.messages.push(...lost);
      for (const until = Date.now() + 2_000; publisher.problem !== undefined && Date.now() < until; ) await new Promise((r) => setTimeout(r, 10));
      expect(publisher.problem).toBeUndefined();
      expect(await storeOf(publisher, draftOf(3))).toMatchObject({ seq: 3 });
      await publisher.drain();
    });

    it.each([
      ['emptied (deleted and made again)', (fake: FakeJetStream) => fake.messages.splice(0)],
      ['cut back (restored from an older copy)', (fake: FakeJetStream) => fake.messages.splice(1)],
    ])('does not start the chain at a process start when the stream was %s below the head the log holds', async (_name, lose) => {
      const fake = new FakeJetStream(RECEIPTS_STREAM);
      const first = publisherOn(fake);
      for (let i = 0; i < 3; i++) await storeOf(first, draftOf(i));
      const all = [...fake.messages];
      lose(fake);
      // A new process: it knows no head of its own; the log (the ledger's record) holds seq 3.
      const loggedSeq = async (chain: string) => (chain === CHAIN ? 3 : undefined);
      // Opened all the same, not extended: the process runs not ready and says why (SPEC §1).
      const opened = publisherOn(fake, { loggedSeq, ackWaitMs: 20 });
      expect(await opened.open()).toEqual({ problem: expect.stringContaining('the log holds its receipts up to seq 3') });
      expect(opened.problem).toContain('the log holds its receipts up to seq 3');
      await expect(storeOf(opened, draftOf(3))).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining('the log holds its receipts up to seq 3') });
      expect(fake.messages.length).toBeLessThanOrEqual(1);
      // The stream restored: the chain goes on by itself, though no receipt comes to try it.
      fake.messages.splice(0, fake.messages.length, ...all);
      for (const until = Date.now() + 2_000; opened.problem !== undefined && Date.now() < until; ) await new Promise((r) => setTimeout(r, 10));
      expect(opened.problem).toBeUndefined();
      expect(await storeOf(opened, draftOf(3))).toMatchObject({ seq: 4 });
      await opened.drain();
      // A stream that holds the chain up to the log's head (or past it) is extended as before.
      const whole = new FakeJetStream(RECEIPTS_STREAM);
      for (let i = 0; i < 3; i++) await storeOf(publisherOn(whole), draftOf(i));
      expect(await publisherOn(whole, { loggedSeq }).open()).toEqual({ seq: 3 });
      expect(await publisherOn(whole, { loggedSeq: async () => 2 }).open()).toEqual({ seq: 3 });
    });

    it('does not extend the chain at start when its last message is not its receipt', async () => {
      const fake = new FakeJetStream(RECEIPTS_STREAM);
      await storeOf(publisherOn(fake), draftOf(0));
      fake.append(SUBJECT, new TextEncoder().encode(JSON.stringify({ seq: 1000, id: 'ab'.repeat(32) })));
      const opened = publisherOn(fake);
      expect(await opened.open()).toEqual({ problem: expect.stringContaining('is no receipt of it that verifies') });
      await expect(storeOf(opened, draftOf(1))).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining('is no receipt of it that verifies') });
      expect(fake.on(SUBJECT)).toHaveLength(2);
      await opened.drain();
    });
  });

  describe('when reading the head fails', () => {
    it('rejects that receipt and reads again for the next', async () => {
      const fake = new FakeJetStream(RECEIPTS_STREAM);
      const publisher = publisherOn(fake);
      fake.readFaults.push('reject');
      await expect(storeOf(publisher, draftOf(0))).rejects.toBeInstanceOf(Error);
      expect(fake.publishes).toHaveLength(0);
      expect(await storeOf(publisher, draftOf(1))).toMatchObject({ seq: 1, prev: GENESIS_PREV });
    });
  });

  describe('deadlines', () => {
    it('refuses a receipt whose deadline has passed with TIMEOUT, publishing nothing', async () => {
      const fake = new FakeJetStream(RECEIPTS_STREAM);
      await expectRejectCode(storeOf(publisherOn(fake), draftOf(0), Date.now() - 1), 'TIMEOUT');
      expect(fake.publishes).toHaveLength(0);
    });

    it('gives the publish the time left until the deadline and the ack wait after it', async () => {
      const fake = new FakeJetStream(RECEIPTS_STREAM);
      const now = 1_000_000;
      const publisher = publisherOn(fake, { now: () => now });
      await publisher.open();
      await storeOf(publisher, draftOf(0), now + 120);
      expect(fake.publishes[0]!.timeout).toBe(120 + DEFAULT_ACK_WAIT_MS);
    });

    it('rejects with TIMEOUT once the ack wait after the deadline is over, when the publish outlasts both', async () => {
      const fake = new FakeJetStream(RECEIPTS_STREAM);
      const publisher = publisherOn(fake, { ackWaitMs: 40 });
      await publisher.open();
      fake.publishFaults.push('hang');
      const outcome = await settledAt(60 + 40, (deadline) => storeOf(publisher, draftOf(0), deadline - 40));
      expect(outcome).toEqual({ before: 'pending', at: 'TIMEOUT' });
    });

    it('rejects with TIMEOUT at the deadline when the head cannot be read, publishing nothing', async () => {
      const fake = new FakeJetStream(RECEIPTS_STREAM);
      fake.readFaults.push('hang');
      const publisher = publisherOn(fake);
      const outcome = await settledAt(60, (deadline) => storeOf(publisher, draftOf(0), deadline));
      expect(outcome).toEqual({ before: 'pending', at: 'TIMEOUT' });
      expect(fake.publishes).toHaveLength(0);
    });
  });

  describe('when a receipt would be larger than MAX_RECEIPT_BYTES', () => {
    it('refuses it with RECEIPT_INVALID, publishing nothing, and the chain goes on', async () => {
      const fake = new FakeJetStream(RECEIPTS_STREAM);
      const publisher = publisherOn(fake);
      const huge = draftOf(0, { request: { path: `/${'a'.repeat(20_000)}` } });
      await expectRejectCode(storeOf(publisher, huge), 'RECEIPT_INVALID');
      expect(fake.publishes).toHaveLength(0);
      expect(await storeOf(publisher, draftOf(1))).toMatchObject({ seq: 1 });
    });
  });

  describe('when a receipt has no canonical form (a lone surrogate)', () => {
    it('refuses that one with RECEIPT_INVALID; the Checks signed with it are stored, and the chain goes on', async () => {
      const fake = new FakeJetStream(RECEIPTS_STREAM);
      const publisher = publisherOn(fake);
      const broken = draftOf(1, { request: { ...draftOf(1).request, path: '/tools/\uD83D' } });
      const [first, bad, last] = await Promise.allSettled([storeOf(publisher, draftOf(0)), storeOf(publisher, broken), storeOf(publisher, draftOf(2))]);
      expect(bad).toMatchObject({ status: 'rejected', reason: { code: 'RECEIPT_INVALID', message: expect.stringContaining('no canonical form') } });
      expect([first, last].map((r) => r.status === 'fulfilled' && r.value.seq)).toEqual([1, 2]);
      expect(await storeOf(publisher, draftOf(3))).toMatchObject({ seq: 3 });
    });
  });

  describe('when a receipt fits only without a batch member', () => {
    it('stores it alone, in the plain form, between the messages of the receipts around it', async () => {
      const fake = new FakeJetStream(RECEIPTS_STREAM);
      const publisher = publisherOn(fake);
      const withPath = (i: number, path: string) => draftOf(i, { request: { ...draftOf(i).request, path } });
      const base = prepareBody(bodyOf(withPath(1, '/'), { chain: CHAIN, seq: 3, prev: GENESIS_PREV }, KERNEL.verifierKey)).bytes.length;
      // 20 bytes under what a receipt may be (MAX_RECEIPT_BYTES less the 512 kept for its correction) when alone; in a batch it would be over.
      const large = withPath(1, `/${'p'.repeat(MAX_RECEIPT_BYTES - 512 - PLAIN_SEAL_BYTES - base - 20)}`);
      expect(base + SEAL_MAX_BYTES - PLAIN_SEAL_BYTES).toBeGreaterThan(20);
      const answered = await Promise.all([storeOf(publisher, draftOf(0)), storeOf(publisher, draftOf(2)), storeOf(publisher, large), storeOf(publisher, draftOf(3))]);
      expect(storedMessages(fake).map((m) => m.map((r) => r.seq))).toEqual([[1], [2], [3], [4]]);
      expect(answered[2]!.batch).toBeUndefined();
      expect(receiptBytes(answered[2]!).length).toBeGreaterThan(MAX_RECEIPT_BYTES - 512 - 40);
      for (const r of answered) expect(verifyReceiptBytes(receiptBytes(r), [KERNEL.verifierKey])).toEqual(r);
    });
  });

  describe('drain', () => {
    it('waits for the queued receipts, then refuses new ones with UNAVAILABLE', async () => {
      const fake = new FakeJetStream(RECEIPTS_STREAM);
      const publisher = publisherOn(fake);
      const queued = [storeOf(publisher, draftOf(0)), storeOf(publisher, draftOf(1))];
      await publisher.drain();
      expect(storedChain(fake)).toHaveLength(2);
      await expect(Promise.all(queued)).resolves.toHaveLength(2);
      await expectRejectCode(storeOf(publisher, draftOf(2)), 'UNAVAILABLE');
    });
  });

  describe('when the chain id is not a subject token', () => {
    it.each(['a.b', 'a b', '', 'x'.repeat(65), 'a*'])('refuses %j with CONFIG_INVALID', (chain) => {
      expect(() => publisherOn(new FakeJetStream(RECEIPTS_STREAM), { chain })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
    });
  });
});

describe('test helpers sign as the publisher does', () => {
  it('give the same receipt for the same draft at the same place', async () => {
    const fake = new FakeJetStream(RECEIPTS_STREAM);
    const stored = await storeOf(publisherOn(fake), draftOf(4));
    expect(signReceipt(draftOf(4), { chain: CHAIN, seq: 1, prev: GENESIS_PREV }, KERNEL)).toEqual(stored);
  });
});
