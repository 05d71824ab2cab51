/**
 * The ledger halts when the receipts stream no longer holds its log; two ways that went wrong:
 *   1. a stream made again under a running ledger and filled, but not (yet) past its cursor,
 *      is never checked: no batch forms (the ordered consumer starts past the cursor), so the
 *      ledger stays ready and silent while receipts stored there are never integrated;
 *   2. a halted ledger logs its reason again on every look whose stream end moved (the reason
 *      names last_seq), not once: one error line per STREAM_RECHECK_MS while receipts are stored.
 */
import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { Writable } from 'node:stream';
import { useTestStore } from '../unit/store/nats.js';
import { chainOf, kernelOf } from '../unit/receipt/helpers.js';
import type { Receipt } from '../../src/receipt/receipt.js';
import { ledgerMaker, publishReceipts, remakeReceiptsStream, until } from '../support/ledger-on-stream.js';

const store = useTestStore();
const kernel = kernelOf(53);
const newLedger = ledgerMaker(store, kernel, 'chio.test/stream-regressed-gaps', 7);
const publish = (receipts: readonly Receipt[]) => publishReceipts(store, receipts);
const remakeStream = () => remakeReceiptsStream(store);

describe('a halted ledger', () => {
  it('halts a running ledger whose stream was made again and holds fewer messages than its cursor', async () => {
    const ledger = newLedger();
    await ledger.start();
    await publish(chainOf(6, kernel, 'gap-a'));
    await until('six receipts integrated', () => ledger.integratedStreamSeq === 6);
    await remakeStream();
    // Receipts stored in the new stream, answered from, below the cursor: never integrated.
    await publish(chainOf(3, kernel, 'gap-b'));
    try {
      await until('the ledger halted', () => ledger.halted !== undefined, 10_000);
    } finally {
      const state = { halted: ledger.halted, seq: ledger.integratedStreamSeq, size: ledger.treeSize };
      await ledger.stop();
      expect(state.halted, JSON.stringify(state)).toBeDefined();
    }
  }, 60_000);

  it('logs why it halted once, not on every look while receipts are stored in the stream', async () => {
    // Where the test above left the store: a cursor of 6, a stream made again holding 3 messages.
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } });
    const ledger = newLedger(pino({ level: 'info' }, sink));
    await ledger.start();
    await until('the ledger halted', () => ledger.halted !== undefined);
    // Receipts keep being stored (an authz answering Checks), still below the cursor: one every 2.1 s.
    for (const r of chainOf(2, kernel, 'spam-b')) {
      await publish([r]);
      await new Promise((r) => setTimeout(r, 2_500));
    }
    expect(ledger.halted).toMatch(/ends at sequence 5/);
    await ledger.stop();
    const errors = lines.filter((l) => l.includes('not integrating'));
    expect(errors.length, errors.join('')).toBe(1);
  }, 60_000);
});
