/**
 * The ledger's crash rule (docs/design.md): a crash at any point of a batch is repaired by
 * integrating the same messages again. Every write the integrator makes (index, chain heads,
 * hash tiles, entry bundles, state) is made to fail in turn, on a real nats-server; after each
 * failure a fresh integrator re-reads the committed state and integrates the batch again. The
 * result must be the tree anyone recomputes from the stream: same root, every id at its index,
 * nothing quarantined.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { ObjectStore } from '@nats-io/obj';
import { startTestNats, type TestNats } from '../support/nats.js';
import { ensureResources, QUARANTINE_STREAM, RECEIPTS_STREAM, receiptSubject, type ChioResources } from '../../src/store/resources.js';
import { Integrator } from '../../src/ledger/integrator.js';
import { LedgerLease } from '../../src/store/ledger-lease.js';
import type { StoredMessage } from '../../src/store/receipts.js';
import type { Receipt } from '../../src/receipt/receipt.js';
import { TileStore } from '../../src/store/tile-store.js';
import { createLogger } from '../../src/log.js';
import { canonicalBytes } from '../../src/receipt/jcs.js';
import { MemoryHashStore, openCheckpoint, treeHash } from '../../src/tlog/index.js';
import { readLatestCheckpoint } from '../../src/store/checkpoints.js';
import { toHex } from '../../src/encoding.js';
import { chainOf, kernelOf } from '../unit/receipt/helpers.js';
import { expectRejectCode } from '../support/errors.js';

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

/** Counts writes and throws on the one numbered `failAt` (1-based), as a crash would stop them. */
class Crash {
  writes = 0;
  failAt = Infinity;
  hit(): void {
    this.writes += 1;
    if (this.writes === this.failAt) throw new InjectedCrash(`injected crash at write ${this.writes}`);
  }
}

class InjectedCrash extends Error {}

