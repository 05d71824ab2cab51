/**
 * Finding the checkpoint of a given size (src/verifier/checkpoint-source.ts), which anyone may
 * ask for with `?size=N`: each search is a binary search over the checkpoints stream, so what
 * it found, and what it did not find at or below the latest size, is never searched again; a
 * size past the latest costs no search; concurrent requests for one size share one search.
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import { beforeAll, describe, expect, it } from 'vitest';
import { CheckpointSource } from '../../../src/verifier/checkpoint-source.js';
import { chainOf } from '../receipt/helpers.js';
import { useTestStore } from '../store/nats.js';
import { LogFixture } from '../store/log-fixture.js';
import { ORIGIN, kernel, logKey } from './use-verifier.js';

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
