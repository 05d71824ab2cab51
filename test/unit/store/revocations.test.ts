import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { revocationKey, revokeCapability } from '../../../src/store/revocations.js';
import { openRevocationsBucket } from '../../../src/store/resources.js';
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
