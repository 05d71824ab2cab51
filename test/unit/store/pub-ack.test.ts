import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, headers as natsHeaders, type Msg } from '@nats-io/transport-node';
import { PubAckPublisher, StoreFull, pubAckOf } from '../../../src/store/pub-ack.js';
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
    expect(new Set((await readReceiptIds(store.js, first, second)).keys())).toEqual(new Set(c.map((r) => r.id)));
    expect(publisher.inFlight).toBe(0);
  });

  it('answers many publishes in flight at once, each with the sequence of its own message', async () => {
    const chains = Array.from({ length: 40 }, (_, i) => chainOf(1, kernel, `pub-many-${i}`)[0]!);
    const seqs = await Promise.all(chains.map((r) => appendReceipts(publisher, r.chain, [one(r)], 0, 5_000)));
    for (const [i, r] of chains.entries()) expect((await readLastStoredReceipt(store.jsm, r.chain))!.streamSeq).toBe(seqs[i]);
    expect(new Set(seqs).size).toBe(40);
  });

  it('gives a retried message (same Nats-Msg-Id) the sequence it was stored at, says it was a duplicate, and stores nothing new', async () => {
    const [r] = chainOf(1, kernel, 'pub-dup');
    const seq = await appendReceipts(publisher, 'pub-dup', [one(r!)], 0, 5_000);
    const last = await readLastStreamSeq(store.jsm);
    expect(await publisher.publish('chio.receipts.pub-dup', canonicalBytes(r!), { msgID: r!.id, expect: { lastSubjectSequence: 0 }, timeout: 5_000 })).toEqual({ seq, duplicate: true });
    // What the earlier message holds is not known from the ack: the chain writer reads it back.
    await expect(appendReceipts(publisher, 'pub-dup', [one(r!)], 0, 5_000)).rejects.toMatchObject({ code: 'UNAVAILABLE', message: expect.stringContaining('was stored before') });
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
    // A plain subscriber takes the message and never answers, as a stalled server would.
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

describe('matching PubAcks to publishes', () => {
  /**
   * A stand-in stream on `subject`: it holds each message until the test answers it. Ready once
   * the server has its subscription: a publish from another connection could otherwise come
   * first and reach no one (a loaded machine did that, and the test waited for it for good).
   */
  async function heldStream(subject: string) {
    const held: Msg[] = [];
    const sub = store.nc.subscribe(subject, { callback: (_, m) => void held.push(m) });
    await store.nc.flush();
    const answer = (i: number, seq: number) => held[i]!.respond(utf8(`{"stream":"HELD","seq":${seq}}`));
    const arrived = async (n: number) => {
      while (held.length < n) await new Promise((r) => setTimeout(r, 5));
    };
    return { held, answer, arrived, stop: () => sub.unsubscribe() };
  }
  const publish = (p: PubAckPublisher, subject: string, msgID: string, timeout = 5_000) => p.publish(subject, utf8('x'), { msgID, timeout });

  it('gives each publish the answer to its own message, whatever order the answers come in', async () => {
    const stream = await heldStream('held.order');
    const first = publish(publisher, 'held.order', 'o-1');
    const second = publish(publisher, 'held.order', 'o-2');
    await stream.arrived(2);
    stream.answer(1, 22);
    expect(await second).toEqual({ seq: 22 });
    stream.answer(0, 11);
    expect(await first).toEqual({ seq: 11 });
    stream.stop();
  });

  it('ignores a PubAck that comes after its publish timed out: it answers no later publish', async () => {
    const stream = await heldStream('held.late');
    await expect(publish(publisher, 'held.late', 'l-1', 50)).rejects.toSatisfy((err: unknown) => isChioError(err, 'TIMEOUT'));
    const next = publish(publisher, 'held.late', 'l-2');
    await stream.arrived(2);
    stream.answer(0, 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(publisher.inFlight).toBe(1);
    stream.answer(1, 2);
    expect(await next).toEqual({ seq: 2 });
    stream.stop();
  });

  it('rejects what waits as soon as its subscription ends, and listens again for the next publish', async () => {
    const own = new PubAckPublisher(store.nc);
    const stream = await heldStream('held.ended');
    const waiting = publish(own, 'held.ended', 'e-1', 60_000);
    await stream.arrived(1);
    // Stands in for a permission error, which ends the subscription the same way.
    (own as unknown as { listening: { subscription: { unsubscribe(): void } } }).listening.subscription.unsubscribe();
    await expect(waiting).rejects.toSatisfy((err: unknown) => isChioError(err, 'UNAVAILABLE'));
    stream.answer(0, 5); // too late, and to an inbox no longer read
    const next = publish(own, 'held.ended', 'e-2');
    await stream.arrived(2);
    stream.answer(1, 6);
    expect(await next).toEqual({ seq: 6 });
    own.close();
    stream.stop();
  });

  it('rejects what waits as soon as the connection closes, not at its timeout, and refuses while it drains', async () => {
    const nc = await connect({ servers: store.nc.getServer() });
    const own = new PubAckPublisher(nc);
    const stream = await heldStream('held.closing');
    const waiting = publish(own, 'held.closing', 'c-1', 60_000);
    await stream.arrived(1);
    const started = Date.now();
    await nc.close();
    await expect(waiting).rejects.toSatisfy((err: unknown) => isChioError(err, 'UNAVAILABLE'));
    expect(Date.now() - started).toBeLessThan(5_000);
    await expect(publish(own, 'held.closing', 'c-2')).rejects.toSatisfy((err: unknown) => isChioError(err, 'UNAVAILABLE'));

    const draining = await connect({ servers: store.nc.getServer() });
    const drainingPublisher = new PubAckPublisher(draining);
    const drained = draining.drain();
    await expect(publish(drainingPublisher, 'held.closing', 'c-3')).rejects.toSatisfy((err: unknown) => isChioError(err, 'UNAVAILABLE') && /closing/.test((err as Error).message));
    await drained;
    stream.stop();
  });
});

describe('reading a PubAck', () => {
  const ack = (text: string) => ({ data: utf8(text), headers: undefined });

  it('takes the stream sequence of an ack, and says when it was a duplicate', () => {
    expect(pubAckOf(ack('{"stream":"CHIO_RECEIPTS","seq":7}'))).toEqual({ seq: 7 });
    expect(pubAckOf(ack('{"stream":"CHIO_RECEIPTS","seq":7,"duplicate":true}'))).toEqual({ seq: 7, duplicate: true });
  });

  it.each([
    ['not JSON', 'stored'],
    ['null', 'null'],
    ['an error', '{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 3"},"stream":"CHIO_RECEIPTS","seq":7}'],
    ['no stream', '{"seq":7}'],
    ['an empty stream', '{"stream":"","seq":7}'],
    ['no sequence', '{"stream":"CHIO_RECEIPTS"}'],
    ['sequence 0', '{"stream":"CHIO_RECEIPTS","seq":0}'],
    ['a fractional sequence', '{"stream":"CHIO_RECEIPTS","seq":1.5}'],
    ['a sequence as text', '{"stream":"CHIO_RECEIPTS","seq":"7"}'],
  ])('refuses %s', (_, text) => {
    const got = pubAckOf(ack(text));
    expect(isChioError(got, 'UNAVAILABLE')).toBe(true);
    expect(got).not.toBeInstanceOf(StoreFull);
  });

  it.each([
    ['the server store full', 10023, 'insufficient resources'],
    ['the storage limit', 10047, 'insufficient storage resources available'],
    ['the account limit', 10002, 'resource limits exceeded for account'],
    ['a stream limit with discard new', 10077, 'maximum bytes exceeded'],
  ])('knows a message refused for want of room (%s) was not stored', (_, code, description) => {
    const got = pubAckOf(ack(JSON.stringify({ error: { code: 503, err_code: code, description } })));
    expect(got).toBeInstanceOf(StoreFull);
    expect(isChioError(got, 'UNAVAILABLE')).toBe(true);
  });

  it('does not take any other store failure for want of room', () => {
    expect(pubAckOf(ack('{"error":{"code":503,"err_code":10077,"description":"stream is sealed"}}'))).not.toBeInstanceOf(StoreFull);
  });
});
