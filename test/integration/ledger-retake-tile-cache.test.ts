/**
 * A ledger keeps one TileStore, and its cache, across its terms as writer. A batch whose commit
 * failed left its tiles and bundle in that cache; when another ledger, under another kernel trust
 * (kernels.yaml is read per batch, and nodes read it at different times), then committed other
 * leaves at those paths, the first ledger, taking the lease back, read its own uncommitted tiles
 * from memory: a root that is not the stored tree's, chain heads read from the wrong leaves, and
 * bundles that rewrote the other ledger's committed leaves.
 */
import { describe, expect, it } from 'vitest';
import { useTestStore } from '../unit/store/nats.js';
import { receiptSubject } from '../../src/store/resources.js';
import { Integrator } from '../../src/ledger/integrator.js';
import { LedgerLease } from '../../src/store/ledger-lease.js';
import type { LedgerState } from '../../src/store/ledger-state.js';
import type { StoredMessage } from '../../src/store/receipts.js';
import { TileStore } from '../../src/store/tile-store.js';
import { createLogger } from '../../src/log.js';
import { canonicalBytes } from '../../src/receipt/jcs.js';
import { GENESIS_PREV, type Receipt } from '../../src/receipt/receipt.js';
import { treeHash } from '../../src/tlog/index.js';
import { bytesEqual } from '../../src/encoding.js';
import { draftOf, kernelOf, signReceipt } from '../unit/receipt/helpers.js';

const store = useTestStore();

/** A lease whose next commit fails before it is written, as one whose answer never came. */
class FailingCommitLease extends LedgerLease {
  failNext = false;
  override commit(state: LedgerState): Promise<void> {
    if (!this.failNext) return super.commit(state);
    this.failNext = false;
    return Promise.reject(new Error('commit lost'));
  }
}

describe('a ledger that takes the lease back after another ledger wrote', () => {
  it('reads the tree as stored, not the tiles of its own batch that did not commit', async () => {
    const log = createLogger('silent');
    const { js, jsm, resources } = store;
    const [kA, kB] = [kernelOf(41), kernelOf(42, 'chio-kernel-b')];
    const x = signReceipt(draftOf(1), { chain: 'x', seq: 1, prev: GENESIS_PREV }, kA);
    const y1 = signReceipt(draftOf(2), { chain: 'y', seq: 1, prev: GENESIS_PREV }, kB);
    const y2 = signReceipt(draftOf(3), { chain: 'y', seq: 2, prev: y1.id }, kB);
    const y3 = signReceipt(draftOf(4), { chain: 'y', seq: 3, prev: y2.id }, kB);
    const publish = async (r: Receipt): Promise<StoredMessage> => {
      const data = canonicalBytes(r);
      return { seq: (await js.publish(receiptSubject(r.chain), data)).seq, data };
    };
    const messages = [await publish(x), await publish(y1), await publish(y2)];

    // Ledger A trusts kernels A and B; its batch [x, y1] writes its tiles, and its commit is lost.
    const leaseA = new FailingCommitLease(resources.ledger, { holder: 'a' });
    expect(await leaseA.tryAcquire()).toBe('free');
    const tilesA = new TileStore(resources.tiles, resources.entries);
    const a = new Integrator({ js, jsm, index: resources.index, chains: resources.chains, lease: leaseA, tiles: tilesA, kernelKeys: [kA.verifierKey, kB.verifierKey], log, breakConfirmMs: 0 });
    await a.open();
    leaseA.failNext = true;
    await expect(a.integrate(messages.slice(0, 2))).rejects.toThrow('commit lost');
    leaseA.drop();

    // Ledger B, trusting kernel B only, takes over: x is refused, y1 and y2 are leaves 0 and 1.
    const leaseB = new LedgerLease(resources.ledger, { holder: 'b', ttlMs: 0 });
    expect(await leaseB.tryAcquire()).toBeUndefined();
    expect(await leaseB.tryAcquire()).toBe('takeover');
    const b = new Integrator({ js, jsm, index: resources.index, chains: resources.chains, lease: leaseB, tiles: new TileStore(resources.tiles, resources.entries), kernelKeys: [kB.verifierKey], log, breakConfirmMs: 0 });
    await b.open();
    expect(await b.integrate(messages)).toBe(2);
    await leaseB.release();

    // A takes the lease back, with the TileStore it kept: it continues B's tree.
    expect(await leaseA.tryAcquire()).toBe('free');
    expect((await a.open()).size).toBe(2);
    expect(bytesEqual(a.root, b.root)).toBe(true);
    expect(await a.integrate([await publish(y3)])).toBe(3);
    const stored = new TileStore(resources.tiles, resources.entries);
    const ids = (await stored.readEntries(0, 3)).map((e) => (JSON.parse(new TextDecoder().decode(e)) as Receipt).id);
    expect(ids).toEqual([y1.id, y2.id, y3.id]);
    expect(bytesEqual(await treeHash(3, stored.hashReader(3)), a.root)).toBe(true);
  }, 60_000);
});
