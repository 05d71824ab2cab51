/**
 * The verifier's search of the un-integrated tail of the receipts stream, on a real
 * nats-server, with an injected clock deciding when a scan may be reused.
 */
import { describe, expect, it } from 'vitest';
import { MAX_PENDING_SCAN, SCAN_REUSE_MS, TailSearcher } from '../../../src/verifier/tail-search.js';
import { receiptSubject } from '../../../src/store/resources.js';
import { readLastStreamSeq } from '../../../src/store/receipts.js';
import { writeLedgerState } from '../../../src/store/ledger-state.js';
import { useTestStore, type StoreContext } from '../store/nats.js';

const idOf = (i: number) => i.toString(16).padStart(64, '0');

/** Store messages with ids idOf(from) … idOf(to - 1); the tail search reads only their ids. */
async function storeIds(store: StoreContext, from: number, to: number): Promise<void> {
  const acks = [];
  for (let i = from; i < to; i++) acks.push(store.js.publish(receiptSubject('tail'), new Uint8Array(1), { msgID: idOf(i) }));
  await Promise.all(acks);
}

async function integrateUpTo(store: StoreContext, streamSeq: number): Promise<void> {
  await writeLedgerState(store.resources.ledger, { size: streamSeq, streamSeq });
}

describe('TailSearcher.search', () => {
  const store = useTestStore();
  let now = 1_000_000;
  const searcher = () => new TailSearcher(store.js, store.jsm, store.resources.ledger, () => now);

  it('finds ids stored past the integrated position, and only those', async () => {
    await storeIds(store, 0, 10);
    await integrateUpTo(store, 4);
    const search = searcher();
    expect(await search.search(idOf(4))).toBe('stored');
    expect(await search.search(idOf(9))).toBe('stored');
    expect(await search.search(idOf(3))).toBe('absent');
    expect(await search.search(idOf(99))).toBe('absent');
  });

  it('answers from its last scan until the injected clock says SCAN_REUSE_MS passed', async () => {
    const search = searcher();
    await integrateUpTo(store, 4);
    expect(await search.search(idOf(8))).toBe('stored');
    await integrateUpTo(store, await readLastStreamSeq(store.jsm)); // the ledger catches up
    now += SCAN_REUSE_MS - 1;
    expect(await search.search(idOf(8))).toBe('stored');
    now += 1;
    expect(await search.search(idOf(8))).toBe('absent');
  });

  it('scans again within the reuse window when a receipt was stored since', async () => {
    const search = searcher();
    expect(await search.search(idOf(10))).toBe('absent');
    await storeIds(store, 10, 11);
    expect(await search.search(idOf(10))).toBe('stored');
  });

  it('gives up on a tail longer than MAX_PENDING_SCAN: too far behind', async () => {
    const last = await readLastStreamSeq(store.jsm);
    await integrateUpTo(store, last);
    await storeIds(store, 100, 101 + MAX_PENDING_SCAN);
    expect(await searcher().search(idOf(100))).toBe('unknown');
  });

  it('answers unknown, never absent, when the stream hands over less of the tail than it holds', async () => {
    const last = await readLastStreamSeq(store.jsm);
    await integrateUpTo(store, last - 3);
    // A busy server ends a fetch at its expiry with fewer messages than asked for.
    const shortFetch = {
      consumers: {
        get: async (...args: Parameters<typeof store.js.consumers.get>) => {
          const consumer = await store.js.consumers.get(...args);
          return { fetch: (opts: { max_messages: number; expires: number }) => consumer.fetch({ ...opts, max_messages: opts.max_messages - 1 }) };
        },
      },
    } as unknown as typeof store.js;
    const search = new TailSearcher(shortFetch, store.jsm, store.resources.ledger, () => now);
    expect(await search.search(idOf(99_999))).toBe('unknown');
    // Not remembered: the next lookup reads again (and, complete this time, can say absent).
    const complete = searcher();
    expect(await complete.search(idOf(99_999))).toBe('absent');
  });
});
