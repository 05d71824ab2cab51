/**
 * A ledger that lost its lease while one of its batches was in flight (paused: GC, a stopped
 * VM) must not change an index entry the new writer wrote. It used to, on finding an entry
 * where it planned to create one: it read it again and overwrote it at the revision just read,
 * dropping the `corrected_by` the new writer had added, so the verifier showed the corrected
 * receipt as a plain allow (Integrator.writeFreshIndexEntry).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import pino from 'pino';
import { startTestNats, type TestNats } from '../support/nats.js';
import { ensureResources, type ChioResources } from '../../src/store/resources.js';
import { LedgerLease } from '../../src/store/ledger-lease.js';
import { TileStore } from '../../src/store/tile-store.js';
import { Integrator } from '../../src/ledger/integrator.js';
import { readIndexEntry } from '../../src/store/receipt-index.js';
import { canonicalBytes } from '../../src/receipt/jcs.js';
import { GENESIS_PREV } from '../../src/receipt/receipt.js';
import { toCorrectionDraft } from '../../src/receipt/correction.js';
import { bodyOf, draftOf, kernelOf, signBody, signReceipt } from '../unit/receipt/helpers.js';

let nats: TestNats;
let nc: NatsConnection;
let resources: ChioResources;

beforeAll(async () => {
  nats = await startTestNats();
  nc = await connect({ servers: nats.current.url });
  resources = await ensureResources(nc);
});

afterAll(async () => {
  await nc?.drain();
  await nats?.cleanup();
});

describe('a fenced ledger and the index', () => {
  it('an old writer resuming after a takeover does not drop corrected_by from an entry', async () => {
    const kernel = kernelOf(5);
    const x = signReceipt(draftOf(1), { chain: 'fc', seq: 1, prev: GENESIS_PREV }, kernel);
    const c = signBody(bodyOf(toCorrectionDraft(x, '2025-01-01T00:01:00.000Z'), { chain: 'fc', seq: 2, prev: x.id }, kernel.verifierKey), kernel.signer);
    const m1 = { seq: 1, data: canonicalBytes(x) };
    const m2 = { seq: 2, data: canonicalBytes(c) };
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const log = pino({ level: 'silent' });

    // Writer A: its index writes wait at a gate (a pause of its process).
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let reached!: () => void;
    const atGate = new Promise<void>((r) => (reached = r));
    const gatedIndex = new Proxy(resources.index, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target) as unknown;
        if (prop === 'put') return async (...args: unknown[]) => (reached(), await gate, (v as (...a: unknown[]) => unknown).apply(target, args));
        return typeof v === 'function' ? v.bind(target) : v;
      },
    }) as KV;
    const leaseA = new LedgerLease(resources.ledger, { holder: 'A', ttlMs: 1000 });
    expect(await leaseA.tryAcquire()).toBe('free');
    const a = new Integrator({ js, jsm, index: gatedIndex, chains: resources.chains, lease: leaseA, tiles: new TileStore(resources.tiles, resources.entries), kernelKeys: [kernel.verifierKey], log });
    await a.open();
    const aDone = a.integrate([m1]).then(() => 'committed', (err: Error) => `failed: ${err.message}`);
    await atGate;

    // Writer B takes the lease over (A stopped renewing) and integrates the receipt and its correction.
    let t = 0;
    const leaseB = new LedgerLease(resources.ledger, { holder: 'B', ttlMs: 1000, now: () => t });
    expect(await leaseB.tryAcquire()).toBeUndefined();
    t = 2000;
    expect(await leaseB.tryAcquire()).toBe('takeover');
    const b = new Integrator({ js, jsm, index: resources.index, chains: resources.chains, lease: leaseB, tiles: new TileStore(resources.tiles, resources.entries), kernelKeys: [kernel.verifierKey], log });
    await b.open();
    await b.integrate([m1]);
    await b.integrate([m2]);
    expect((await readIndexEntry(resources.index, x.id))?.corrected_by).toBe(c.id);

    // A resumes.
    open();
    expect(await aDone).toMatch(/^failed: .*(another ledger|lease)/);
    expect(await readIndexEntry(resources.index, x.id)).toEqual({ index: 0, seq: 1, corrected_by: c.id });
  }, 30_000);
});
