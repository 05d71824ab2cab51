import { beforeAll, describe, expect, it } from 'vitest';
import { appendReceipts, consumeReceipts, readLastStoredReceipt, readLastStreamSeq, readReceiptIds, readStoredReceipt } from '../../../src/store/receipts.js';
import { receiptSubject } from '../../../src/store/resources.js';
import { canonicalBytes } from '../../../src/receipt/jcs.js';
import type { Receipt } from '../../../src/receipt/receipt.js';
import { chainOf, kernelOf } from '../receipt/helpers.js';
import { useTestStore } from './nats.js';
import { isChioError } from '../../../src/errors/index.js';

const store = useTestStore();
const kernel = kernelOf(3);
const a = chainOf(3, kernel, 'chain-a');
const b = chainOf(2, kernel, 'chain-b');
/** Stream order: a1 b1 a2 b2 a3 at sequences 1 … 5. */
const stored: Receipt[] = [a[0]!, b[0]!, a[1]!, b[1]!, a[2]!];

async function storeAll(): Promise<void> {
  for (const r of stored) await store.js.publish(receiptSubject(r.chain), canonicalBytes(r), { msgID: r.id });
}

describe('an empty receipts stream', () => {
  it('has no last sequence, no last receipt on a chain and no ids', async () => {
    expect(await readLastStreamSeq(store.jsm)).toBe(0);
    expect(await readLastStoredReceipt(store.jsm, 'chain-a')).toBeUndefined();
    expect(await readReceiptIds(store.js, 1, 0)).toEqual(new Map());
  });
});

describe('stored receipts', () => {
  beforeAll(storeAll);

  it('refuses to answer with a partial set of ids when the fetch ends before the last sequence', async () => {
    await expect(readReceiptIds(store.js, 1, 7)).rejects.toSatisfy((err: unknown) => isChioError(err, 'UNAVAILABLE'));
  });

  it('reads a receipt by its stream sequence, and nothing past the end', async () => {
    expect(await readStoredReceipt(store.jsm, 3)).toEqual(a[1]);
    expect(await readStoredReceipt(store.jsm, 99)).toBeUndefined();
  });

  it('reads the last receipt stored on each chain, with its stream sequence (where a chain writer resumes)', async () => {
    expect(await readLastStoredReceipt(store.jsm, 'chain-a')).toEqual({ receipt: a[2], streamSeq: 5 });
    expect(await readLastStoredReceipt(store.jsm, 'chain-b')).toEqual({ receipt: b[1], streamSeq: 4 });
    expect(await readLastStreamSeq(store.jsm)).toBe(5);
  });

  it('reads the receipt ids of a range of the stream', async () => {
    expect(await readReceiptIds(store.js, 2, 4)).toEqual(new Map([[b[0]!.id, 2], [a[1]!.id, 3], [b[1]!.id, 4]]));
    expect(await readReceiptIds(store.js, 5, 5)).toEqual(new Map([[a[2]!.id, 5]]));
  });

  it('consumes the stream in order from a sequence on', async () => {
    const messages = await consumeReceipts(store.js, 3, 10);
    const seen: Array<[number, string]> = [];
    for await (const m of messages) {
      seen.push([m.seq, m.json<Receipt>().id]);
      if (m.seq === 5) break;
    }
    messages.stop();
    expect(seen).toEqual([[3, a[1]!.id], [4, b[1]!.id], [5, a[2]!.id]]);
  });
});

describe('a message of several receipts (group commit)', () => {
  const c = chainOf(3, kernel, 'chain-c');
  const one = (r: Receipt) => ({ id: r.id, bytes: canonicalBytes(r) });

  it('stores them as one message, each read back by line, the last as the chain head, every id in the headers', async () => {
    const first = (await readLastStreamSeq(store.jsm)) + 1;
    expect(await appendReceipts(store.js, 'chain-c', c.map(one), 0, 5_000)).toBe(first);
    expect(await readStoredReceipt(store.jsm, first, 0)).toEqual(c[0]);
    expect(await readStoredReceipt(store.jsm, first, 2)).toEqual(c[2]);
    expect(await readStoredReceipt(store.jsm, first, 3)).toBeUndefined();
    expect(await readLastStoredReceipt(store.jsm, 'chain-c')).toEqual({ receipt: c[2], streamSeq: first });
    expect(await readReceiptIds(store.js, first, first)).toEqual(new Map(c.map((r) => [r.id, first])));
  });

  it('is refused whole when it would fork the chain', async () => {
    const [other] = chainOf(1, kernelOf(4), 'chain-c');
    await expect(appendReceipts(store.js, 'chain-c', [one(other!)], 0, 5_000)).rejects.toThrow();
  });
});
