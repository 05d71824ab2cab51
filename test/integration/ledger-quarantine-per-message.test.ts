/**
 * Quarantine costs one write per refused message, not one per refused line. Anyone who may
 * publish on the receipts subjects can store messages of 128 lines that are no receipts; each
 * line was quarantined on its own, one awaited PubAck after another: 16 messages of 255 bytes
 * (4 KB) were 2,048 writes and about 0.4 s of the ledger's time (bench/quarantine-junk.ts), so
 * some 10 KB/s of junk kept the ledger busy and honest receipts fell behind.
 */
import { describe, expect, it } from 'vitest';
import { QUARANTINE_STREAM, receiptSubject } from '../../src/store/resources.js';
import { Integrator } from '../../src/ledger/integrator.js';
import { LedgerLease } from '../../src/store/ledger-lease.js';
import { TileStore } from '../../src/store/tile-store.js';
import { createLogger } from '../../src/log.js';
import { canonicalBytes } from '../../src/receipt/jcs.js';
import { joinReceiptMessage } from '../../src/store/receipt-message.js';
import { readIndexEntry } from '../../src/store/receipt-index.js';
import { quarantineMessage, readQuarantineMark } from '../../src/store/quarantine.js';
import { chainOf, kernelOf } from '../unit/receipt/helpers.js';
import { useTestStore } from '../unit/store/nats.js';

const store = useTestStore();
const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const kernel = kernelOf(23);

/** A ledger's integrator over the test store, holding the lease, opened. */
async function openIntegrator() {
  const { js, jsm, resources } = store;
  const lease = new LedgerLease(resources.ledger, { holder: 'quarantine-per-message' });
  expect(await lease.tryAcquire()).toBe('free');
  const integrator = new Integrator({
    js, jsm, index: resources.index, chains: resources.chains, lease, tiles: new TileStore(resources.tiles, resources.entries),
    kernelKeys: [kernel.verifierKey], log: createLogger('silent'),
  });
  return { lease, integrator, committed: await integrator.open() };
}

describe('a receipts-stream message with refused lines', () => {
  it('is quarantined as one entry that names each refused line, its code and reason, and its good receipts are leaves', async () => {
    const { js, jsm, resources } = store;
    const { lease, integrator, committed } = await openIntegrator();
    const [r1, r2] = chainOf(2, kernel, 'per-message');
    const junk = joinReceiptMessage(Array.from({ length: 128 }, () => utf8('x')));
    const mixed = joinReceiptMessage([canonicalBytes(r1!), utf8('not one'), canonicalBytes(r2!), utf8('nor this')]);
    // The mark names a message the receipts stream holds: store them, as a writer would have.
    const stored = [];
    for (const data of [junk, mixed]) stored.push({ seq: (await js.publish(receiptSubject('per-message'), data)).seq, data, subjectChain: 'per-message' });
    const before = (await jsm.streams.info(QUARANTINE_STREAM)).state.last_seq;

    expect(await integrator.integrate(stored)).toBe(committed.size + 2);

    const entries = [];
    for (let seq = before + 1; seq <= (await jsm.streams.info(QUARANTINE_STREAM)).state.last_seq; seq++) entries.push((await jsm.streams.getMessage(QUARANTINE_STREAM, { seq }))!);
    expect(entries, 'one entry per message').toHaveLength(2);
    const [whole, partly] = entries as [typeof entries[0], typeof entries[0]];
    expect(whole.header.get('Chio-Stream-Seq')).toBe(String(stored[0]!.seq));
    expect(whole.header.get('Chio-Reason-Code')).toBe('MALFORMED');
    expect(whole.header.get('Chio-Line')).toBe('');
    const lines = whole.header.values('Chio-Refused-Line');
    expect(lines.map((v) => v.split(' ').slice(0, 2).join(' '))).toEqual(Array.from({ length: 128 }, (_, i) => `${i} MALFORMED`));
    expect(lines.every((v) => v.split(' ').length > 2), 'each with its reason').toBe(true);
    expect(text(whole.data), 'the refused lines, once').toBe(text(junk));

    expect(partly.header.get('Chio-Stream-Seq')).toBe(String(stored[1]!.seq));
    expect(partly.header.get('Chio-Line')).toBe('1');
    expect(partly.header.get('Nats-Msg-Id')).toBe(`q-${stored[1]!.seq}-1`);
    expect(partly.header.values('Chio-Refused-Line').map((v) => v.split(' ')[0])).toEqual(['1', '3']);
    expect(text(partly.data), 'only the refused lines, in order').toBe('not one\nnor this');
    for (const r of [r1!, r2!]) expect(await readIndexEntry(resources.index, r.id)).toBeDefined();
    await lease.release();
  });

  it('completes a message a ledger before this one quarantined line by line and stopped in, without storing its lines again', async () => {
    const { js, jsm } = store;
    const { lease, integrator, committed } = await openIntegrator();
    const data = joinReceiptMessage(['a', 'b', 'c', 'd'].map(utf8));
    const seq = (await js.publish(receiptSubject('per-message'), data)).seq;
    // What that ledger wrote for lines 0 and 1 before it stopped: one message per line.
    let mark = await readQuarantineMark(jsm);
    for (const line of [0, 1]) mark = await quarantineMessage(js, [{ seq, line, data: utf8('abcd'[line]!), chain: undefined, code: 'MALFORMED', reason: 'r' }], mark);

    await integrator.open();
    expect(await integrator.integrate([{ seq, data, subjectChain: 'per-message' }])).toBe(committed.size);

    const last = await jsm.streams.getMessage(QUARANTINE_STREAM, { seq: mark.lastSeq + 1 });
    expect((await jsm.streams.info(QUARANTINE_STREAM)).state.last_seq).toBe(mark.lastSeq + 1);
    expect(last!.header.values('Chio-Refused-Line').map((v) => v.split(' ')[0])).toEqual(['2', '3']);
    expect(text(last!.data)).toBe('c\nd');
    expect(await readQuarantineMark(jsm)).toMatchObject({ receiptSeq: seq, receiptLine: 3 });
    await lease.release();
  });
});
