import { describe, expect, it } from 'vitest';
import { LedgerLease } from '../../../src/store/ledger-lease.js';
import { readLedgerRecord } from '../../../src/store/ledger-state.js';
import { expectRejectCode } from '../../support/errors.js';
import { useTestStore } from './nats.js';

const store = useTestStore();

/** Two ledgers on one record, each with its own clock. */
function pair() {
  const clocks = { a: 0, b: 0 };
  const a = new LedgerLease(store.resources.ledger, { holder: 'ledger-a', ttlMs: 3_000, now: () => clocks.a });
  const b = new LedgerLease(store.resources.ledger, { holder: 'ledger-b', ttlMs: 3_000, now: () => clocks.b });
  return { a, b, clocks };
}

describe('LedgerLease', () => {
  it('is taken when free, and a second ledger waits as standby while the holder renews', async () => {
    const { a, b, clocks } = pair();
    expect(await a.tryAcquire()).toBe('free');
    expect(await b.tryAcquire()).toBeUndefined();
    for (let t = 1_000; t <= 6_000; t += 1_000) {
      clocks.b = t;
      expect(await a.renew()).toBe(true);
      expect(await b.tryAcquire()).toBeUndefined();
    }
    expect(b.currentHolder).toBe('ledger-a');
    await a.commit({ size: 3, streamSeq: 4 });
    expect((await readLedgerRecord(store.resources.ledger)).record).toEqual({ size: 3, streamSeq: 4, holder: 'ledger-a' });
    await a.release();
    expect(await b.tryAcquire()).toBe('free'); // released: no wait for the TTL
    expect(b.state).toEqual({ size: 3, streamSeq: 4 });
    await b.release();
  });

  it('is taken over once its holder has not renewed for the TTL, and fences the old holder', async () => {
    const { a, b, clocks } = pair();
    expect(await a.tryAcquire()).toBe('free');
    await a.commit({ size: 5, streamSeq: 6 });
    expect(await b.tryAcquire()).toBeUndefined();
    clocks.b = 2_999;
    expect(await b.tryAcquire()).toBeUndefined();
    clocks.b = 3_000;
    expect(await b.tryAcquire()).toBe('takeover');
    expect(b.state).toEqual({ size: 5, streamSeq: 6 });
    // The old holder wakes up (a GC pause, a stopped VM): it can neither commit nor renew.
    await expectRejectCode(a.commit({ size: 9, streamSeq: 10 }), 'LEDGER_FENCED');
    expect(a.isHeld).toBe(false);
    expect(await a.renew()).toBe(false);
    await b.commit({ size: 7, streamSeq: 8 });
    expect((await readLedgerRecord(store.resources.ledger)).record).toEqual({ size: 7, streamSeq: 8, holder: 'ledger-b' });
    await b.release();
  });

  it('keeps the digest of the message at the cursor in the record when the lease is taken, free or over', async () => {
    const { a, b, clocks } = pair();
    const lastMessage = 'ab'.repeat(32);
    expect(await a.tryAcquire()).toBe('free');
    await a.commit({ size: 5, streamSeq: 6, lastMessage });
    await a.release();
    // Taken when free (a restart): the record as written by the take keeps the digest.
    expect(await b.tryAcquire()).toBe('free');
    expect((await readLedgerRecord(store.resources.ledger)).record).toEqual({ size: 5, streamSeq: 6, lastMessage, holder: 'ledger-b' });
    // b dies before its first renewal; c takes over: it still knows what was read at the cursor.
    const c = new LedgerLease(store.resources.ledger, { holder: 'ledger-c', ttlMs: 3_000, now: () => clocks.b });
    expect(await c.tryAcquire()).toBeUndefined();
    clocks.b = 3_000;
    expect(await c.tryAcquire()).toBe('takeover');
    expect(c.state).toEqual({ size: 5, streamSeq: 6, lastMessage });
    expect((await readLedgerRecord(store.resources.ledger)).record).toEqual({ size: 5, streamSeq: 6, lastMessage, holder: 'ledger-c' });
    await c.release();
    expect((await readLedgerRecord(store.resources.ledger)).record).toEqual({ size: 5, streamSeq: 6, lastMessage });
  });

  it("is taken at once from the holder named as this ledger's former self, and from no other", async () => {
    const { a, clocks } = pair();
    expect(await a.tryAcquire()).toBe('free');
    await a.commit({ size: 2, streamSeq: 3 });
    // a is killed; its restart names a as its former id (chio up: src/up-ledger-holder.ts).
    const restarted = new LedgerLease(store.resources.ledger, { holder: 'ledger-a2', formerHolder: 'ledger-a', ttlMs: 3_000, now: () => clocks.b });
    expect(await restarted.tryAcquire()).toBe('free');
    expect(restarted.state).toEqual({ size: 2, streamSeq: 3 });
    await expectRejectCode(a.commit({ size: 4, streamSeq: 5 }), 'LEDGER_FENCED');
    // A ledger whose former id is a, while a2 holds the lease, waits like any standby.
    const stranger = new LedgerLease(store.resources.ledger, { holder: 'ledger-a3', formerHolder: 'ledger-a', ttlMs: 3_000, now: () => clocks.b });
    expect(await stranger.tryAcquire()).toBeUndefined();
    expect(await restarted.renew()).toBe(true);
    clocks.b = 2_999;
    expect(await stranger.tryAcquire()).toBeUndefined();
    expect(stranger.currentHolder).toBe('ledger-a2');
    await restarted.release();
  });

  it('lets only one of two standbys take an expired lease', async () => {
    const { a, b, clocks } = pair();
    const c = new LedgerLease(store.resources.ledger, { holder: 'ledger-c', ttlMs: 3_000, now: () => clocks.b });
    expect(await a.tryAcquire()).toBe('free');
    await Promise.all([b.tryAcquire(), c.tryAcquire()]);
    clocks.b = 5_000;
    const taken = await Promise.all([b.tryAcquire(), c.tryAcquire()]);
    expect(taken.filter((t) => t === 'takeover')).toHaveLength(1);
    expect([b.isHeld, c.isHeld].filter(Boolean)).toHaveLength(1);
  });
});
