/**
 * One Check, end to end: decide → sign → store (PubAck) → answer (SPEC §2). The answer never
 * leaves before its receipt is stored; a receipt not stored by the deadline
 * (CHIO_RECEIPT_TIMEOUT_MS from arrival) is a deny by guard ReceiptLedger with HTTP 503.
 */
import type { Logger } from 'pino';
import type { ReceiptPublisher, ReceiptDraft } from '../chain/publisher.js';
import { beforeDeadline } from '../time.js';
import type { Receipt } from '../receipt/receipt.js';
import { checkDuration, decisionsTotal, receiptsStoredTotal, receiptStoreFailuresTotal } from '../metrics.js';
import { httpStatusOf, toCheckResponse, toUnstoredResponse } from './response.js';
import type { Decision, DecisionPipeline } from '../decision/pipeline.js';
import type { CheckRequest, CheckResponse } from './wire.js';

/** Grace after the receipt deadline for a publish already under way to report back. */
const DEADLINE_SLACK_MS = 5;

export interface CheckHandlerOptions {
  pipeline: DecisionPipeline;
  publisher: ReceiptPublisher;
  receiptTimeoutMs: number;
  log: Logger;
  now?: () => number;
}

export class CheckHandler {
  private readonly opts: CheckHandlerOptions;
  private readonly now: () => number;
  private inFlight = 0;
  private drained: (() => void) | undefined;

  constructor(opts: CheckHandlerOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
  }

  /** Answer one CheckRequest. Never rejects. */
  async check(req: CheckRequest | null | undefined): Promise<CheckResponse> {
    const started = this.now();
    this.inFlight += 1;
    try {
      const deadline = started + this.opts.receiptTimeoutMs;
      // Deciding (a JWKS fetch, say) gets two thirds of the budget, so a slow dependency is a
      // deny with its own reason and a stored receipt, not a ReceiptLedger 503.
      const decision = await this.opts.pipeline.decide(req, started + Math.floor((this.opts.receiptTimeoutMs * 2) / 3));
      if (decision.error !== undefined) this.opts.log.error({ err: String(decision.error) }, 'decision pipeline failed; denied (Internal)');
      const receipt = await this.store(decision, deadline);
      const response = receipt ? toCheckResponse(decision, receipt) : toUnstoredResponse(decision);
      const answered = receipt ? (decision.shadow ? 'allow' : decision.verdict) : 'deny';
      decisionsTotal.inc({ verdict: answered, guard: receipt ? (decision.guard ?? '') : 'ReceiptLedger', shadow: String(decision.shadow) });
      this.opts.log.debug({ verdict: answered, guard: decision.guard, receipt_id: receipt?.id, path: decision.request.path }, 'check answered');
      return response;
    } finally {
      checkDuration.observe((this.now() - started) / 1000);
      this.inFlight -= 1;
      if (this.inFlight === 0) this.drained?.();
    }
  }

  /** Resolves when no Check is in flight. */
  async drain(): Promise<void> {
    if (this.inFlight === 0) return;
    await new Promise<void>((resolve) => (this.drained = resolve));
  }

  private async store(decision: Decision, deadline: number): Promise<Receipt | undefined> {
    const draft: ReceiptDraft = {
      time: new Date(this.now()).toISOString(),
      request: decision.request,
      subject: decision.subject,
      decision: {
        verdict: decision.verdict,
        ...(decision.guard ? { guard: decision.guard } : {}),
        ...(decision.reason ? { reason: decision.reason } : {}),
        http_status: httpStatusOf(decision),
        shadow: decision.shadow,
      },
      evidence: decision.evidence,
      policy_hash: decision.policyHash,
    };
    try {
      // The publisher honours the deadline itself; this cap makes sure no answer ever waits past it.
      const receipt = await beforeDeadline(this.opts.publisher.store(draft, deadline), deadline + DEADLINE_SLACK_MS, 'storing the receipt');
      receiptsStoredTotal.inc();
      return receipt;
    } catch (err) {
      receiptStoreFailuresTotal.inc();
      this.opts.log.warn({ err: String(err) }, 'receipt not stored; denied (ReceiptLedger)');
      return undefined;
    }
  }
}
