/**
 * One Check, end to end: decide → sign → store (PubAck) → answer (SPEC §2). The answer never
 * leaves before its receipt is stored; a receipt not stored by the deadline
 * (CHIO_RECEIPT_TIMEOUT_MS from arrival) is a deny by guard ReceiptLedger with HTTP 503.
 */
import type { Logger } from 'pino';
import { beforeDeadline } from '../time.js';
import type { Receipt, ReceiptDraft } from '../receipt/receipt.js';
import { checkDuration, decisionsTotal, receiptsStoredTotal, receiptStoreFailuresTotal } from '../metrics.js';
import { toCheckResponse, toUnstoredResponse } from './response.js';
import { toReceiptDraft, type Decision } from '../decision/decision.js';
import type { CheckRequest, CheckResponse } from './wire.js';

/** Grace after the receipt deadline for a publish already under way to report back. */
const DEADLINE_SLACK_MS = 5;

/** What the handler needs of the decision pipeline. */
export interface Decider {
  /** Decide by `deadline` (absolute ms); never rejects. */
  decide(req: CheckRequest | null | undefined, deadline: number): Promise<Decision>;
}

/** What the handler needs of the chain publisher. */
export interface ReceiptStore {
  /** Sign and store the receipt; rejects when it was not stored by `deadline` (absolute ms). */
  store(draft: ReceiptDraft, deadline: number): Promise<Receipt>;
}

export interface CheckHandlerOptions {
  pipeline: Decider;
  publisher: ReceiptStore;
  receiptTimeoutMs: number;
  log: Logger;
  now?: () => number;
}

export class CheckHandler {
  private readonly opts: CheckHandlerOptions;
  private readonly now: () => number;
  private inFlight = 0;
  /** Resolved, and cleared, when the last Check in flight is answered; shared by every drain(). */
  private idle: { promise: Promise<void>; resolve: () => void } | undefined;

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
      const receipt = await this.store(toReceiptDraft(decision, new Date(this.now()).toISOString()), deadline);
      const response = receipt ? toCheckResponse(decision, receipt) : toUnstoredResponse(decision);
      const answered = receipt ? (decision.shadow ? 'allow' : decision.verdict) : 'deny';
      const guard = receipt ? (decision.verdict === 'deny' ? decision.guard : '') : 'ReceiptLedger';
      decisionsTotal.inc({ verdict: answered, guard, shadow: String(decision.shadow) });
      this.opts.log.debug({ verdict: answered, guard, receipt_id: receipt?.id, path: decision.request.path }, 'check answered');
      return response;
    } finally {
      checkDuration.observe((this.now() - started) / 1000);
      this.inFlight -= 1;
      if (this.inFlight === 0) this.markIdle();
    }
  }

  /** Resolves when no Check is in flight. Any number of callers may wait at once. */
  drain(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    if (!this.idle) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.idle = { promise, resolve };
    }
    return this.idle.promise;
  }

  private markIdle(): void {
    this.idle?.resolve();
    this.idle = undefined;
  }

  private async store(draft: ReceiptDraft, deadline: number): Promise<Receipt | undefined> {
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
