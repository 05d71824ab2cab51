/**
 * A receipt the log refused for its chain link, stored again by whoever may publish on the
 * receipts subjects. Such a copy needs no signing key: the refused receipt's bytes are in the
 * quarantine stream, or were on the wire when it was stored. Each copy was a new refusal to
 * confirm, so every batch holding one failed and waited breakConfirmMs (5 s) before it was
 * quarantined: a copy every few seconds held back every chain's receipts for good.
 */
import { describe, expect, it } from 'vitest';
import { QUARANTINE_STREAM } from '../../src/store/resources.js';
import { Integrator } from '../../src/ledger/integrator.js';
import { LedgerLease } from '../../src/store/ledger-lease.js';
import type { Receipt } from '../../src/receipt/receipt.js';
import { TileStore } from '../../src/store/tile-store.js';
import { createLogger } from '../../src/log.js';
import { canonicalBytes } from '../../src/receipt/jcs.js';
import { chainOf, draftOf, kernelOf, signReceipt } from '../unit/receipt/helpers.js';
import { useTestStore } from '../unit/store/nats.js';
import { expectRejectCode } from '../support/errors.js';

const store = useTestStore();

describe('a copy of a receipt the log refused for its chain link', () => {
  it('is quarantined at once when it forks its chain, and waits for confirmation again only when it is ahead of its chain\'s head', async () => {
    const kernel = kernelOf(14);
    const { js, jsm, resources } = store;
    const lease = new LedgerLease(resources.ledger, { holder: 'refused-replay' });
    expect(await lease.tryAcquire()).toBe('free');
    let now = 0;
    const integrator = new Integrator({
      js, jsm, index: resources.index, chains: resources.chains, lease, tiles: new TileStore(resources.tiles, resources.entries),
      kernelKeys: [kernel.verifierKey], log: createLogger('silent'), breakConfirmMs: 1_000, now: () => now,
    });
    const committed = await integrator.open();
    const [r1, r2, r3, r4] = chainOf(4, kernel, 'replayed') as [Receipt, Receipt, Receipt, Receipt];
    // A second seq 2 after r1, signed by the trusted kernel: a fork.
    const fork = signReceipt(draftOf(42), { chain: 'replayed', seq: 2, prev: r1.id }, kernel);
    let k = 0;
    const next = (r: Receipt) => ({ seq: committed.streamSeq + ++k, data: canonicalBytes(r) });
    const quarantined = async () => (await jsm.streams.info(QUARANTINE_STREAM)).state.messages;
    expect(await integrator.integrate([next(r1), next(r2)])).toBe(committed.size + 2);
    const before = await quarantined();

    // The fork: refused, and quarantined once fresh reads confirm it.
    const forked = [next(fork)];
    await expectRejectCode(integrator.integrate(forked), 'PENDING');
    now += 1_000;
    await integrator.open();
    expect(await integrator.integrate(forked)).toBe(committed.size + 2);
    expect(await quarantined()).toBe(before + 1);

    // Its copies, batch after batch: behind the chain's head, no read makes them link.
    for (let copy = 0; copy < 3; copy++) expect(await integrator.integrate([next(fork)])).toBe(committed.size + 2);
    expect(await quarantined()).toBe(before + 4);

    // r4 skips r3: refused once confirmed. A copy of it may link once r3 is stored, so a copy
    // refused again is confirmed again (a head read from behind must not lose it).
    const skipped = [next(r4)];
    await expectRejectCode(integrator.integrate(skipped), 'PENDING');
    now += 1_000;
    await integrator.open();
    expect(await integrator.integrate(skipped)).toBe(committed.size + 2);
    await expectRejectCode(integrator.integrate([next(r4)]), 'PENDING');
    await integrator.open();
    k -= 1;
    // The chain's own receipts still link, and so does the copy of r4 after r3.
    expect(await integrator.integrate([next(r3), next(r4)])).toBe(committed.size + 4);
    await lease.release();
  });
});
