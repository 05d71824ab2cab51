import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { PubAckPublisher, pubAckOf } from '../../../src/store/pub-ack.js';
import { appendReceipts, readLastStoredReceipt, readLastStreamSeq, readReceiptIds } from '../../../src/store/receipts.js';
import { RECEIPTS_STREAM } from '../../../src/store/resources.js';
import { canonicalBytes } from '../../../src/receipt/jcs.js';
import { isChioError } from '../../../src/errors/index.js';
import type { Receipt } from '../../../src/receipt/receipt.js';
import { chainOf, kernelOf } from '../receipt/helpers.js';
import { useTestStore } from './nats.js';

const store = useTestStore();
const kernel = kernelOf(5);
const one = (r: Receipt) => ({ id: r.id, bytes: canonicalBytes(r) });
const utf8 = (s: string) => new TextEncoder().encode(s);
let publisher: PubAckPublisher;

beforeAll(() => {
  publisher = new PubAckPublisher(store.nc);
});
afterAll(() => publisher.close());

describe('the PubAck publisher, against a real JetStream', () => {
  it('stores a chain message by message, each answered with its own stream sequence', async () => {
    const c = chainOf(3, kernel, 'pub-a');
    const first = await appendReceipts(publisher, 'pub-a', [one(c[0]!)], 0, 5_000);
    const second = await appendReceipts(publisher, 'pub-a', [one(c[1]!), one(c[2]!)], first, 5_000);
    expect(second).toBe(first + 1);
    expect(await readLastStoredReceipt(store.jsm, 'pub-a')).toEqual({ receipt: c[2], streamSeq: second });
    expect(await readReceiptIds(store.js, first, second)).toEqual(new Set(c.map((r) => r.id)));
    expect(publisher.inFlight).toBe(0);
  });

  it('answers many publishes in flight at once, each with the sequence of its own message', async () => {
    const chains = Array.from({ length: 40 }, (_, i) => chainOf(1, kernel, `pub-many-${i}`)[0]!);
    const seqs = await Promise.all(chains.map((r) => appendReceipts(publisher, r.chain, [one(r)], 0, 5_000)));
    for (const [i, r] of chains.entries()) expect((await readLastStoredReceipt(store.jsm, r.chain))!.streamSeq).toBe(seqs[i]);
    expect(new Set(seqs).size).toBe(40);
  });

  it('gives a retried message (same Nats-Msg-Id) the sequence it was stored at, and stores nothing new', async () => {
    const [r] = chainOf(1, kernel, 'pub-dup');
    const seq = await appendReceipts(publisher, 'pub-dup', [one(r!)], 0, 5_000);
    const last = await readLastStreamSeq(store.jsm);
    expect(await publisher.publish('chio.receipts.pub-dup', canonicalBytes(r!), { msgID: r!.id, expect: { lastSubjectSequence: 0 }, timeout: 5_000 })).toEqual({ seq });
    expect(await readLastStreamSeq(store.jsm)).toBe(last);
  });

  it('is refused, and stores nothing, when the chain has moved on (a second writer)', async () => {
    const c = chainOf(1, kernel, 'pub-fork');
    const [other] = chainOf(1, kernelOf(6), 'pub-fork');
    await appendReceipts(publisher, 'pub-fork', [one(c[0]!)], 0, 5_000);
    const last = await readLastStreamSeq(store.jsm);
    await expect(appendReceipts(publisher, 'pub-fork', [one(other!)], 0, 5_000)).rejects.toSatisfy(
      (err: unknown) => isChioError(err, 'UNAVAILABLE') && /wrong last sequence/.test((err as Error).message),
    );
    expect(await readLastStreamSeq(store.jsm)).toBe(last);
  });

  it('keeps the headers it is given and adds the dedup id and the expected sequence', async () => {
    const h = natsHeaders();
    h.set('Chio-Receipt-Ids', 'a,b');
    const seq = (await publisher.publish('chio.receipts.pub-headers', utf8('{}'), { msgID: 'm-1', expect: { lastSubjectSequence: 0 }, timeout: 5_000, headers: h })).seq;
    const stored = await store.jsm.streams.getMessage(RECEIPTS_STREAM, { seq });
    expect(stored!.header.get('Chio-Receipt-Ids')).toBe('a,b');
    expect(stored!.header.get('Nats-Msg-Id')).toBe('m-1');
    expect(stored!.header.get('Nats-Expected-Last-Subject-Sequence')).toBe('0');
  });

  it('is refused when no stream takes the subject', async () => {
    await expect(publisher.publish('nowhere.at.all', utf8('x'), { msgID: 'n-1', expect: { lastSubjectSequence: 0 }, timeout: 5_000 })).rejects.toSatisfy(
      (err: unknown) => isChioError(err, 'UNAVAILABLE') && /no stream stored/.test((err as Error).message),
    );
  });

  it('times out when nothing answers, and forgets the publish', async () => {
    // A plain subscriber takes the message and never answers, as a stalled server would not.
    const silent = store.nc.subscribe('silent.subject');
    const started = Date.now();
    await expect(publisher.publish('silent.subject', utf8('x'), { msgID: 's-1', expect: { lastSubjectSequence: 0 }, timeout: 150 })).rejects.toSatisfy((err: unknown) => isChioError(err, 'TIMEOUT'));
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(publisher.inFlight).toBe(0);
    silent.unsubscribe();
  });

  it('when closed, rejects what still waits and every later publish', async () => {
    const own = new PubAckPublisher(store.nc);
    const silent = store.nc.subscribe('silent.close');
    const waiting = own.publish('silent.close', utf8('x'), { msgID: 'c-1', expect: { lastSubjectSequence: 0 }, timeout: 60_000 });
    own.close();
    await expect(waiting).rejects.toSatisfy((err: unknown) => isChioError(err, 'UNAVAILABLE'));
    await expect(own.publish('chio.receipts.pub-closed', utf8('{}'), { msgID: 'c-2', expect: { lastSubjectSequence: 0 }, timeout: 5_000 })).rejects.toSatisfy((err: unknown) => isChioError(err, 'UNAVAILABLE'));
    expect(own.inFlight).toBe(0);
    silent.unsubscribe();
  });
});

describe('reading a PubAck', () => {
  const ack = (text: string) => ({ data: utf8(text), headers: undefined });

  it('takes the stream sequence of an ack, a duplicate one included', () => {
    expect(pubAckOf(ack('{"stream":"CHIO_RECEIPTS","seq":7}'))).toEqual({ seq: 7 });
    expect(pubAckOf(ack('{"stream":"CHIO_RECEIPTS","seq":7,"duplicate":true}'))).toEqual({ seq: 7 });
  });

  it.each([
    ['not JSON', 'stored'],
    ['null', 'null'],
    ['an error', '{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 3"},"stream":"CHIO_RECEIPTS","seq":0}'],
    ['no stream', '{"seq":7}'],
    ['an empty stream', '{"stream":"","seq":7}'],
    ['no sequence', '{"stream":"CHIO_RECEIPTS"}'],
    ['sequence 0', '{"stream":"CHIO_RECEIPTS","seq":0}'],
    ['a fractional sequence', '{"stream":"CHIO_RECEIPTS","seq":1.5}'],
    ['a sequence as text', '{"stream":"CHIO_RECEIPTS","seq":"7"}'],
  ])('refuses %s', (_, text) => {
    const got = pubAckOf(ack(text));
    expect(isChioError(got, 'UNAVAILABLE')).toBe(true);
  });
});
