/**
 * A writer that lost its lease without noticing (paused past its TTL: GC, a stopped VM, SIGSTOP)
 * must not write tiles or bundles over the new writer's committed ones. Its batch's index
 * entries and chain heads are revision-checked, but a receipt the new writer refused (its kernel
 * trust had changed: kernels.yaml is read per batch, and a standby may read it later) leaves no
 * index entry and no head for those checks to trip on; its tiles and bundle were written
 * unconditionally, over the new writer's tile of the same width. The stored tree then no longer
 * hashed to the checkpoint the new writer had signed: the verifier served the refused receipt
 * as leaf 0 of that checkpoint, with a proof that does not verify, and a ledger opening on that
 * checkpoint refused to run (TREE_INCONSISTENT).
 */
import { describe, expect, it } from 'vitest';
import { useTestStore } from '../unit/store/nats.js';
import { receiptSubject } from '../../src/store/resources.js';
import { Integrator } from '../../src/ledger/integrator.js';
import { Checkpointer } from '../../src/ledger/checkpointer.js';
import { LedgerLease } from '../../src/store/ledger-lease.js';
import type { StoredMessage } from '../../src/store/receipts.js';
import { TileStore } from '../../src/store/tile-store.js';
import { createLogger } from '../../src/log.js';
import { canonicalBytes } from '../../src/receipt/jcs.js';
import { GENESIS_PREV } from '../../src/receipt/receipt.js';
import { newEd25519SignerKey, treeHash } from '../../src/tlog/index.js';
import { bytesEqual } from '../../src/encoding.js';
import { draftOf, kernelOf, signReceipt } from '../unit/receipt/helpers.js';

const store = useTestStore();

describe('a writer that lost its lease without noticing, under another trust than the new writer', () => {
  it("does not write its tiles over the new writer's committed tree", async () => {
    const log = createLogger('silent');
    const { js, jsm, resources } = store;
    const [kA, kB] = [kernelOf(31), kernelOf(32, 'chio-kernel-b')];
    const x = signReceipt(draftOf(1), { chain: 'x', seq: 1, prev: GENESIS_PREV }, kA);
    const y = signReceipt(draftOf(2), { chain: 'y', seq: 1, prev: GENESIS_PREV }, kB);
    const messages: StoredMessage[] = [];
    for (const r of [x, y]) {
      const data = canonicalBytes(r);
      messages.push({ seq: (await js.publish(receiptSubject(r.chain), data)).seq, data });
    }
    const integratorOn = (lease: LedgerLease, kernelKeys: string[]) =>
      new Integrator({ js, jsm, index: resources.index, chains: resources.chains, lease, tiles: new TileStore(resources.tiles, resources.entries), kernelKeys, log, breakConfirmMs: 0 });

    // The old writer trusts kernels A and B, and is paused before its next batch.
    const old = new LedgerLease(resources.ledger, { holder: 'old' });
    expect(await old.tryAcquire()).toBe('free');
    const first = integratorOn(old, [kA.verifierKey, kB.verifierKey]);
    expect((await first.open()).size).toBe(0);

    // The new writer, trusting B only, takes over: x is refused, y is leaf 0, and it signs size 1.
    const fresh = new LedgerLease(resources.ledger, { holder: 'new', ttlMs: 0 });
    expect(await fresh.tryAcquire()).toBeUndefined();
    expect(await fresh.tryAcquire()).toBe('takeover');
    const second = integratorOn(fresh, [kB.verifierKey]);
    await second.open();
    expect(await second.integrate(messages)).toBe(1);
    const { signerKey } = newEd25519SignerKey('chio.test/fenced-tiles', new Uint8Array(32).fill(7));
    const checkpointer = () => new Checkpointer({ js, jsm, tiles: new TileStore(resources.tiles, resources.entries), origin: 'chio.test/fenced-tiles', logSignerKey: signerKey, log });
    expect((await checkpointer().publish(1, second.root))?.size).toBe(1);

    // The old writer resumes with its batch: x as leaf 0. It must fail without touching the tree.
    await expect(first.integrate(messages.slice(0, 1))).rejects.toThrow(/another/);
    const tiles = new TileStore(resources.tiles, resources.entries);
    expect(bytesEqual(await treeHash(1, tiles.hashReader(1)), second.root)).toBe(true);
    expect(JSON.parse(new TextDecoder().decode((await tiles.readEntries(0, 1))[0]!)).id).toBe(y.id);
    // A ledger starting now opens on the signed checkpoint.
    expect((await checkpointer().open())?.size).toBe(1);
  }, 60_000);
});
