/**
 * Corrections (SPEC §5): a receipt stored although its Check was answered 503 is corrected by
 * the next receipt on the chain, and no other receipt is. On the fake JetStream, with late,
 * lost and failed PubAcks injected; the caller abandons tickets at their deadline as the
 * check handler does.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DRAIN_SETTLE_MS, type ReceiptPublisher } from '../../../src/chain/publisher.js';
import { correctionDecision } from '../../../src/receipt/correction.js';
import type { Receipt } from '../../../src/receipt/receipt.js';
import { RECEIPTS_STREAM } from '../../../src/store/resources.js';
import { expectRejectCode } from '../../support/errors.js';
import { draftOf } from '../receipt/helpers.js';
import { FakeJetStream, type PublishFault } from './fake-jetstream.js';
import { publisherOn, storedChain, storedMessages, storeOf } from './chain-fixture.js';

const ACK_WAIT_MS = 40;

afterEach(() => {
  vi.useRealTimers();
});

/** A publisher on a fake clock, its first receipt stored. */
async function started(): Promise<{ fake: FakeJetStream; publisher: ReceiptPublisher; first: Receipt }> {
  vi.useFakeTimers({ now: 1_000_000 });
  const fake = new FakeJetStream(RECEIPTS_STREAM);
  const publisher = publisherOn(fake, { ackWaitMs: ACK_WAIT_MS });
  const first = await storeOf(publisher, draftOf(0));
  return { fake, publisher, first };
}

/** Store draft `i` with a deadline `ms` ahead and abandon it at the deadline, as the check handler does. */
async function abandonedAt(publisher: ReceiptPublisher, i: number, ms: number): Promise<boolean> {
  const ticket = publisher.store(draftOf(i), Date.now() + ms);
  await vi.advanceTimersByTimeAsync(ms);
  const abandoned = ticket.abandon();
  if (abandoned) await expectRejectCode(ticket.stored, 'TIMEOUT');
  return abandoned;
}

/**
 * A publisher that owes a correction: receipt 2 (req-1) was stored after it was abandoned.
 * `faults` are queued for the publishes after it, the first of which is the correction.
 */
async function owing(...faults: PublishFault[]): Promise<{ fake: FakeJetStream; publisher: ReceiptPublisher }> {
  const { fake, publisher } = await started();
  fake.publishFaults.push({ ackAfterMs: 30 }, ...faults);
  expect(await abandonedAt(publisher, 1, 20)).toBe(true);
  await vi.advanceTimersByTimeAsync(10);
  return { fake, publisher };
}

/**
 * `correction` is the correction of `corrected`, as SPEC §5 writes it; `adjacent`: also the
 * very next receipt on the chain (the case when one receipt is owed).
 */
function expectCorrection(correction: Receipt | undefined, corrected: Receipt, adjacent = true): void {
  if (adjacent) expect(correction).toMatchObject({ seq: corrected.seq + 1, prev: corrected.id });
  expect(correction).toMatchObject({
    corrects: corrected.id,
    request: corrected.request,
    subject: corrected.subject,
    policy_hash: corrected.policy_hash,
    decision: correctionDecision(),
    evidence: [{ guard: 'ReceiptLedger', verdict: 'deny' }],
  });
}

/**
 * The chain after receipt 0 stored, draft 1 failed but stored after all, and draft 2 stored:
 * 1 the failed receipt, 2 its correction, 3 the next (what `next` was answered from).
 */
