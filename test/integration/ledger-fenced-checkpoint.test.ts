/**
 * A writer that lost its lease without noticing (paused past its TTL, its renewal not yet
 * failed) must not sign a checkpoint: the ledger that took over writes the log and signs its
 * trees. Before, a tick of the checkpoint timer, or a stop, signed the old writer's committed
 * tree as long as it still believed it held the lease.
 */
import { describe, expect, it } from 'vitest';
import { useTestStore } from '../unit/store/nats.js';
import { receiptSubject } from '../../src/store/resources.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { LedgerLease } from '../../src/store/ledger-lease.js';
import { readLatestCheckpoint } from '../../src/store/checkpoints.js';
import { createLogger } from '../../src/log.js';
import { canonicalBytes } from '../../src/receipt/jcs.js';
import { newEd25519SignerKey, openCheckpoint } from '../../src/tlog/index.js';
import { chainOf, kernelOf } from '../unit/receipt/helpers.js';

const store = useTestStore();

describe('a ledger that lost its lease without noticing', () => {
  it('signs no checkpoint of its tree once another ledger holds the lease', async () => {
    const { nc, js, jsm, resources } = store;
    const kernel = kernelOf(41);
    const logKey = newEd25519SignerKey('chio.test/fenced-checkpoint', new Uint8Array(32).fill(5));
    const latestSize = async () => openCheckpoint((await readLatestCheckpoint(jsm))!.note, logKey.verifierKey).size;
    // No renewal and no checkpoint tick during the test: what is signed is what stop() signs.
    const ledger = new Ledger({
      nc, resources, kernelKeys: [kernel.verifierKey], origin: 'chio.test/fenced-checkpoint', logSignerKey: logKey.signerKey, log: createLogger('silent'),
      checkpointIntervalMs: 600_000, lease: { holder: 'old', renewMs: 600_000 },
    });
    await ledger.start();
    for (const r of chainOf(2, kernel)) await js.publish(receiptSubject(r.chain), canonicalBytes(r));
    for (const until = Date.now() + 20_000; ledger.treeSize < 2 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 50));
    expect(ledger.treeSize).toBe(2);
    expect(await latestSize()).toBe(0);

    // Another ledger takes the lease over (the old one's record has not changed for its TTL).
    const other = new LedgerLease(resources.ledger, { holder: 'new', ttlMs: 0 });
    expect(await other.tryAcquire()).toBeUndefined();
    expect(await other.tryAcquire()).toBe('takeover');

    await ledger.stop();
    expect(await latestSize()).toBe(0);
  }, 60_000);
});
