import { beforeAll, describe, expect, it } from 'vitest';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { MAX_REASON_LENGTH, isBeforeMark, quarantineReceipt, readQuarantineMark } from '../../../src/store/quarantine.js';
import { QUARANTINE_STREAM, receiptSubject } from '../../../src/store/resources.js';
import { useTestStore } from './nats.js';
import { isWrongLastSequence } from '../../../src/store/ledger-state.js';

const store = useTestStore();
const data = new TextEncoder().encode('{"not":"a receipt"}');

// Quarantined receipts name messages of the receipts stream: these are stream seqs 1 … 12.
beforeAll(async () => {
  for (let i = 1; i <= 12; i++) await store.js.publish(receiptSubject('q-test'), new TextEncoder().encode(`message ${i}`));
});

describe('quarantineReceipt', () => {
  it('stores the refused bytes on the chain subject with the reason code, reason and stream sequence', async () => {
    await quarantineReceipt(store.js, { seq: 7, data, chain: 'chain-a', code: 'CHAIN_BROKEN', reason: 'line one\nline two' }, await readQuarantineMark(store.jsm));
    const msg = await store.jsm.streams.getMessage(QUARANTINE_STREAM, { last_by_subj: 'chio.quarantine.chain-a' });
    expect(msg?.data).toEqual(data);
    expect(msg?.header.get('Chio-Reason-Code')).toBe('CHAIN_BROKEN');
    expect(msg?.header.get('Chio-Reason')).toBe('line one line two');
    expect(msg?.header.get('Chio-Stream-Seq')).toBe('7');
  });

  it('files bytes without a chain under "unknown" and cuts long reasons', async () => {
    await quarantineReceipt(store.js, { seq: 8, data, chain: undefined, code: 'MALFORMED', reason: 'x'.repeat(2 * MAX_REASON_LENGTH) }, await readQuarantineMark(store.jsm));
    const msg = await store.jsm.streams.getMessage(QUARANTINE_STREAM, { last_by_subj: 'chio.quarantine.unknown' });
    expect(msg?.header.get('Chio-Reason')).toHaveLength(MAX_REASON_LENGTH);
  });

  it('marks how far quarantining got: the last message\'s receipts-stream sequence', async () => {
    const before = await readQuarantineMark(store.jsm);
    const after = await quarantineReceipt(store.js, { seq: 9, data, chain: 'chain-b', code: 'MALFORMED', reason: 'r' }, before);
    expect(after).toEqual({ lastSeq: before.lastSeq + 1, receiptSeq: 9, receiptLine: 0 });
    expect(await readQuarantineMark(store.jsm)).toEqual(after);
  });

  it('refuses to append after a stale mark, so a ledger that lost its lease adds nothing', async () => {
    const stale = await readQuarantineMark(store.jsm);
    await quarantineReceipt(store.js, { seq: 10, data, chain: 'chain-b', code: 'MALFORMED', reason: 'r' }, stale);
    const refused = await quarantineReceipt(store.js, { seq: 11, data, chain: 'chain-b', code: 'MALFORMED', reason: 'r' }, stale).then(() => undefined, (err: unknown) => err);
    expect(isWrongLastSequence(refused)).toBe(true);
    expect((await readQuarantineMark(store.jsm)).receiptSeq).toBe(10);
  });
});

describe('readQuarantineMark', () => {
  // chio.quarantine.* is a plain subject: anyone who may publish there can add a message.
  it.each([
    ['a stream sequence past the receipts stream\'s last', '1000000000', 'q-1000000000', 1],
    ['a Nats-Msg-Id that does not name it', '12', 'other', 2],
    ['no Nats-Msg-Id', '12', undefined, 3],
    ['a stream sequence that is no number', '1e3', 'q-1e3', 4],
  ])('passes over a message with %s and takes the ledger\'s last mark', async (_name, streamSeq, msgID, line) => {
    const written = await quarantineReceipt(store.js, { seq: 11, line, data, chain: 'chain-c', code: 'MALFORMED', reason: 'r' }, await readQuarantineMark(store.jsm));
    const h = natsHeaders();
    h.set('Chio-Stream-Seq', streamSeq);
    await store.js.publish('chio.quarantine.x', data, { headers: h, ...(msgID ? { msgID } : {}) });
    expect(await readQuarantineMark(store.jsm)).toEqual({ lastSeq: written.lastSeq + 1, receiptSeq: 11, receiptLine: line });
  });
});

describe('isBeforeMark', () => {
  it('orders quarantined receipts by stream sequence, then line (group-commit messages)', () => {
    const mark = { lastSeq: 4, receiptSeq: 9, receiptLine: 2 };
    expect(isBeforeMark({ seq: 8, line: 5 }, mark)).toBe(true);
    expect(isBeforeMark({ seq: 9 }, mark)).toBe(true);
    expect(isBeforeMark({ seq: 9, line: 2 }, mark)).toBe(true);
    expect(isBeforeMark({ seq: 9, line: 3 }, mark)).toBe(false);
    expect(isBeforeMark({ seq: 10, line: 0 }, mark)).toBe(false);
  });
});
