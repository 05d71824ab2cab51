import { describe, expect, it } from 'vitest';
import { MAX_REASON_LENGTH, quarantineReceipt } from '../../../src/store/quarantine.js';
import { QUARANTINE_STREAM } from '../../../src/store/resources.js';
import { useTestStore } from './nats.js';

const store = useTestStore();
const data = new TextEncoder().encode('{"not":"a receipt"}');

describe('quarantineReceipt', () => {
  it('stores the refused bytes on the chain subject with the reason code, reason and stream sequence', async () => {
    await quarantineReceipt(store.js, { seq: 7, data, chain: 'chain-a', code: 'CHAIN_BROKEN', reason: 'line one\nline two' });
    const msg = await store.jsm.streams.getMessage(QUARANTINE_STREAM, { last_by_subj: 'chio.quarantine.chain-a' });
    expect(msg?.data).toEqual(data);
    expect(msg?.header.get('Chio-Reason-Code')).toBe('CHAIN_BROKEN');
    expect(msg?.header.get('Chio-Reason')).toBe('line one line two');
    expect(msg?.header.get('Chio-Stream-Seq')).toBe('7');
  });

  it('files bytes without a chain under "unknown" and cuts long reasons', async () => {
    await quarantineReceipt(store.js, { seq: 8, data, chain: undefined, code: 'MALFORMED', reason: 'x'.repeat(2 * MAX_REASON_LENGTH) });
    const msg = await store.jsm.streams.getMessage(QUARANTINE_STREAM, { last_by_subj: 'chio.quarantine.unknown' });
    expect(msg?.header.get('Chio-Reason')).toHaveLength(MAX_REASON_LENGTH);
  });

  it('stores a message once when it is quarantined again after a crash', async () => {
    const before = (await store.jsm.streams.info(QUARANTINE_STREAM)).state.messages;
    await quarantineReceipt(store.js, { seq: 9, data, chain: 'chain-b', code: 'MALFORMED', reason: 'r' });
    await quarantineReceipt(store.js, { seq: 9, data, chain: 'chain-b', code: 'MALFORMED', reason: 'r' });
    expect((await store.jsm.streams.info(QUARANTINE_STREAM)).state.messages).toBe(before + 1);
  });
});
