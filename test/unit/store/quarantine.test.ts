import { beforeAll, describe, expect, it } from 'vitest';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { MAX_LINE_REASON_LENGTH, MAX_REASON_LENGTH, byMessage, isBeforeMark, quarantineMessage, readQuarantineMark, type QuarantinedReceipt } from '../../../src/store/quarantine.js';
import { QUARANTINE_STREAM, receiptSubject } from '../../../src/store/resources.js';
import { useTestStore } from './nats.js';
import { isWrongLastSequence } from '../../../src/store/ledger-state.js';

const store = useTestStore();
const data = new TextEncoder().encode('{"not":"a receipt"}');

// Quarantined receipts name messages of the receipts stream: these are stream seqs 1 … 12.
beforeAll(async () => {
  for (let i = 1; i <= 12; i++) await store.js.publish(receiptSubject('q-test'), new TextEncoder().encode(`message ${i}`));
});

describe('quarantineMessage', () => {
  it('stores the refused bytes on the chain subject with the reason code, reason and stream sequence', async () => {
    await quarantineMessage(store.js, [{ seq: 7, data, chain: 'chain-a', code: 'CHAIN_BROKEN', reason: 'line one\nline two' }], await readQuarantineMark(store.jsm));
    const msg = await store.jsm.streams.getMessage(QUARANTINE_STREAM, { last_by_subj: 'chio.quarantine.chain-a' });
    expect(msg?.data).toEqual(data);
    expect(msg?.header.get('Chio-Reason-Code')).toBe('CHAIN_BROKEN');
    expect(msg?.header.get('Chio-Reason')).toBe('line one line two');
    expect(msg?.header.get('Chio-Stream-Seq')).toBe('7');
  });

  it('files bytes without a chain under "unknown" and cuts long reasons', async () => {
    await quarantineMessage(store.js, [{ seq: 8, data, chain: undefined, code: 'MALFORMED', reason: 'x'.repeat(2 * MAX_REASON_LENGTH) }], await readQuarantineMark(store.jsm));
    const msg = await store.jsm.streams.getMessage(QUARANTINE_STREAM, { last_by_subj: 'chio.quarantine.unknown' });
    expect(msg?.header.get('Chio-Reason')).toHaveLength(MAX_REASON_LENGTH);
  });

  it('marks how far quarantining got: the last message\'s receipts-stream sequence', async () => {
    const before = await readQuarantineMark(store.jsm);
    const after = await quarantineMessage(store.js, [{ seq: 9, data, chain: 'chain-b', code: 'MALFORMED', reason: 'r' }], before);
    expect(after).toEqual({ lastSeq: before.lastSeq + 1, receiptSeq: 9, receiptLine: 0 });
    expect(await readQuarantineMark(store.jsm)).toEqual(after);
  });

  it('refuses to append after a stale mark, so a ledger that lost its lease adds nothing', async () => {
    const stale = await readQuarantineMark(store.jsm);
    await quarantineMessage(store.js, [{ seq: 10, data, chain: 'chain-b', code: 'MALFORMED', reason: 'r' }], stale);
    const refused = await quarantineMessage(store.js, [{ seq: 11, data, chain: 'chain-b', code: 'MALFORMED', reason: 'r' }], stale).then(() => undefined, (err: unknown) => err);
    expect(isWrongLastSequence(refused)).toBe(true);
    expect((await readQuarantineMark(store.jsm)).receiptSeq).toBe(10);
  });

  it('stores the refused lines of one message once, naming each line, its code and reason, and marks its last line', async () => {
    const line = (n: number, reason: string): QuarantinedReceipt => ({ seq: 12, line: n, data: new TextEncoder().encode(`line ${n}`), chain: undefined, code: 'MALFORMED', reason });
    const before = await readQuarantineMark(store.jsm);
    const after = await quarantineMessage(store.js, [line(2, 'first'), { ...line(5, 'y'.repeat(2 * MAX_LINE_REASON_LENGTH)), chain: 'chain-d', code: 'RECEIPT_INVALID' }], before);
    expect(after).toEqual({ lastSeq: before.lastSeq + 1, receiptSeq: 12, receiptLine: 5 });
    expect(await readQuarantineMark(store.jsm)).toEqual(after);
    const msg = await store.jsm.streams.getMessage(QUARANTINE_STREAM, { seq: after.lastSeq });
    expect(msg?.subject).toBe('chio.quarantine.chain-d');
    expect(new TextDecoder().decode(msg?.data)).toBe('line 2\nline 5');
    expect([msg?.header.get('Chio-Line'), msg?.header.get('Nats-Msg-Id'), msg?.header.get('Chio-Reason')]).toEqual(['2', 'q-12-2', 'first']);
    expect(msg?.header.values('Chio-Refused-Line')).toEqual(['2 MALFORMED first', `5 RECEIPT_INVALID ${'y'.repeat(MAX_LINE_REASON_LENGTH)}`]);
  });

  it.each([
    ['no lines', []],
    ['lines of two messages', [{ seq: 3, line: 1 }, { seq: 4, line: 2 }]],
    ['lines out of order', [{ seq: 3, line: 2 }, { seq: 3, line: 1 }]],
  ])('is an internal error for %s', async (_name, lines) => {
    const refused = lines.map((l) => ({ ...l, data, chain: undefined, code: 'MALFORMED' as const, reason: 'r' }));
    await expect(quarantineMessage(store.js, refused, await readQuarantineMark(store.jsm))).rejects.toMatchObject({ code: 'INTERNAL' });
  });
});

describe('byMessage', () => {
  it('splits refused lines by the message that holds them, keeping their order', () => {
    const q = (seq: number, line: number) => ({ seq, line, data, chain: undefined, code: 'MALFORMED' as const, reason: 'r' });
    expect(byMessage([q(1, 0), q(2, 1), q(2, 3), q(4, 0)]).map((g) => g.map((l) => `${l.seq}:${l.line}`))).toEqual([['1:0'], ['2:1', '2:3'], ['4:0']]);
  });
});

describe('readQuarantineMark', () => {
  // chio.quarantine.* is a plain subject: anyone who may publish there can add a message.
  it.each([
    ['a stream sequence past the receipts stream\'s last', '1000000000', 'q-1000000000', 1],
    ['a Nats-Msg-Id that does not name it', '12', 'other', 2],
    ['no Nats-Msg-Id', '12', undefined, 3],
    ['a stream sequence that is no number', '1e3', 'q-1e3', 4],
    ['a refused line that is no number', '11', 'q-11', 5, 'x MALFORMED r'],
    ['a refused line before its first', '11', 'q-11-9', 6, '2 MALFORMED r'],
  ])('passes over a message with %s and takes the ledger\'s last mark', async (_name, streamSeq, msgID, line, refusedLine?: string) => {
    const written = await quarantineMessage(store.js, [{ seq: 11, line, data, chain: 'chain-c', code: 'MALFORMED', reason: 'r' }], await readQuarantineMark(store.jsm));
    const h = natsHeaders();
    h.set('Chio-Stream-Seq', streamSeq);
    if (refusedLine) {
      h.set('Chio-Line', msgID!.split('-')[2] ?? '0');
      h.append('Chio-Refused-Line', refusedLine);
    }
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