function crashingKv(kv: KV, crash: Crash): KV {
  return new Proxy(kv, {
    get(target, prop, receiver) {
      if (prop === 'put') return async (...args: Parameters<KV['put']>) => (crash.hit(), target.put(...args));
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function crashingStore(store: ObjectStore, crash: Crash): ObjectStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'putBlob') return async (...args: Parameters<ObjectStore['putBlob']>) => (crash.hit(), target.putBlob(...args));
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe('Ledger.stop', () => {
  it('finishes when called right after start (a SIGTERM during start-up), with the last checkpoint published', async () => {
    const { Ledger } = await import('../../src/ledger/ledger.js');
    const { newEd25519SignerKey } = await import('../../src/tlog/index.js');
    const logKey = newEd25519SignerKey('chio.local/stop-test', new Uint8Array(32).fill(9));
    const ledger = new Ledger({ nc, resources, kernelKeys: [], origin: 'chio.local/stop-test', logSignerKey: logKey.signerKey, log: createLogger('silent') });
    await ledger.start();
    await ledger.stop();
    const latest = await readLatestCheckpoint(await jetstreamManager(nc));
    expect(openCheckpoint(latest!.note, logKey.verifierKey).size).toBe(ledger.treeSize);
    expect(ledger.publishedSize).toBe(ledger.treeSize);
  });
});

describe('Integrator, when the process dies in the middle of a batch', () => {
  it('integrates the same messages again into exactly the tree of the stream', async () => {
    const kernel = kernelOf(7);
    const receipts = chainOf(300, kernel, 'recovery');
    const messages: StoredMessage[] = receipts.map((r, i) => ({ seq: i + 1, data: canonicalBytes(r) }));
    const crash = new Crash();
    const log = createLogger('silent');
    const open = async () => {
      const tiles = new TileStore(crashingKv(resources.tiles, crash), crashingStore(resources.entries, crash));
      // The same holder each time: a restarted process whose lease record names it.
      const lease = new LedgerLease(crashingKv(resources.ledger, crash), { holder: 'recovery-test' });
      expect(await lease.tryAcquire()).toBe('free');
      const integrator = new Integrator({
        js: jetstream(nc),
        jsm: await jetstreamManager(nc),
        index: crashingKv(resources.index, crash),
        chains: crashingKv(resources.chains, crash),
        lease,
        tiles,
        kernelKeys: [kernel.verifierKey],
        log,
      });
      await integrator.open();
      return integrator;
    };

    // Batches that cross tile boundaries (256) and end on partial tiles.
    const batches = [messages.slice(0, 37), messages.slice(37, 100), messages.slice(100, 270), messages.slice(270)];
    let crashes = 0;
    for (const batch of batches) {
      // Count the writes of a clean run of this batch, then crash at every one of them in turn
      // (stepping through a sample for the big batch, to keep the run short).
      for (let at = 1; ; at += batch.length > 100 ? 37 : 3) {
        crash.failAt = Infinity;
        const integrator = await open();
        crash.writes = 0;
        crash.failAt = at;
        const failed = await integrator.integrate(batch).then(() => false, () => true);
        if (!failed) break;
        crashes += 1;
      }
    }
    crash.failAt = Infinity;
    const integrator = await open();
    expect(crashes).toBeGreaterThan(20);

    const reference = new MemoryHashStore();
    for (const m of messages) reference.append(m.data);
    const expectedRoot = await treeHash(300, reference.readHashes);
    expect(integrator.size).toBe(300);
    expect(integrator.streamSeq).toBe(300);
    expect(toHex(integrator.root)).toBe(toHex(expectedRoot));
    for (const [i, r] of receipts.entries()) {
      expect((await resources.index.get(r.id))?.json<{ index: number }>().index).toBe(i);
    }
    expect((await resources.chains.get('recovery'))?.json<{ seq: number; id: string }>()).toMatchObject({ seq: 300, id: receipts[299]!.id });
    const quarantine = await (await jetstreamManager(nc)).streams.info(QUARANTINE_STREAM);
    expect(quarantine.state.messages).toBe(0);
    // Tile 0 and bundle 0 are full: the partial ones at the size the last batch started from are gone.
    expect((await resources.tiles.get('tile/0/000.p/100'))?.operation).toBe('PURGE');
    expect(await new TileStore(resources.tiles, resources.entries).readEntryBundle('tile/entries/000.p/100')).toBeUndefined();
    expect((await resources.tiles.get('tile/0/000'))?.operation).toBe('PUT');
  }, 120_000);

  it('quarantines a refused message once, also when the replay comes after the duplicate window', async () => {
    const kernel = kernelOf(9);
    const crash = new Crash();
    const jsm = await jetstreamManager(nc);
    const lease = new LedgerLease(crashingKv(resources.ledger, crash), { holder: 'recovery-test' });
    expect(await lease.tryAcquire()).toBe('free');
    const integrator = new Integrator({ js: jetstream(nc), jsm, index: resources.index, chains: resources.chains, lease, tiles: new TileStore(resources.tiles, resources.entries), kernelKeys: [kernel.verifierKey], log: createLogger('silent') });
    const committed = await integrator.open();
    const receipts = chainOf(2, kernel, 'outage');
    const batch = [canonicalBytes(receipts[0]!), new TextEncoder().encode('not a receipt'), canonicalBytes(receipts[1]!)].map((data, i) => ({ seq: committed.streamSeq + 1 + i, data }));
    // The quarantine mark names a message of the receipts stream (one it holds, else it is no
    // mark of the ledger's): let the stream reach the batch's sequences, as it would have.
    while ((await jsm.streams.info(RECEIPTS_STREAM)).state.last_seq < batch.at(-1)!.seq) await jetstream(nc).publish(receiptSubject('filler'), new Uint8Array([0]));
    const quarantined = async () => (await jsm.streams.info(QUARANTINE_STREAM)).state.messages;
    const before = await quarantined();
    crash.writes = 0;
    crash.failAt = 1; // the commit, after the quarantine write
    await expect(integrator.integrate(batch)).rejects.toBeInstanceOf(InjectedCrash);
    expect(await quarantined()).toBe(before + 1);
    // An outage longer than the stream's duplicate window (shortened here to 100 ms).
    const { config } = await jsm.streams.info(QUARANTINE_STREAM);
    await jsm.streams.update(QUARANTINE_STREAM, { ...config, duplicate_window: 100_000_000 });
    await new Promise((r) => setTimeout(r, 300));
    crash.failAt = Infinity;
    await integrator.open();
    expect(await integrator.integrate(batch)).toBe(committed.size + 2);
    expect(await quarantined()).toBe(before + 1);
    await jsm.streams.update(QUARANTINE_STREAM, config);
  });

  it('refuses to go on after a failed batch until it has re-read the committed state', async () => {
    const kernel = kernelOf(8);
    const crash = new Crash();
    const lease = new LedgerLease(crashingKv(resources.ledger, crash), { holder: 'recovery-test' });
    expect(await lease.tryAcquire()).toBe('free');
    const integrator = new Integrator({
      js: jetstream(nc),
      jsm: await jetstreamManager(nc),
      index: resources.index,
      chains: resources.chains,
      lease,
      tiles: new TileStore(resources.tiles, resources.entries),
      kernelKeys: [kernel.verifierKey],
      log: createLogger('silent'),
    });
    const committed = await integrator.open();
    const next = committed.streamSeq + 1;
    const receipts = chainOf(3, kernel, 'dirty');
    const batch = receipts.map((r, i) => ({ seq: next + i, data: canonicalBytes(r) }));
    crash.writes = 0;
    crash.failAt = 1; // the state write
    await expect(integrator.integrate(batch)).rejects.toBeInstanceOf(InjectedCrash);
    crash.failAt = Infinity;
    await expectRejectCode(integrator.integrate(batch), 'INTERNAL');
    expect(await integrator.open()).toEqual(committed);
    expect(await integrator.integrate(batch)).toBe(committed.size + 3);
    expect((await resources.index.get(receipts[2]!.id))?.json<{ index: number }>().index).toBe(committed.size + 2);
  });

  it('quarantines a receipt refused for its chain link only when fresh reads still refuse it breakConfirmMs later', async () => {
    const kernel = kernelOf(11);
    const jsm = await jetstreamManager(nc);
    const lease = new LedgerLease(resources.ledger, { holder: 'recovery-test' });
    expect(await lease.tryAcquire()).toBe('free');
    // A bucket leader that answers from behind, as a replica just elected can: the next read of a
    // chain head finds none.
    let behind = 0;
    const chains = new Proxy(resources.chains, {
      get(target, prop, receiver) {
        if (prop === 'get') return async (...args: Parameters<KV['get']>) => (behind > 0 ? (behind--, null) : target.get(...args));
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    let now = 0;
    const integrator = new Integrator({
      js: jetstream(nc), jsm, index: resources.index, chains, lease, tiles: new TileStore(resources.tiles, resources.entries),
      kernelKeys: [kernel.verifierKey], log: createLogger('silent'), breakConfirmMs: 1_000, now: () => now,
    });
    const committed = await integrator.open();
    const [r1, r2, r3] = chainOf(3, kernel, 'behind');
    const at = (k: number, data: Uint8Array) => ({ seq: committed.streamSeq + k, data });
    expect(await integrator.integrate([at(1, canonicalBytes(r1!))])).toBe(committed.size + 1);
    const quarantined = async () => (await jsm.streams.info(QUARANTINE_STREAM)).state.messages;
    const before = await quarantined();

    // A stale read: refused, but not quarantined; the same batch after open() reads the chain again.
    await integrator.open();
    behind = 1;
    await expectRejectCode(integrator.integrate([at(2, canonicalBytes(r2!))]), 'PENDING');
    now += 200;
    await integrator.open();
    expect(await integrator.integrate([at(2, canonicalBytes(r2!))])).toBe(committed.size + 2);
    expect(await quarantined()).toBe(before);

    // A real break (a seq that skips one) is refused on every read, and quarantined once confirmed.
    const skip = chainOf(5, kernel, 'behind')[4]!;
    const broken = [at(3, canonicalBytes(skip)), at(4, canonicalBytes(r3!))];
    await expectRejectCode(integrator.integrate(broken), 'PENDING');
    now += 999;
    await integrator.open();
    await expectRejectCode(integrator.integrate(broken), 'PENDING');
    now += 1;
    await integrator.open();
    expect(await integrator.integrate(broken)).toBe(committed.size + 3);
    expect(await quarantined()).toBe(before + 1);
    await lease.release();
  });

  it('quarantines at once, in later batches, the receipts a writer chains after one refused for its link', async () => {
    // Each new batch of a broken chain's receipts waited out the confirmation again, so one
    // broken chain held every chain to about a batch per breakConfirmMs.
    const kernel = kernelOf(12);
    const jsm = await jetstreamManager(nc);
    const lease = new LedgerLease(resources.ledger, { holder: 'recovery-test-follow' });
    expect(await lease.tryAcquire()).toBe('free');
    let now = 0;
    const integrator = new Integrator({
      js: jetstream(nc), jsm, index: resources.index, chains: resources.chains, lease, tiles: new TileStore(resources.tiles, resources.entries),
      kernelKeys: [kernel.verifierKey], log: createLogger('silent'), breakConfirmMs: 1_000, now: () => now,
    });
    const committed = await integrator.open();
    const [r1, r2, r3, r4, r5, r6] = chainOf(6, kernel, 'follows');
    const at = (k: number, r: Receipt) => ({ seq: committed.streamSeq + k, data: canonicalBytes(r) });
    expect(await integrator.integrate([at(1, r1!)])).toBe(committed.size + 1);
    const quarantined = async () => (await jsm.streams.info(QUARANTINE_STREAM)).state.messages;
    const before = await quarantined();

    // r4 skips r2 and r3: refused, and quarantined once confirmed.
    await expectRejectCode(integrator.integrate([at(2, r4!)]), 'PENDING');
    now += 1_000;
    await integrator.open();
    expect(await integrator.integrate([at(2, r4!)])).toBe(committed.size + 1);
    // r5 and r6 follow r4: refused at once, batch after batch, without a wait.
    expect(await integrator.integrate([at(3, r5!)])).toBe(committed.size + 1);
    expect(await integrator.integrate([at(4, r6!)])).toBe(committed.size + 1);
    expect(await quarantined()).toBe(before + 3);
    // The chain's own next receipt still links.
    expect(await integrator.integrate([at(5, r2!)])).toBe(committed.size + 2);
    await lease.release();
  });

  it('confirms again, after another ledger held the lease, a receipt chained after one this ledger refused and that one made a leaf', async () => {
    // A refused receipt stored again links once its chain catches up; another ledger may make it
    // a leaf. Remembered as refused across that, its follower refused by a stale read (a bucket
    // leader behind after a failover) was quarantined at once, without the confirmation.
    const kernel = kernelOf(13);
    const jsm = await jetstreamManager(nc);
    let stale: Awaited<ReturnType<KV['get']>> | undefined;
    const chains = new Proxy(resources.chains, {
      get(target, prop, receiver) {
        if (prop === 'get') return async (key: string) => stale ?? target.get(key);
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    let now = 0;
    const ledger = (holder: string) => {
      const lease = new LedgerLease(resources.ledger, { holder });
      const integrator = new Integrator({
        js: jetstream(nc), jsm, index: resources.index, chains, lease, tiles: new TileStore(resources.tiles, resources.entries),
        kernelKeys: [kernel.verifierKey], log: createLogger('silent'), breakConfirmMs: 1_000, now: () => now,
      });
      return { lease, integrator };
    };
    const a = ledger('failover-a');
    expect(await a.lease.tryAcquire()).toBe('free');
    const committed = await a.integrator.open();
    const [r1, r2, r3, r4] = chainOf(4, kernel, 'failover');
    const at = (k: number, r: Receipt) => ({ seq: committed.streamSeq + k, data: canonicalBytes(r) });
    expect(await a.integrator.integrate([at(1, r1!)])).toBe(committed.size + 1);
    const afterR1 = await resources.chains.get('failover');
    // r3 before r2: refused, confirmed, quarantined; ledger A remembers it.
    await expectRejectCode(a.integrator.integrate([at(2, r3!)]), 'PENDING');
    now += 1_000;
    await a.integrator.open();
    expect(await a.integrator.integrate([at(2, r3!)])).toBe(committed.size + 1);
    await a.lease.release();

    // Ledger B: r2, then r3 stored again, both leaves.
    const b = ledger('failover-b');
    expect(await b.lease.tryAcquire()).toBe('free');
    await b.integrator.open();
    expect(await b.integrator.integrate([at(3, r2!), at(4, r3!)])).toBe(committed.size + 3);
    await b.lease.release();

    // A again; its first read of the chain's head is from behind (r1): r4 must wait for confirmation.
    expect(await a.lease.tryAcquire()).toBe('free');
    await a.integrator.open();
    stale = afterR1;
    await expectRejectCode(a.integrator.integrate([at(5, r4!)]), 'PENDING');
    stale = undefined;
    await a.integrator.open();
    expect(await a.integrator.integrate([at(5, r4!)])).toBe(committed.size + 4);
    await a.lease.release();
  });

  it('replaces the index entry an unfinished batch left, past the committed size or naming another receipt\'s committed leaf', async () => {
    const kernel = kernelOf(10);
    const lease = new LedgerLease(resources.ledger, { holder: 'recovery-test' });
    expect(await lease.tryAcquire()).toBe('free');
    const integrator = new Integrator({ js: jetstream(nc), jsm: await jetstreamManager(nc), index: resources.index, chains: resources.chains, lease, tiles: new TileStore(resources.tiles, resources.entries), kernelKeys: [kernel.verifierKey], log: createLogger('silent') });
    const committed = await integrator.open();
    const receipts = chainOf(2, kernel, 'fenced');
    const [first, second] = receipts.map((r, i) => ({ seq: committed.streamSeq + 1 + i, data: canonicalBytes(r) }));
    expect(await integrator.integrate([first!])).toBe(committed.size + 1);
    // An entry inside the committed tree whose leaf is another receipt (here `first`): stale,
    // left by a batch that did not commit and was integrated again under other trust. Replaced;
    // one whose leaf is this receipt stays LEDGER_FENCED (the store is not what this ledger wrote).
    await resources.index.put(receipts[1]!.id, JSON.stringify({ index: committed.size, seq: 1 }));
    expect(await integrator.integrate([second!])).toBe(committed.size + 2);
    expect((await resources.index.get(receipts[1]!.id))?.json()).toEqual({ index: committed.size + 1, seq: committed.streamSeq + 2 });
    // An entry an unfinished batch left at another leaf past the committed size: replaced.
    const [third] = chainOf(3, kernel, 'fenced').slice(2).map((r) => ({ seq: committed.streamSeq + 3, data: canonicalBytes(r), id: r.id }));
    await resources.index.put(third!.id, JSON.stringify({ index: committed.size + 7, seq: 1 }));
    expect(await integrator.integrate([{ seq: third!.seq, data: third!.data }])).toBe(committed.size + 3);
    expect((await resources.index.get(third!.id))?.json()).toEqual({ index: committed.size + 2, seq: committed.streamSeq + 3 });
    await lease.release();
  });
});
