import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { revocationKey, revokeCapability } from '../../../src/store/revocations.js';
import { REVOCATIONS_BUCKET, openRevocationsBucket } from '../../../src/store/resources.js';
import { RevocationList } from '../../../src/credentials/revocations.js';
import { createLogger } from '../../../src/log.js';
import { useTestStore } from './nats.js';

const store = useTestStore();

describe('revocationKey', () => {
  it('is the hex SHA-256 of the capability id, so any id makes a valid key', () => {
    const id = 'cap/with spaces*and>wildcards';
    expect(revocationKey(id)).toBe(createHash('sha256').update(id, 'utf8').digest('hex'));
  });
});

describe('revokeCapability', () => {
  it('stores when and why under the key of the id, and nothing about the token', async () => {
    const bucket = await openRevocationsBucket(store.nc);
    const now = () => Date.UTC(2026, 0, 2, 3, 4, 5, 6);
    await revokeCapability(bucket, 'cap-1', 'leaked', now);
    await revokeCapability(bucket, 'cap-2', undefined, now);
    expect((await bucket.get(revocationKey('cap-1')))?.string()).toBe('{"revoked_at":"2026-01-02T03:04:05.006Z","reason":"leaked"}');
    expect((await bucket.get(revocationKey('cap-2')))?.string()).toBe('{"revoked_at":"2026-01-02T03:04:05.006Z"}');
  });
});

describe('RevocationList, when its bucket is lost', () => {
  const silent = createLogger('silent');
  const until = async (done: () => boolean, ms: number) => {
    for (const end = Date.now() + ms; !done() && Date.now() < end; ) await new Promise((r) => setTimeout(r, 50));
    return done();
  };

  // The watch goes on waiting on a stream that is gone, silently: revocations made in the
  // bucket made again (the next `chio token revoke` makes it) would never arrive.
  it('counts every capability as revoked, and says why, once the bucket is deleted and made again', async () => {
    const list = await RevocationList.open(await openRevocationsBucket(store.nc), silent, 100);
    try {
      await revokeCapability(await openRevocationsBucket(store.nc), 'cap-a');
      expect(await until(() => list.isRevoked('cap-a'), 3_000)).toBe(true);
      expect(list.isRevoked('cap-b')).toBe(false);
      await store.jsm.streams.delete(`KV_${REVOCATIONS_BUCKET}`);
      await revokeCapability(await openRevocationsBucket(store.nc), 'cap-b');
      expect(await until(() => list.problem !== undefined, 3_000)).toBe(true);
      expect(list.problem).toMatch(/^the revocations bucket was deleted/);
      expect(list.isRevoked('never-revoked')).toBe(true);
    } finally {
      list.stop();
    }
  });

  // nats.js notices a watch's consumer is gone only after two missed idle heartbeats, 30 s
  // apart: a consumer removed after 5 min without interest (authz cut off from a NATS that
  // stayed up), by an operator, or with the cluster node that held it. For that minute the
  // list looked whole and a revocation made meanwhile was not applied: the revoked token allowed.
  it('sees a revocation made after its watch lost its consumer, failing closed until it has', async () => {
    const list = await RevocationList.open(await openRevocationsBucket(store.nc), silent, 100);
    try {
      const bucket = await openRevocationsBucket(store.nc);
      await revokeCapability(bucket, 'cap-c');
      expect(await until(() => list.isRevoked('cap-c') && list.problem === undefined, 3_000)).toBe(true);
      for await (const consumer of store.jsm.consumers.list(`KV_${REVOCATIONS_BUCKET}`)) await store.jsm.consumers.delete(`KV_${REVOCATIONS_BUCKET}`, consumer.name);
      await revokeCapability(bucket, 'cap-d');
      // Taken back meanwhile: the watch opened again from where it stopped applies that too.
      await bucket.delete(revocationKey('cap-c'));
      expect(await until(() => list.isRevoked('cap-d'), 5_000)).toBe(true);
      expect(await until(() => list.problem === undefined, 5_000)).toBe(true);
      expect([list.isRevoked('cap-c'), list.isRevoked('cap-d'), list.isRevoked('cap-e')]).toEqual([false, true, false]);
    } finally {
      list.stop();
    }
  });
});
