/**
 * Chain heads of a batch that may not have committed are only ever read as their base, never
 * written back: opening the ledger moves no head. Over a real nats-server, the two cases where
 * writing them back went wrong (found by a review of such a version):
 *   - a commit whose answer was lost: the put was applied, the ledger believes it was not, and
 *     opens again at the old size; the heads it wrote did commit;
 *   - a writer that lost its lease without noticing opens again; the heads are the new writer's.
 */
import { describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { useTestStore } from '../unit/store/nats.js';
import { QUARANTINE_STREAM, receiptSubject, type ChioResources } from '../../src/store/resources.js';
import { Integrator } from '../../src/ledger/integrator.js';
import { LedgerLease } from '../../src/store/ledger-lease.js';
import { readChainHeadRecord } from '../../src/store/chain-heads.js';
import { readLedgerState } from '../../src/store/ledger-state.js';
import type { StoredMessage } from '../../src/store/receipts.js';
import { TileStore } from '../../src/store/tile-store.js';
import { createLogger } from '../../src/log.js';
import { canonicalBytes } from '../../src/receipt/jcs.js';
import { chainOf, kernelOf } from '../unit/receipt/helpers.js';

const log = createLogger('silent');
const kA = kernelOf(21);

async function publishChain(nc: NatsConnection, n: number): Promise<StoredMessage[]> {
  const js = jetstream(nc);
  const messages: StoredMessage[] = [];
  for (const r of chainOf(n, kA, 'a')) {
    const data = canonicalBytes(r);
    messages.push({ seq: (await js.publish(receiptSubject(r.chain), data)).seq, data });
  }
  return messages;
}

async function integratorOn(nc: NatsConnection, resources: ChioResources, lease: LedgerLease): Promise<Integrator> {
  return new Integrator({ js: jetstream(nc), jsm: await jetstreamManager(nc), index: resources.index, chains: resources.chains, lease, tiles: new TileStore(resources.tiles, resources.entries), kernelKeys: [kA.verifierKey], log, breakConfirmMs: 0 });
}

/** The lease bucket, whose next put is applied and then reported as failed (its answer lost). */
function answerLost(kv: KV, flag: { armed: boolean }): KV {
  return new Proxy(kv, {
    get(target, prop, receiver) {
      if (prop === 'put') {
        return async (...args: Parameters<KV['put']>) => {
          const revision = await target.put(...args);
          if (flag.armed) {
            flag.armed = false;
            throw new Error('TIMEOUT: answer lost');
          }
          return revision;
        };
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe('a commit whose answer was lost', () => {
  const store = useTestStore();
  it('keeps the heads of the batch it committed, and the ledger goes on from the real size', async () => {
    const { nc, resources } = store;
    const messages = await publishChain(nc, 9);
    const flag = { armed: false };
    const lease = new LedgerLease(answerLost(resources.ledger, flag), { holder: 'answer-lost' });
    expect(await lease.tryAcquire()).toBe('free');
    const integrator = await integratorOn(nc, resources, lease);
    await integrator.open();
    expect(await integrator.integrate(messages.slice(0, 3))).toBe(3);
    flag.armed = true;
    await expect(integrator.integrate(messages.slice(3, 5))).rejects.toThrow(/answer lost/);
    expect((await readLedgerState(resources.ledger)).size).toBe(5); // it did commit
    await integrator.open(); // what the ledger does next, at the size it believes
    expect((await readChainHeadRecord(resources.chains, 'a')).head?.index).toBe(4);
    // Once it has the lease again, at the size the record holds: a6..a9 are leaves, none refused.
    await lease.release().catch(() => undefined);
    const again = new LedgerLease(resources.ledger, { holder: 'answer-lost' });
    expect(await again.tryAcquire()).toBe('free');
    const next = await integratorOn(nc, resources, again);
    expect((await next.open()).size).toBe(5);
    expect(await next.integrate(messages.slice(5))).toBe(9);
    expect((await (await jetstreamManager(nc)).streams.info(QUARANTINE_STREAM)).state.messages).toBe(0);
  }, 60_000);
});

describe('a writer that lost its lease without noticing', () => {
  const store = useTestStore();
  it("does not move the new writer's heads when it opens again", async () => {
    const { nc, resources } = store;
    const messages = await publishChain(nc, 5);
    const old = new LedgerLease(resources.ledger, { holder: 'old' });
    expect(await old.tryAcquire()).toBe('free');
    const first = await integratorOn(nc, resources, old);
    await first.open();
    expect(await first.integrate(messages.slice(0, 3))).toBe(3);
    // The old writer pauses past its lease; the new one takes over and commits a4 a5.
    const fresh = new LedgerLease(resources.ledger, { holder: 'new', ttlMs: 0 });
    expect(await fresh.tryAcquire()).toBeUndefined();
    expect(await fresh.tryAcquire()).toBe('takeover');
    const second = await integratorOn(nc, resources, fresh);
    await second.open();
    expect(await second.integrate(messages.slice(3, 5))).toBe(5);
    expect(old.isHeld).toBe(true); // it has not noticed
    await first.open().catch(() => undefined);
    expect((await readChainHeadRecord(resources.chains, 'a')).head?.index).toBe(4);
  }, 60_000);
});

describe('a writer that lost its lease without noticing, integrating less than the new writer did', () => {
  // The new writer committed a4 (and a5) past the old one's state; the old one, opening again at
  // its own size, integrates a4 alone. It read the head's current revision, so only the lease
  // (asked before a head written past its state is moved) stops it from moving the head back,
  // and the new writer's a6 from being refused for its link.
  const store = useTestStore();
  it.each([
    ['a4 and a5 in two batches', 'two', [[3, 4], [4, 5]]],
    ['a4 and a5 in one batch', 'one', [[3, 5]]],
  ] as const)("leaves the new writer's head alone (%s)", async (_name, chain, batches) => {
    const { nc, resources } = store;
    const js = jetstream(nc);
    const messages: StoredMessage[] = [];
    for (const r of chainOf(6, kA, chain)) {
      const data = canonicalBytes(r);
      messages.push({ seq: (await js.publish(receiptSubject(r.chain), data)).seq, data });
    }
    const old = new LedgerLease(resources.ledger, { holder: `old-${chain}` });
    expect(await old.tryAcquire()).toBe('free');
    const first = await integratorOn(nc, resources, old);
    const start = (await first.open()).size;
    expect(await first.integrate(messages.slice(0, 3))).toBe(start + 3);
    const fresh = new LedgerLease(resources.ledger, { holder: `new-${chain}`, ttlMs: 0 });
    expect(await fresh.tryAcquire()).toBeUndefined();
    expect(await fresh.tryAcquire()).toBe('takeover');
    const second = await integratorOn(nc, resources, fresh);
    await second.open();
    for (const [from, to] of batches) await second.integrate(messages.slice(from, to));
    const head = await readChainHeadRecord(resources.chains, chain);
    expect(head.head?.index).toBe(start + 4);
    await first.open();
    await expect(first.integrate(messages.slice(3, 4))).rejects.toThrow(/another/);
    expect(await readChainHeadRecord(resources.chains, chain)).toEqual(head);
    expect(await second.integrate(messages.slice(5, 6))).toBe(start + 6);
    expect((await (await jetstreamManager(nc)).streams.info(QUARANTINE_STREAM)).state.messages).toBe(0);
    // Let the next case start from a free lease after this one's new writer.
    await fresh.release();
  }, 60_000);
});
