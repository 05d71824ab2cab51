/**
 * The Check handler with the whole decision pipeline, answering from a receipt that is neither
 * signed nor stored ("stored" at once): what the decision adds to a Check, without the receipt
 * stage. Used by bench/stage-server.ts `decide` and bench/decision-cpu.ts. The stand-in receipt
 * is built with Object.assign: a `{ ...draft, id }` spread cost 0.7 µs a Check (Node 20), a
 * cost of the stand-in that no real receipt path has.
 */
import { CheckHandler } from '../../src/authz/check-handler.js';
import { DecisionPipeline } from '../../src/decision/pipeline.js';
import { loadPolicySet } from '../../src/policy/policy-set.js';
import { createLogger } from '../../src/log.js';
import type { Receipt, ReceiptDraft } from '../../src/receipt/receipt.js';

export function decidingHandler(policies: string, keyDir: string, onInternalError: (err: unknown) => void = () => undefined): CheckHandler {
  const set = loadPolicySet(policies, keyDir);
  const pipeline = new DecisionPipeline({ policies: () => set, mode: 'enforce', defaultVerdict: 'deny', onInternalError, isRevoked: () => false });
  let n = 0;
  const publisher = { store: (draft: ReceiptDraft) => ({ stored: Promise.resolve(Object.assign({ id: (n++).toString(16).padStart(64, '0') }, draft) as unknown as Receipt), abandon: () => false, undelivered: () => undefined }) };
  return new CheckHandler({ pipeline, publisher, receiptTimeoutMs: 150, log: createLogger('error') });
}
