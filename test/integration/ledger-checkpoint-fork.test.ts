/**
 * The log key never signs a tree that does not extend the last checkpoint it signed, whatever
 * the committed state says. That state is the `chio-ledger` KV record, and it can go back while
 * the checkpoints stream does not: a bucket restored from an older backup, a write acknowledged
 * but not yet synced to disk when the machine lost power (two streams, two files), an operator's
 * `nats kv put`. The ledger then integrated the stream again from the older state, under the
 * trust in force now: when that trust differs (a kernel removed from kernels.yaml since), the
 * same messages give other leaves, and the checkpointer signed the new tree, a fork of the one
 * it had signed before — the Checkpointer checked only that the size had grown.
 */
import { describe, expect, it } from 'vitest';
import { useTestStore } from '../unit/store/nats.js';
import { receiptSubject } from '../../src/store/resources.js';
import { Integrator } from '../../src/ledger/integrator.js';
import { Checkpointer } from '../../src/ledger/checkpointer.js';
import { LedgerLease } from '../../src/store/ledger-lease.js';
import { writeLedgerState } from '../../src/store/ledger-state.js';
import { readLatestCheckpoint } from '../../src/store/checkpoints.js';
import type { StoredMessage } from '../../src/store/receipts.js';
import { TileStore } from '../../src/store/tile-store.js';
import { createLogger } from '../../src/log.js';
import { canonicalBytes } from '../../src/receipt/jcs.js';
import { GENESIS_PREV } from '../../src/receipt/receipt.js';
import { newEd25519SignerKey, openCheckpoint } from '../../src/tlog/index.js';
import { draftOf, kernelOf, signReceipt } from '../unit/receipt/helpers.js';

const store = useTestStore();

describe('a committed state older than the last checkpoint', () => {
  it('does not get a tree signed that forks from the last checkpoint', async () => {
    const log = createLogger('silent');
    const { js, jsm, resources } = store;
    const origin = 'chio.test/fork';
    const { signerKey, verifierKey } = newEd25519SignerKey(origin, new Uint8Array(32).fill(9));
    const [kA, kB] = [kernelOf(41), kernelOf(42, 'chio-kernel-b')];
    // Each receipt starts its own chain.
    const receipts = [signReceipt(draftOf(1), { chain: 'x', seq: 1, prev: GENESIS_PREV }, kA), ...['y', 'z1', 'z2'].map((chain, i) => signReceipt(draftOf(2 + i), { chain, seq: 1, prev: GENESIS_PREV }, kB))];
    const messages: StoredMessage[] = [];
    for (const r of receipts) {
      const data = canonicalBytes(r);
      messages.push({ seq: (await js.publish(receiptSubject(r.chain), data)).seq, data });
    }
    const run = async (holder: string, kernelKeys: string[]) => {
      const lease = new LedgerLease(resources.ledger, { holder });
      expect(await lease.tryAcquire()).toBe('free');
      const tiles = new TileStore(resources.tiles, resources.entries);
      const integrator = new Integrator({ js, jsm, index: resources.index, chains: resources.chains, lease, tiles, kernelKeys, log, breakConfirmMs: 0 });
      await integrator.open();
      const checkpointer = new Checkpointer({ js, jsm, tiles, origin, logSignerKey: signerKey, log });
      if (!(await checkpointer.open())) await checkpointer.publish(0, integrator.root);
      return { lease, integrator, checkpointer };
    };

    // Trusting A and B: x and y are leaves, and size 2 is signed.
    const first = await run('first', [kA.verifierKey, kB.verifierKey]);
    expect(await first.integrator.integrate(messages.slice(0, 2))).toBe(2);
    expect((await first.checkpointer.publish(2, first.integrator.root))?.size).toBe(2);
    await first.lease.release();
    const signed = openCheckpoint((await readLatestCheckpoint(jsm))!.note, verifierKey);

    // The committed state goes back to the empty log; the ledger starts again trusting B only.
    await writeLedgerState(resources.ledger, { size: 0, streamSeq: 0 });
    const second = await run('second', [kB.verifierKey]);
    expect(await second.integrator.integrate(messages)).toBe(3); // y z1 z2: x is refused now
    await expect(second.checkpointer.publish(3, second.integrator.root)).rejects.toThrow(/does not extend/);
    const latest = openCheckpoint((await readLatestCheckpoint(jsm))!.note, verifierKey);
    expect(latest).toEqual(signed);
  }, 60_000);
});
