/**
 * Finding the checkpoint of a given size (src/verifier/checkpoint-source.ts), which anyone may
 * ask for with `?size=N`: each search is a binary search over the checkpoints stream, so what
 * it found, and what it did not find at or below the latest size, is never searched again; a
 * size past the latest costs no search; concurrent requests for one size share one search.
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import { beforeAll, describe, expect, it } from 'vitest';
import { CheckpointSource, MAX_FOREIGN_SKIP } from '../../../src/verifier/checkpoint-source.js';
import { CHECKPOINTS_SUBJECT } from '../../../src/store/resources.js';
import { chainOf } from '../receipt/helpers.js';
import { useTestStore } from '../store/nats.js';
import { LogFixture } from '../store/log-fixture.js';
import { ORIGIN, kernel, logKey } from './use-verifier.js';
import { newEd25519SignerKey, signCheckpoint } from '../../../src/tlog/index.js';

/** A JetStreamManager that counts the stream messages read through it. */
function counted(jsm: JetStreamManager): { jsm: JetStreamManager; reads: () => number } {
  let reads = 0;
  const streams = new Proxy(jsm.streams, {
    get: (target, name, receiver) => {
      const value = Reflect.get(target, name, receiver);
      if (name !== 'getMessage') return typeof value === 'function' ? value.bind(target) : value;
      return (...args: Parameters<typeof target.getMessage>) => (reads++, target.getMessage(...args));
    },
  });
  return { jsm: new Proxy(jsm, { get: (t, n, r) => (n === 'streams' ? streams : Reflect.get(t, n, r)) }), reads: () => reads };
}

describe('CheckpointSource.ofSize', () => {
  const store = useTestStore();
  const receipts = chainOf(20, kernel, 'chain-cs');
  let log: LogFixture;

  beforeAll(async () => {
    log = new LogFixture(store);
    await log.store(receipts);
    for (let i = 0; i < 6; i++) {
      await log.integrate(2);
      await log.publishCheckpoint(ORIGIN, logKey.signerKey); // sizes 2, 4, …, 12
    }
  });

  it('finds a published size, and searches for no size twice, found or not', async () => {
    const { jsm, reads } = counted(store.jsm);
    const source = new CheckpointSource(jsm, logKey.verifierKey);
    expect((await source.ofSize(6))?.checkpoint.size).toBe(6);
    expect(await source.ofSize(7)).toBeUndefined();
    const searched = reads();
    expect(searched).toBeGreaterThan(2);
    expect((await source.ofSize(6))?.checkpoint.size).toBe(6);
    expect(await source.ofSize(7)).toBeUndefined();
    expect(reads()).toBe(searched);
  });

  it('answers a size past the latest without a search, and finds it once published', async () => {
    const { jsm, reads } = counted(store.jsm);
    const source = new CheckpointSource(jsm, logKey.verifierKey);
    expect(await source.ofSize(1_000_000)).toBeUndefined();
    expect(reads()).toBeLessThanOrEqual(2); // the latest checkpoint, read (again) for the size
    await log.integrate(2);
    await log.publishCheckpoint(ORIGIN, logKey.signerKey); // size 14
    expect((await source.ofSize(14))?.checkpoint.size).toBe(14);
  });

  it('lets concurrent requests for one size share one search', async () => {
    const alone = counted(store.jsm);
    await new CheckpointSource(alone.jsm, logKey.verifierKey).ofSize(3);
    const together = counted(store.jsm);
    const source = new CheckpointSource(together.jsm, logKey.verifierKey);
    const answers = await Promise.all(Array.from({ length: 10 }, () => source.ofSize(3)));
    expect(answers.every((a) => a === undefined)).toBe(true);
    expect(together.reads()).toBe(alone.reads());
  });
});

