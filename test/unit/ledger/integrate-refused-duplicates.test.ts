/**
 * Duplicates of leaves that the trust in force refuses: a leaf stored again after its kernel key
 * left the trust set (kernels.yaml rotation) is in the log already, so it is skipped as a
 * duplicate, not quarantined (which counted it in chio_receipts_quarantined_total and fired
 * ChioReceiptsQuarantined for a receipt the log holds). Only the very bytes of the leaf count.
 */
import { describe, expect, it } from 'vitest';
import { integrate, type IntegrationChecks, type IntegrationPlan } from '../../../src/ledger/integrate.js';
import { createNodeSignatureCheck } from '../../../src/crypto/ed25519.js';
import { canonicalBytes } from '../../../src/receipt/jcs.js';
import type { Receipt } from '../../../src/receipt/receipt.js';
import type { StoredMessage } from '../../../src/store/receipts.js';
import { chainOf, kernelOf, signBody } from '../receipt/helpers.js';
import { MemoryLog } from './memory-log.js';

const retired = kernelOf(7);
const current = kernelOf(9, 'chio-kernel-2');
const before: IntegrationChecks = { kernelKeys: [retired.verifierKey, current.verifierKey], checkSignature: createNodeSignatureCheck() };
const after: IntegrationChecks = { kernelKeys: [current.verifierKey], checkSignature: createNodeSignatureCheck() };

const messagesOf = (items: ReadonlyArray<Receipt | Uint8Array>, firstSeq = 1): StoredMessage[] =>
  items.map((item, i) => ({ seq: firstSeq + i, data: item instanceof Uint8Array ? item : canonicalBytes(item) }));

async function integrateAll(log: MemoryLog, batch: StoredMessage[], checks: IntegrationChecks): Promise<IntegrationPlan> {
  const plan = await integrate(log.state, batch, log.reader(), checks);
  log.apply(plan);
  return plan;
}

/** A log whose leaves are a1 a2 (signed by the retired key) and b1 (the current one). */
async function rotatedLog() {
  const [a1, a2] = chainOf(2, retired, 'chain-a') as [Receipt, Receipt];
  const [b1] = chainOf(1, current, 'chain-b') as [Receipt];
  const log = new MemoryLog();
  await integrateAll(log, messagesOf([a1, a2, b1]), before);
  const reads: string[] = [];
  const reader = { ...log.reader(), readIndexEntry: async (id: string) => (reads.push(id), log.index.get(id)) };
  return { log, a1, a2, b1, reads, reader };
}

describe('integrate, when a leaf is stored again after its kernel key left the trust set', () => {
  it('skips it as a duplicate, quarantining nothing', async () => {
    const { log, a1, a2, reader } = await rotatedLog();
    const plan = await integrate(log.state, messagesOf([a2, a1], 4), reader, after);
    expect(plan.quarantined).toEqual([]);
    expect(plan.duplicates).toEqual([{ seq: 4, line: 0 }, { seq: 5, line: 0 }]);
    expect(plan.leaves).toEqual([]);
    expect(plan.next).toMatchObject({ size: 3, streamSeq: 5 });
  });

  it('skips it as a duplicate when its signature is refused too (a stricter check), quarantining nothing', async () => {
    const { log, b1, reader } = await rotatedLog();
    const plan = await integrate(log.state, messagesOf([b1], 4), reader, { ...after, checkSignature: () => false });
    expect(plan.quarantined).toEqual([]);
    expect(plan.duplicates).toEqual([{ seq: 4, line: 0 }]);
  });

  it('quarantines as UNTRUSTED_KEY a receipt of that id whose bytes are not the leaf\'s (another signature)', async () => {
    const { log, a2, reader } = await rotatedLog();
    // The same body (so the same id, naming the retired key), signed by another key.
    const { id: _id, signature: _signature, ...body } = a2;
    const forged = signBody(body, current.signer);
    expect([forged.id, forged.signature === a2.signature]).toEqual([a2.id, false]);
    const plan = await integrate(log.state, messagesOf([forged], 4), reader, after);
    expect(plan.quarantined.map((q) => [q.seq, q.code])).toEqual([[4, 'UNTRUSTED_KEY']]);
    expect(plan.duplicates).toEqual([]);
  });

  it('reads the index only for a receipt refused for its key or signature, never for one that does not parse as a receipt or whose id is not its own', async () => {
    const { log, a2, reader, reads } = await rotatedLog();
    const junk = [new TextEncoder().encode('{"id":"x"}'), canonicalBytes({ ...a2, id: 'f'.repeat(64) })];
    const plan = await integrate(log.state, messagesOf(junk, 4), reader, after);
    expect(plan.quarantined.map((q) => q.code)).toEqual(['RECEIPT_INVALID', 'RECEIPT_INVALID']);
    expect(reads).toEqual([]);
  });
});
