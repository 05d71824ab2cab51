import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { LANE_FILL, LANE_STALL_MS, ReceiptLanes, laneChainIds } from '../../../src/chain/lanes.js';
import { ReceiptPublisher } from '../../../src/chain/publisher.js';
import { storedReceiptVerifier } from '../../../src/chain/chain-head.js';
import { RECEIPTS_STREAM, receiptSubject } from '../../../src/store/resources.js';
import { draftOf } from '../receipt/helpers.js';
import { FakeJetStream } from './fake-jetstream.js';
import { KERNEL, soon, storedChain } from './chain-fixture.js';

function lanesOn(fake: FakeJetStream, count: number): ReceiptLanes {
  return new ReceiptLanes(laneChainIds('node-a', count).map((chain) => new ReceiptPublisher({
    js: fake.js, jsm: fake.jsm, chain, signer: KERNEL.signer, kernelKey: KERNEL.verifierKey, log: pino({ level: 'silent' }), verifyStored: storedReceiptVerifier([KERNEL.verifierKey]),
  })));
}

/** The receipts on one lane's chain, each verified on its own and linked to the one before. */
const chainOf = (fake: FakeJetStream, chain: string) => storedChain(fake, receiptSubject(chain));

describe('laneChainIds', () => {
  it('is the chain id itself for one lane, and <chain id>-<n> for several', () => {
    expect(laneChainIds('node-a', 1)).toEqual(['node-a']);
    expect(laneChainIds('node-a', 3)).toEqual(['node-a-0', 'node-a-1', 'node-a-2']);
  });
});

describe('ReceiptLanes', () => {
  describe('when Checks come one at a time', () => {
    it('keeps to the first lane: an idle process writes one chain', async () => {
      const fake = new FakeJetStream(RECEIPTS_STREAM);
      const lanes = lanesOn(fake, 4);
      await lanes.open();
      for (let i = 0; i < 5; i++) await lanes.store(draftOf(i), soon()).stored;
      expect(chainOf(fake, 'node-a-0').map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(fake.messages).toHaveLength(5);
    });
  });

  describe('when a lane\'s chain is not extended (its last message is not its receipt)', () => {
    it('opens the others, says why, and stores on the others only', async () => {
      const fake = new FakeJetStream(RECEIPTS_STREAM);
      fake.append(receiptSubject('node-a-0'), new TextEncoder().encode('{"seq":1000}'));
      const lanes = lanesOn(fake, 2);
      const opened = await lanes.open();
      expect(opened[0]).toEqual({ chain: 'node-a-0', problem: expect.stringContaining('the last message on chain node-a-0 (stream seq 1) is no receipt of it that verifies') });
      expect(opened[1]).toEqual({ chain: 'node-a-1', seq: 0 });
      expect(lanes.problem).toBe((opened[0] as { problem: string }).problem);
      for (let i = 0; i < 3; i++) await lanes.store(draftOf(i), soon()).stored;
      expect(chainOf(fake, 'node-a-1').map((r) => r.seq)).toEqual([1, 2, 3]);
      await lanes.drain();
    });
  });

  describe('when many Checks are in flight at once', () => {
    it('fills a lane to LANE_FILL waiting receipts before the next, grouping them into fewer messages', async () => {
      const fake = new FakeJetStream(RECEIPTS_STREAM);
      const lanes = lanesOn(fake, 3);
      await lanes.open();
      await Promise.all(Array.from({ length: 2 * LANE_FILL }, (_, i) => lanes.store(draftOf(i), soon()).stored));
      expect(lanes.chains.map((chain) => chainOf(fake, chain).length)).toEqual([LANE_FILL, LANE_FILL, 0]);
      // Each lane: the first receipt alone, then the ones that waited for its PubAck, together.
      expect(fake.messages).toHaveLength(4);
    });

    it('spreads them over every lane once each has LANE_FILL waiting, each lane a valid chain of its own, every receipt stored once', async () => {
      const fake = new FakeJetStream(RECEIPTS_STREAM);
      const lanes = lanesOn(fake, 3);
      await lanes.open();
      const count = 3 * LANE_FILL + 6;
      const stored = await Promise.all(Array.from({ length: count }, (_, i) => lanes.store(draftOf(i), soon()).stored));
      const perLane = lanes.chains.map((chain) => chainOf(fake, chain));
      expect(perLane.map((c) => c.length)).toEqual([LANE_FILL + 2, LANE_FILL + 2, LANE_FILL + 2]);
      expect(new Set(perLane.flat().map((r) => r.id))).toEqual(new Set(stored.map((r) => r.id)));
      expect(perLane.flat()).toHaveLength(count);
    });

    it('passes over a lane whose message is stalled, though it has room', async () => {
      const fake = new FakeJetStream(RECEIPTS_STREAM);
      const lanes = lanesOn(fake, 2);
      await lanes.open();
      fake.publishFaults.push('hang');
      const hung = lanes.store(draftOf(0), Date.now() + 100);
      await new Promise((r) => setTimeout(r, LANE_STALL_MS + 10));
      await Promise.all([1, 2, 3].map((i) => lanes.store(draftOf(i), soon()).stored));
      expect(chainOf(fake, 'node-a-1').map((r) => r.seq)).toEqual([1, 2, 3]);
      await expect(hung.stored).rejects.toThrow();
    });

    it('resumes every lane from its own head after a restart', async () => {
      const fake = new FakeJetStream(RECEIPTS_STREAM);
      const first = lanesOn(fake, 2);
      await first.open();
      await Promise.all(Array.from({ length: 2 * LANE_FILL + 4 }, (_, i) => first.store(draftOf(i), soon()).stored));
      await first.drain();
      const again = lanesOn(fake, 2);
      const heads = LANE_FILL + 2;
      expect(await again.open()).toEqual([{ chain: 'node-a-0', seq: heads }, { chain: 'node-a-1', seq: heads }]);
      await Promise.all(Array.from({ length: 4 }, (_, i) => again.store(draftOf(100 + i), soon()).stored));
      expect(chainOf(fake, 'node-a-0').map((r) => r.seq)).toEqual(Array.from({ length: heads + 4 }, (_, i) => i + 1));
      expect(chainOf(fake, 'node-a-1').map((r) => r.seq)).toEqual(Array.from({ length: heads }, (_, i) => i + 1));
    });
  });
});
