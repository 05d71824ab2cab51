/**
 * RevocationList when its watch goes down. nats.js ends a KV watch whose consumer it could not
 * make again (JetStream away for minutes while the connection stayed up): until a watch is open
 * again every capability counts as revoked, and then revocations are known again without a
 * restart. The end of a watch cannot be brought about on demand with a real nats-server, so the
 * bucket here is a stand-in with the two calls the list makes (status, watch);
 * test/unit/store/revocations.test.ts runs the list against a real one.
 */
import { describe, expect, it } from 'vitest';
import type { KV, KvWatchEntry } from '@nats-io/kv';
import { RevocationList } from '../../../src/credentials/revocations.js';
import { revocationKey } from '../../../src/store/revocations.js';
import { createLogger } from '../../../src/log.js';

/** A watch that hands out `entries`, then ends when `end()` is called (or at once). */
function watchOf(entries: string[], endsAtOnce: boolean) {
  let end!: () => void;
  const ended = new Promise<void>((resolve) => (end = resolve));
  if (endsAtOnce) end();
  return {
    end,
    stop: () => end(),
    async *[Symbol.asyncIterator]() {
      for (const [i, id] of entries.entries()) yield { key: revocationKey(id), operation: 'PUT', revision: i + 1, delta: entries.length - 1 - i } as KvWatchEntry;
      await ended;
    },
  };
}

/** `held`: the watch after the first is opened only once it resolves (the test looks between). */
function bucketOf(watches: Array<ReturnType<typeof watchOf>>, values: number[], held: Promise<void> = Promise.resolve()): KV {
  let opened = 0;
  return {
    status: async () => {
      const held = values[Math.min(opened, values.length - 1)]!;
      return { values: held, streamInfo: { created: '2026-12-01T00:00:00Z', state: { last_seq: held } } };
    },
    watch: async () => {
      if (opened > 0) await held;
      return watches[opened++]!;
    },
  } as unknown as KV;
}

const until = async (done: () => boolean, ms: number) => {
  for (const end = Date.now() + ms; !done() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 10));
  return done();
};

describe('RevocationList, when its watch ends', () => {
  it('counts every capability as revoked until a new watch has loaded, then knows revocations again', async () => {
    const first = watchOf(['cap-a'], false);
    const second = watchOf(['cap-a', 'cap-b'], false);
    // The second watch opens when the test says: between the two the list must be seen failing,
    // and a poll of 10 ms on a loaded machine could otherwise miss that window altogether.
    let reopen!: () => void;
    const list = await RevocationList.open(bucketOf([first, second], [1, 2], new Promise<void>((r) => (reopen = r))), createLogger('silent'), 20);
    try {
      expect([list.isRevoked('cap-a'), list.isRevoked('cap-b'), list.problem]).toEqual([true, false, undefined]);
      first.end();
      expect(await until(() => list.problem !== undefined, 5_000)).toBe(true);
      expect(list.problem).toBe('revocation watch ended');
      expect(list.isRevoked('cap-b')).toBe(true);
      reopen();
      expect(await until(() => list.problem === undefined, 5_000)).toBe(true);
      expect([list.isRevoked('cap-a'), list.isRevoked('cap-b'), list.isRevoked('cap-c')]).toEqual([true, true, false]);
    } finally {
      list.stop();
    }
  });

  it('goes on trying while a new watch cannot be opened', async () => {
    const first = watchOf([], false);
    let tries = 0;
    const kv = {
      status: async () => ({ values: 0, streamInfo: { created: 't', state: { last_seq: 0 } } }),
      watch: async () => {
        tries++;
        if (tries === 1) return first;
        if (tries < 4) throw new Error('JetStream not available');
        return watchOf(['cap-z'], false);
      },
    } as unknown as KV;
    const list = await RevocationList.open(kv, createLogger('silent'), 20);
    try {
      first.end();
      expect(await until(() => list.problem !== undefined, 1_000)).toBe(true);
      expect(await until(() => list.isRevoked('cap-z') && list.problem === undefined, 2_000)).toBe(true);
      expect(tries).toBe(4);
    } finally {
      list.stop();
    }
  });

  it('tries again when a new watch ends before it has loaded, rather than waiting on it for ever', async () => {
    // JetStream going away again just after the consumer was made: nats.js ends that watch
    // before it hands out a single entry. The list must not stay failed closed until a restart.
    const first = watchOf(['cap-a'], false);
    const stillborn = watchOf([], true);
    const third = watchOf(['cap-a', 'cap-b'], false);
    const list = await RevocationList.open(bucketOf([first, stillborn, third], [1, 2]), createLogger('silent'), 20);
    try {
      first.end();
      expect(await until(() => list.problem !== undefined, 1_000)).toBe(true);
      expect(await until(() => list.problem === undefined, 2_000)).toBe(true);
      expect([list.isRevoked('cap-b'), list.isRevoked('cap-c')]).toEqual([true, false]);
    } finally {
      list.stop();
    }
  });

  it('refuses to open, rather than hang, when its first watch ends before it has loaded', async () => {
    const open = RevocationList.open(bucketOf([watchOf([], true)], [1]), createLogger('silent'), 20);
    await expect(Promise.race([open, new Promise((r) => setTimeout(() => r('hung'), 1_000))])).rejects.toThrow(/ended before/);
  });
});