function expectStoredLateThenCorrected(fake: FakeJetStream, next: Receipt): void {
  const chain = storedChain(fake);
  expect(chain.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
  expect(chain[1]!.request.id).toBe(draftOf(1).request.id);
  expectCorrection(chain[2], chain[1]!);
  expect(next).toEqual(chain[3]);
}

/** A small seeded PRNG (mulberry32), so every run injects the same faults. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const corrections = (chain: Receipt[]) => chain.filter((r) => r.corrects !== undefined);

describe('ReceiptPublisher corrections', () => {
  describe('when the PubAck comes after the receipt was abandoned', () => {
    it('stores a correction of it as the next receipt on the chain, then goes on after the correction', async () => {
      const { fake, publisher } = await started();
      fake.publishFaults.push({ ackAfterMs: 30 });
      expect(await abandonedAt(publisher, 1, 20)).toBe(true);
      expect(storedChain(fake)).toHaveLength(2); // stored, acked later
      await vi.advanceTimersByTimeAsync(10);
      const [, late, correction] = storedChain(fake);
      expect(late!.decision.verdict).toBe('allow');
      expectCorrection(correction, late!);
      const next = await storeOf(publisher, draftOf(2));
      expect(next).toMatchObject({ seq: 4, prev: correction!.id });
      expect(next.corrects).toBeUndefined();
    });
  });

  describe('when the PubAck comes past the deadline, before the caller abandons (a stalled loop ran the ack first)', () => {
    it('is not answered from: the ticket fails TIMEOUT and the receipt is corrected', async () => {
      const { fake, publisher } = await started();
      fake.publishFaults.push({ ackAfterMs: 30 });
      const ticket = publisher.store(draftOf(1), Date.now() + 20);
      await vi.advanceTimersByTimeAsync(30);
      await expectRejectCode(ticket.stored, 'TIMEOUT');
      expect(ticket.abandon()).toBe(true);
      await vi.advanceTimersByTimeAsync(10);
      const [, late, correction] = storedChain(fake);
      expectCorrection(correction, late!);
    });
  });

  describe('when a receipt answered from is handed back as undelivered (its client had gone)', () => {
    it('stores a correction of it next, once, even with nothing else to store', async () => {
      const { fake, publisher } = await started();
      const ticket = publisher.store(draftOf(1), Date.now() + 20);
      const receipt = await ticket.stored;
      await vi.advanceTimersByTimeAsync(5); // the publisher is idle by now
      ticket.undelivered();
      ticket.undelivered();
      await vi.advanceTimersByTimeAsync(10);
      const [, answered, correction, ...rest] = storedChain(fake);
      expect(answered).toEqual(receipt);
      expectCorrection(correction, receipt);
      expect(rest).toEqual([]);
    });
  });

  describe('when the PubAck comes before the receipt is abandoned', () => {
    it('abandon() is false, the receipt is answered from, and nothing is corrected', async () => {
      const { fake, publisher } = await started();
      fake.publishFaults.push({ ackAfterMs: 10 });
      const ticket = publisher.store(draftOf(1), Date.now() + 20);
      await vi.advanceTimersByTimeAsync(20);
      expect(ticket.abandon()).toBe(false);
      expect(await ticket.stored).toEqual(storedChain(fake)[1]);
      await storeOf(publisher, draftOf(2));
      expect(corrections(storedChain(fake))).toEqual([]);
    });
  });

  describe.each<[string, PublishFault]>([
    ['the PubAck is lost at once', 'lose-ack'],
    ['the PubAck comes after the ack wait', { ackAfterMs: 10_000 }],
  ])('when the publish fails but the receipt was stored (%s)', (_name, fault) => {
    it('rejects, finds the receipt at the head read and corrects it before any other receipt', async () => {
      const { fake, publisher } = await started();
      fake.publishFaults.push(fault);
      const failed = storeOf(publisher, draftOf(1), Date.now() + 20);
      const outcome = expect(failed).rejects.toMatchObject({ code: expect.stringMatching(/^(UNAVAILABLE|TIMEOUT)$/) });
      await vi.advanceTimersByTimeAsync(20 + ACK_WAIT_MS);
      await outcome;
      const next = await storeOf(publisher, draftOf(2));
      const chain = storedChain(fake);
      expect(chain.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
      expectCorrection(chain[2], chain[1]!);
      expect(next).toEqual(chain[3]);
    });
  });

  describe('when the stream refuses a message for want of room (StoreFull)', () => {
    // A replicated (R3) stream's leader answers 10023/10002 also for a message its raft group
    // had committed, when it cannot apply it; it steps down, and a follower that stored it leads.
    it('a replicated stream: the refusal is of unknown outcome, and the receipt is corrected once it is found stored', async () => {
      const { fake, publisher } = await started();
      fake.publishFaults.push('store-full-committed');
      await expect(storeOf(publisher, draftOf(1), Date.now() + 20)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      expectStoredLateThenCorrected(fake, await storeOf(publisher, draftOf(2)));
    });

    it('a stream of one replica (refusedForRoomIsFinal): known not stored, nothing corrected', async () => {
      vi.useFakeTimers({ now: 1_000_000 });
      const fake = new FakeJetStream(RECEIPTS_STREAM);
      const publisher = publisherOn(fake, { ackWaitMs: ACK_WAIT_MS, refusedForRoomIsFinal: true });
      await storeOf(publisher, draftOf(0));
      fake.publishFaults.push('store-full');
      await expect(storeOf(publisher, draftOf(1), Date.now() + 20)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      const next = await storeOf(publisher, draftOf(2));
      expect(storedChain(fake).map((r) => r.seq)).toEqual([1, 2]);
      expect(next.seq).toBe(2);
      expect(corrections(storedChain(fake))).toEqual([]);
    });
  });

  describe('when a failed publish is stored only after the head read that followed it', () => {
    it('still corrects it, refusing nothing: the head is read again while a publish\'s outcome is unknown', async () => {
      const { fake, publisher } = await started();
      fake.publishFaults.push('store-after-read');
      const failed = expect(storeOf(publisher, draftOf(1), Date.now() + 20)).rejects.toBeDefined();
      await vi.advanceTimersByTimeAsync(20 + ACK_WAIT_MS);
      await failed;
      expectStoredLateThenCorrected(fake, await storeOf(publisher, draftOf(2)));
    });

    it('corrects it on an idle chain too, by trying again later: no receipt need come', async () => {
      const { fake, publisher } = await started();
      fake.publishFaults.push('store-after-read');
      await expect(storeOf(publisher, draftOf(1), Date.now() + 20)).rejects.toBeDefined();
      // The head read right after the failure came before the write landed.
      await vi.advanceTimersByTimeAsync(0);
      expect(storedChain(fake).map((r) => r.seq)).toEqual([1, 2]);
      await vi.advanceTimersByTimeAsync(ACK_WAIT_MS);
      const chain = storedChain(fake);
      expect(chain.map((r) => r.seq)).toEqual([1, 2, 3]);
      expectCorrection(chain[2], chain[1]!);
    });

    it('corrects it when the publisher stops, trying until it is settled', async () => {
      const { fake, publisher } = await started();
      fake.publishFaults.push('store-after-read');
      // The head reads after the failure fail too, until the publisher is told to stop: only
      // tries made while it stops can find the receipt.
      fake.readFaults.push('reject', 'reject', 'reject');
      const failed = expect(storeOf(publisher, draftOf(1), Date.now() + 20)).rejects.toBeDefined();
      await failed;
      const drained = publisher.drain();
      await vi.advanceTimersByTimeAsync(DRAIN_SETTLE_MS);
      await drained;
      const chain = storedChain(fake);
      expect(chain.map((r) => r.seq)).toEqual([1, 2, 3]);
      expectCorrection(chain[2], chain[1]!);
    });
  });

  describe.each<[string, PublishFault]>([
    ['refused', 'reject'],
    ['timed out', 'hang'],
  ])('when the publish is %s and the receipt was not stored', (_name, fault) => {
    it('corrects nothing, and the next receipt takes the seq that was never stored', async () => {
      const { fake, publisher, first } = await started();
      fake.publishFaults.push(fault);
      const failed = expect(storeOf(publisher, draftOf(1), Date.now() + 20)).rejects.toBeDefined();
      await vi.advanceTimersByTimeAsync(20 + ACK_WAIT_MS);
      await failed;
      expect(await storeOf(publisher, draftOf(2))).toMatchObject({ seq: 2, prev: first.id });
      expect(corrections(storedChain(fake))).toEqual([]);
    });
  });

  describe('when a receipt is abandoned while it waits its turn', () => {
    it('never signs it, so there is nothing to correct', async () => {
      const { fake, publisher } = await started();
      fake.publishFaults.push({ ackAfterMs: 30 });
      const slow = storeOf(publisher, draftOf(1), Date.now() + 100);
      const queued = publisher.store(draftOf(2), Date.now() + 10);
      await vi.advanceTimersByTimeAsync(10);
      expect(queued.abandon()).toBe(true);
      await vi.advanceTimersByTimeAsync(20);
      await slow;
      expect(fake.publishes).toHaveLength(2);
      expect(storedChain(fake).map((r) => r.request.id)).toEqual(['req-0', 'req-1']);
    });
  });

  describe('when the correction itself is not stored', () => {
    it('owes it, and stores it before the next receipt is signed', async () => {
      const { fake, publisher } = await owing('reject');
      expect(storedChain(fake)).toHaveLength(2);
      const next = await storeOf(publisher, draftOf(2));
      const chain = storedChain(fake);
      expectCorrection(chain[2], chain[1]!);
      expect(next).toEqual(chain[3]);
      expect(corrections(chain)).toHaveLength(1);
    });

    it('refuses the next receipt, signing nothing, when the correction fails again', async () => {
      const { fake, publisher } = await owing('reject', 'reject', 'reject');
      await expectRejectCode(storeOf(publisher, draftOf(2)), 'UNAVAILABLE');
      expect(storedChain(fake)).toHaveLength(2);
      await storeOf(publisher, draftOf(3));
      const chain = storedChain(fake);
      expect(chain.map((r) => r.request.id)).toEqual(['req-0', 'req-1', 'req-1', 'req-3']);
      expectCorrection(chain[2], chain[1]!);
    });

    it('does not correct twice when the correction was stored but its PubAck lost', async () => {
      const { fake, publisher } = await owing('lose-ack');
      await storeOf(publisher, draftOf(2));
      const chain = storedChain(fake);
      expect(chain.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
      expect(corrections(chain)).toHaveLength(1);
      expectCorrection(chain[2], chain[1]!);
    });
  });

  describe('when many Checks meet every kind of fault, each abandoned at its deadline', () => {
    it.each([1, 2, 3, 4, 5])('corrects exactly the stored receipts not answered from, each by the next receipt (seed %i)', async (seed) => {
      vi.useFakeTimers({ now: 1_000_000 });
      const fake = new FakeJetStream(RECEIPTS_STREAM);
      const publisher = publisherOn(fake, { ackWaitMs: ACK_WAIT_MS });
      const random = mulberry32(seed);
      // Half the publishes go well; the rest fail, hang, lose or delay their PubAck.
      const faults: Array<PublishFault | undefined> = [...Array<undefined>(6), 'reject', 'lose-ack', 'hang', { ackAfterMs: 5 }, { ackAfterMs: 25 }, { ackAfterMs: 500 }];
      for (let i = 0; i < 300; i++) fake.publishFaults.push(faults[Math.floor(random() * faults.length)] ?? { ackAfterMs: 0 });
      // 60 Checks, one every 7 ms, each with a 20 ms deadline, answered as the check handler answers.
      const answered = new Map<string, string>();
      for (let i = 0; i < 60; i++) {
        setTimeout(() => {
          const ticket = publisher.store(draftOf(i), Date.now() + 20);
          // abandon() false: `stored` has resolved and the answer is the receipt; true: it rejects, 503.
          ticket.stored.then((r) => answered.set(`req-${i}`, r.id), () => answered.set(`req-${i}`, '503'));
          setTimeout(() => ticket.abandon(), 20);
        }, i * 7);
      }
      await vi.advanceTimersByTimeAsync(60 * 7 + 2_000);
      fake.publishFaults.length = 0;
      await publisher.drain();

      expect(answered.size).toBe(60);
      const chain = storedChain(fake); // each verifies with the kernel key; seq 1, 2, 3 … no seq reused
      // Message by message (group commit): the receipts of a message that were not answered
      // from are corrected by the message(s) right after it, which hold those corrections and
      // nothing else; receipts answered from are never corrected.
      const byId = new Map(chain.map((r) => [r.id, r]));
      let owed = new Set<string>();
      for (const message of storedMessages(fake)) {
        if (owed.size > 0) {
          for (const r of message) {
            expect(r.corrects, `${r.id} should correct one of ${[...owed].join(', ')}`).toBeDefined();
            expect(owed.delete(r.corrects!)).toBe(true);
            expectCorrection(r, byId.get(r.corrects!)!, false);
          }
          continue;
        }
        for (const r of message) {
          expect(r.corrects, 'a correction follows the message of what it corrects').toBeUndefined();
          if (answered.get(r.request.id!) !== r.id) owed.add(r.id);
        }
      }
      expect([...owed], 'corrections never stored').toEqual([]);
      expect(storedMessages(fake).some((m) => m.length > 1), 'some messages hold several receipts').toBe(true);
      // Every answer from a receipt names a stored one.
      const ids = new Set(chain.map((r) => r.id));
      for (const answer of answered.values()) if (answer !== '503') expect(ids.has(answer)).toBe(true);
      // The scenario has both kinds: receipts answered from, and receipts corrected.
      expect(corrections(chain).length).toBeGreaterThan(2);
      expect([...answered.values()].filter((a) => a !== '503').length).toBeGreaterThan(3);
    });
  });

  describe('drain', () => {
    it('tries an owed correction before it resolves', async () => {
      const { fake, publisher } = await owing('reject');
      await publisher.drain();
      const chain = storedChain(fake);
      expectCorrection(chain[2], chain[1]!);
    });
  });
});
