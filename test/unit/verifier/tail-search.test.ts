/**
 * The verifier's search of the un-integrated tail of the receipts stream, on a real
 * nats-server, with an injected clock deciding when a scan may be reused.
 */
import { describe, expect, it } from 'vitest';
import { MAX_PENDING_SCAN, SCAN_REUSE_MS, TailSearcher } from '../../../src/verifier/tail-search.js';
import { receiptSubject } from '../../../src/store/resources.js';
import { readLastStreamSeq } from '../../../src/store/receipts.js';
import { RECEIPT_IDS_HEADER } from '../../../src/store/receipt-message.js';
import type { Receipt } from '../../../src/receipt/receipt.js';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { writeLedgerState } from '../../../src/store/ledger-state.js';
import { useTestStore, type StoreContext } from '../store/nats.js';

const idOf = (i: number) => i.toString(16).padStart(64, '0');

/** Store messages with ids idOf(from) … idOf(to - 1), each holding its id: what `holdsId` takes for a receipt. */
async function storeIds(store: StoreContext, from: number, to: number): Promise<void> {
  const acks = [];
  for (let i = from; i < to; i++) acks.push(store.js.publish(receiptSubject('tail'), new TextEncoder().encode(idOf(i)), { msgID: idOf(i) }));
  await Promise.all(acks);
}

/** Stands in for verifying a receipt: these messages hold their id, and anything else is no receipt. */
const holdsId = (bytes: Uint8Array): Receipt => {
  const text = new TextDecoder().decode(bytes);
  if (!/^[0-9a-f]{64}$/.test(text)) throw new Error('no receipt');
  return { id: text } as Receipt;
};

async function integrateUpTo(store: StoreContext, streamSeq: number): Promise<void> {
  await writeLedgerState(store.resources.ledger, { size: streamSeq, streamSeq });
}

describe('TailSearcher.search', () => {
  const store = useTestStore();
  let now = 1_000_000;
  const searcher = () => new TailSearcher(store.js, store.jsm, store.resources.ledger, holdsId, () => now);

  it('finds ids stored past the integrated position, and only those', async () => {
    await storeIds(store, 0, 10);
    await integrateUpTo(store, 4);
    const search = searcher();
    expect(await search.search(idOf(4))).toBe('stored');
    expect(await search.search(idOf(9))).toBe('stored');
    expect(await search.search(idOf(3))).toBe('absent');
    expect(await search.search(idOf(99))).toBe('absent');
  });

  it('answers absent for ids only a message\'s headers name: the message must hold a receipt with that id', async () => {
    const h = natsHeaders();
    h.set(RECEIPT_IDS_HEADER, `${idOf(5000)},${idOf(5001)}`);
    await store.js.publish(receiptSubject('tail'), new TextEncoder().encode('junk'), { msgID: idOf(5002), headers: h });
    const search = searcher();
    for (const i of [5000, 5001, 5002]) expect(await search.search(idOf(i))).toBe('absent');
    // A message that holds other receipts than its headers name is no better.
    await store.js.publish(receiptSubject('tail'), new TextEncoder().encode(idOf(7)), { msgID: idOf(5003) });
    now += SCAN_REUSE_MS;
    expect(await searcher().search(idOf(5003))).toBe('absent');
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
    const search = new TailSearcher(shortFetch, store.jsm, store.resources.ledger, holdsId, () => now);
    expect(await search.search(idOf(99_999))).toBe('unknown');
    // Not remembered: the next lookup reads again (and, complete this time, can say absent).
    const complete = searcher();
    expect(await complete.search(idOf(99_999))).toBe('absent');
  });
});
