/**
 * Receipts the log refused for their chain link, and the ones that follow them: a receipt refused
 * once but stored again and made a leaf must not be remembered as refused, or a receipt chained
 * after it would be quarantined without the confirmation that fresh reads still refuse it.
 */
import { describe, expect, it } from 'vitest';
import { integrate, type IntegrationChecks } from '../../../src/ledger/integrate.js';
import { createNodeSignatureCheck } from '../../../src/crypto/ed25519.js';
import { canonicalBytes } from '../../../src/receipt/jcs.js';
import type { Receipt } from '../../../src/receipt/receipt.js';
import { chainOf, kernelOf } from '../receipt/helpers.js';
import { MemoryLog } from './memory-log.js';

const kernel = kernelOf(7);
const checks: IntegrationChecks = { kernelKeys: [kernel.verifierKey], checkSignature: createNodeSignatureCheck() };
const messagesOf = (items: readonly Receipt[], firstSeq = 1) => items.map((r, i) => ({ seq: firstSeq + i, data: canonicalBytes(r) }));

describe('integrate: refusedLinks', () => {
  it('does not name a receipt refused for its link that a later copy in the same batch made a leaf', async () => {
    const [r1, r2, r3] = chainOf(3, kernel, 'relink');
    const log = new MemoryLog();
    log.apply(await integrate(log.state, messagesOf([r1!]), log.reader(), checks));
    // r3 comes before r2 (refused), then again after it (links now).
    const plan = await integrate(log.state, messagesOf([r3!, r2!, r3!], 2), log.reader(), checks);
    expect(plan.leaves.map((l) => l.receipt.id)).toEqual([r2!.id, r3!.id]);
    expect(plan.quarantined.map((q) => q.code)).toEqual(['CHAIN_BROKEN']);
    expect(plan.refusedLinks).not.toContain(r3!.id);
  });
});
