/**
 * A writer that lost its lease without noticing must not quarantine either. Its quarantine
 * publish names the quarantine stream's last sequence, which a new writer that quarantined
 * nothing yet has not moved: under another trust than the new writer's (kernels.yaml is read per
 * batch, and nodes read it at different times), it recorded as refused a receipt the new writer
 * had made a leaf, and moved the quarantine mark past receipts the new writer had not reached,
 * which the new writer then skipped: refused by it, yet neither a leaf nor quarantined.
 */
import { describe, expect, it } from 'vitest';
import { useTestStore } from '../unit/store/nats.js';
import { receiptSubject } from '../../src/store/resources.js';
import { Integrator } from '../../src/ledger/integrator.js';
import { LedgerLease } from '../../src/store/ledger-lease.js';
import { countQuarantined } from '../../src/store/quarantine.js';
import type { StoredMessage } from '../../src/store/receipts.js';
import { TileStore } from '../../src/store/tile-store.js';
import { createLogger } from '../../src/log.js';
import { canonicalBytes } from '../../src/receipt/jcs.js';
import { GENESIS_PREV } from '../../src/receipt/receipt.js';
import { draftOf, kernelOf, signReceipt } from '../unit/receipt/helpers.js';

const store = useTestStore();

describe('a writer that lost its lease without noticing, under another trust than the new writer', () => {
  it('does not quarantine a receipt the new writer made a leaf', async () => {
    const log = createLogger('silent');
    const { js, jsm, resources } = store;
    const [kA, kB] = [kernelOf(51), kernelOf(52, 'chio-kernel-b')];
    const y = signReceipt(draftOf(1), { chain: 'y', seq: 1, prev: GENESIS_PREV }, kB);
    const data = canonicalBytes(y);
    const messages: StoredMessage[] = [{ seq: (await js.publish(receiptSubject(y.chain), data)).seq, data }];
    const integratorOn = (lease: LedgerLease, kernelKeys: string[]) =>
      new Integrator({ js, jsm, index: resources.index, chains: resources.chains, lease, tiles: new TileStore(resources.tiles, resources.entries), kernelKeys, log, breakConfirmMs: 0 });

    // The old writer trusts kernel A only, and is paused before its next batch.
    const old = new LedgerLease(resources.ledger, { holder: 'old' });
    expect(await old.tryAcquire()).toBe('free');
    const first = integratorOn(old, [kA.verifierKey]);
    await first.open();

    // The new writer trusts kernel B too, takes over and makes y leaf 0.
    const fresh = new LedgerLease(resources.ledger, { holder: 'new', ttlMs: 0 });
    expect(await fresh.tryAcquire()).toBeUndefined();
    expect(await fresh.tryAcquire()).toBe('takeover');
    const second = integratorOn(fresh, [kA.verifierKey, kB.verifierKey]);
    await second.open();
    expect(await second.integrate(messages)).toBe(1);

    // The old writer resumes with its batch, in which y is refused: it must fail without quarantining y.
    await expect(first.integrate(messages)).rejects.toMatchObject({ code: 'LEDGER_FENCED' });
    expect(await countQuarantined(jsm)).toBe(0);
  }, 60_000);
});
