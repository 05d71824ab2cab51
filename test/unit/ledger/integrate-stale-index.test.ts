/**
 * An index entry that names a committed leaf which is not its receipt: a batch that never
 * committed (a crash) wrote it, and integrated again under another trust set its receipt was
 * refused, so once the log grew past it the entry points at another receipt's leaf. It is stale:
 * the receipt is not in the log. Before, a copy of that receipt was skipped as a duplicate,
 * and a correction naming it failed its batch as INTERNAL, again on every retry (a stalled ledger).
 */
import { describe, expect, it } from 'vitest';
import { integrate, type IntegrationChecks, type IntegrationPlan } from '../../../src/ledger/integrate.js';
import { createNodeSignatureCheck } from '../../../src/crypto/ed25519.js';
import { canonicalBytes } from '../../../src/receipt/jcs.js';
import { toCorrectionDraft } from '../../../src/receipt/correction.js';
import type { Receipt } from '../../../src/receipt/receipt.js';
import type { StoredMessage } from '../../../src/store/receipts.js';
import { chainOf, draftOf, kernelOf, sealedBatchOf, signReceipt } from '../receipt/helpers.js';
import { joinReceiptMessage } from '../../../src/store/receipt-message.js';
import { Crash, MemoryLog } from './memory-log.js';

const kernel = kernelOf(7);
const other = kernelOf(9, 'chio-kernel-2');
const both: IntegrationChecks = { kernelKeys: [kernel.verifierKey, other.verifierKey], checkSignature: createNodeSignatureCheck() };
const one: IntegrationChecks = { kernelKeys: [kernel.verifierKey], checkSignature: createNodeSignatureCheck() };
const TIME = '2025-01-01T00:59:00.000Z';

const messagesOf = (receipts: readonly Receipt[], firstSeq = 1): StoredMessage[] =>
  receipts.map((r, i) => ({ seq: firstSeq + i, data: canonicalBytes(r) }));

async function integrateAll(log: MemoryLog, batch: StoredMessage[], checks: IntegrationChecks): Promise<IntegrationPlan> {
  const plan = await integrate(log.state, batch, log.reader(), checks);
  log.apply(plan);
  return plan;
}

/**
 * Leaves a1 a2 of chain-a; then x, a receipt of chain-a forked from a1 and signed by the other
 * key, whose batch crashed after writing its index entry (x → 2); integrated again trusting
 * one key less, x is refused and a3 takes leaf 2. x's entry now names a3's leaf.
 */
async function staleLog() {
  const [a1, a2, a3] = chainOf(3, kernel, 'chain-a') as [Receipt, Receipt, Receipt];
  const x = signReceipt(draftOf(50), { chain: 'chain-a', seq: 3, prev: a2.id }, other);
  const log = new MemoryLog();
  await integrateAll(log, messagesOf([a1, a2]), both);
  const crashed = await integrate(log.state, messagesOf([x], 3), log.reader(), both);
  expect(() => log.apply(crashed, 1)).toThrow(Crash);
  expect(log.index.get(x.id)).toEqual({ index: 2, seq: 3 });
  const again = await integrateAll(log, messagesOf([x, a3], 3), one);
  expect(again.quarantined.map((q) => q.code)).toEqual(['UNTRUSTED_KEY']);
  expect(log.state.size).toBe(3);
  expect(log.index.get(x.id)).toEqual({ index: 2, seq: 3 }); // stale: leaf 2 is a3
  return { log, a1, a2, a3, x };
}

describe('integrate, when an index entry names a committed leaf that is another receipt', () => {
  it('does not skip a copy of its receipt as a duplicate (here a fork of its chain: CHAIN_BROKEN)', async () => {
    const { log, x } = await staleLog();
    // Trusted again (the key restored): x no longer extends chain-a, whose head is a3.
    const plan = await integrate(log.state, messagesOf([x], 5), log.reader(), both);
    expect(plan.duplicates).toEqual([]);
    expect(plan.quarantined.map((q) => [q.seq, q.code])).toEqual([[5, 'CHAIN_BROKEN']]);
  });

  it('quarantines a correction naming its receipt as CORRECTION_INVALID (not in the log), and does not fail the batch', async () => {
    const { log, a3, x } = await staleLog();
    const correction = signReceipt(toCorrectionDraft(x, TIME), { chain: 'chain-a', seq: 4, prev: a3.id }, kernel);
    const plan = await integrate(log.state, messagesOf([correction], 5), log.reader(), one);
    expect(plan.quarantined.map((q) => [q.seq, q.code, q.reason])).toEqual([[5, 'CORRECTION_INVALID', expect.stringMatching(/not in the log/)]]);
    expect(plan.indexEntries).toEqual([]);
  });

  it('still skips a copy of a leaf, and another form of it with the same id (batch-signed where the leaf is signed alone)', async () => {
    const { log, a3 } = await staleLog();
    expect((await integrate(log.state, messagesOf([a3], 5), log.reader(), one)).duplicates).toEqual([{ seq: 5, line: 0 }]);
    const plain = chainOf(2, kernel, 'chain-b');
    await integrateAll(log, messagesOf(plain, 5), one);
    const sealed = sealedBatchOf(2, kernel, 'chain-b');
    expect(sealed.map((s) => s.receipt.id)).toEqual(plain.map((r) => r.id));
    const plan = await integrate(log.state, [{ seq: 7, data: joinReceiptMessage(sealed.map((s) => s.bytes)) }], log.reader(), one);
    expect(plan.quarantined).toEqual([]);
    expect(plan.duplicates).toEqual([{ seq: 7, line: 0 }, { seq: 7, line: 1 }]);
  });
});