// A user allowed to make consumers can have the server copy messages onto chio.checkpoints
// (docs/transport-security.md); they are no checkpoints of this log and must not steer a search.
describe('CheckpointSource.ofSize among foreign messages', () => {
  const store = useTestStore();
  const receipts = chainOf(20, kernel, 'chain-cs-foreign');
  let log: LogFixture;
  const foreign = async (n: number) => {
    for (let i = 0; i < n; i++) await store.js.publish(CHECKPOINTS_SUBJECT, `not a checkpoint ${i}`);
  };

  beforeAll(async () => {
    log = new LogFixture(store);
    await log.store(receipts);
    for (const flood of [30, 0, 90, 5, 40, 100]) {
      await foreign(flood);
      await log.integrate(2);
      await log.publishCheckpoint(ORIGIN, logKey.signerKey); // sizes 2, 4, …, 12
    }
    await foreign(50);
  });

  it('finds every published size and no other, whatever lies between', async () => {
    const source = new CheckpointSource(store.jsm, logKey.verifierKey);
    for (const size of [2, 4, 6, 8, 10]) expect((await source.ofSize(size))?.checkpoint.size).toBe(size);
    for (const size of [1, 3, 5, 7, 9, 11]) expect(await source.ofSize(size)).toBeUndefined();
  });

  it('answers no wrong checkpoint where foreign messages reach further than it looks, and keeps no such miss', async () => {
    await foreign(2 * MAX_FOREIGN_SKIP + 10);
    await log.integrate(2);
    await log.publishCheckpoint(ORIGIN, logKey.signerKey); // size 14, after the long run
    const source = new CheckpointSource(store.jsm, logKey.verifierKey);
    let gaveUp = 0;
    for (let size = 1; size <= 14; size++) {
      const answer = await source.ofSize(size);
      if (answer !== undefined) {
        expect(answer.checkpoint.size).toBe(size);
        continue;
      }
      // A miss is kept only when it is for good (an odd size, the stream looked through); a
      // search that gave up (an even size) is not, and runs again next time.
      const kept = (source as unknown as { sized: Map<number, unknown> }).sized;
      if (size % 2 === 0) {
        expect(kept.has(size)).toBe(false);
        gaveUp++;
      }
    }
    // The long run does stop some searches (the limit this test is about): see that it did.
    expect(gaveUp).toBeGreaterThan(0);
  });
});

describe('CheckpointSource.ofSize for one distinct size after another (anyone may ask)', () => {
  const origin = 'chio.test/probes';
  const key = newEd25519SignerKey(origin, new Uint8Array(32).fill(3));
  /** A million checkpoints, the one at stream seq s of size 2·s: every odd size is a miss. */
  const COUNT = 1 << 20;
  function millionCheckpoints(): { jsm: JetStreamManager; reads: () => number } {
    let reads = 0;
    const notes = new Map<number, string>();
    const note = (seq: number) => {
      let n = notes.get(seq);
      if (!n) notes.set(seq, (n = signCheckpoint({ origin, size: 2 * seq, root: new Uint8Array(32).fill(seq % 251) }, key.signerKey)));
      return n;
    };
    const getMessage = async (_stream: string, q: { seq?: number; last_by_subj?: string }) => {
      reads++;
      const seq = q.last_by_subj === CHECKPOINTS_SUBJECT ? COUNT : q.seq!;
      if (seq < 1 || seq > COUNT) return null;
      const text = note(seq);
      return { seq, time: new Date(0), string: () => text };
    };
    return { jsm: { streams: { getMessage } } as unknown as JetStreamManager, reads: () => reads };
  }

  it('reads (and checks the signature of) far fewer messages than a whole binary search each time', { timeout: 60_000 }, async () => {
    const { jsm, reads } = millionCheckpoints();
    const source = new CheckpointSource(jsm, key.verifierKey);
    expect((await source.ofSize(2 * 777))?.checkpoint.size).toBe(2 * 777);
    const before = reads();
    const requests = 200;
    for (let i = 0; i < requests; i++) expect(await source.ofSize(2 * (1000 + i * 4099) + 1)).toBeUndefined();
    // A whole search is 21 probes (22 reads, with the latest read again, before); the top of
    // the tree is kept, below about log2(200) levels each search walks a path of its own.
    expect((reads() - before) / requests).toBeLessThan(15);
    expect((await source.ofSize(2 * 123_457))?.checkpoint.size).toBe(2 * 123_457);
  });
});
