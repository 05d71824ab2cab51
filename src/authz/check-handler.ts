/**
 * One Check, end to end: decide → sign → store (PubAck) → answer (SPEC §2). The answer never
 * leaves before its receipt is stored; a receipt not stored by the deadline
 * (CHIO_RECEIPT_TIMEOUT_MS from arrival) is a deny by guard ReceiptLedger with HTTP 503.
 *
 * One truth per receipt: at the deadline the handler abandons the receipt's ticket and answers
 * from the receipt only if the publisher says it was already stored. So the publisher knows
 * every stored receipt whose Check was answered 503, and corrects it on the chain (SPEC §5).
 */
import type { Logger } from 'pino';
import type { Receipt, ReceiptDraft } from '../receipt/receipt.js';
import { checkDuration, decisionsTotal, receiptsStoredTotal, receiptStoreDuration, receiptStoreFailuresTotal } from '../metrics.js';
import { toCheckResponse, toUnstoredResponse } from './response.js';
import { toReceiptDraft, type Decision } from '../decision/decision.js';
import type { ReceiptTicket } from '../chain/publisher.js';
import type { CheckRequest, CheckResponse } from './wire.js';

/** What the handler needs of the decision pipeline. */
export interface Decider {
  /** Decide by `deadline` (absolute ms); never rejects. */
  decide(req: CheckRequest | null | undefined, deadline: number): Promise<Decision>;
}

/** What the handler needs of the chain publisher. */
export interface ReceiptStore {
  /** Sign and store the receipt by `deadline` (absolute ms); the ticket says what may be answered. */
  store(draft: ReceiptDraft, deadline: number): ReceiptTicket;
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
      const { traceparent } = decision.request;
      const receipt = await this.store(toReceiptDraft(decision, new Date(this.now()).toISOString()), deadline, traceparent);
      const response = receipt ? toCheckResponse(decision, receipt) : toUnstoredResponse(decision);
      const answered = receipt ? (decision.shadow ? 'allow' : decision.verdict) : 'deny';
      const guard = receipt ? (decision.verdict === 'deny' ? decision.guard : '') : 'ReceiptLedger';
      decisionsTotal.inc({ verdict: answered, guard, shadow: String(decision.shadow) });
      this.opts.log.debug({ verdict: answered, guard, receipt_id: receipt?.id, path: decision.request.path, traceparent }, 'check answered');
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

  /** `traceparent` (of the Check, when valid) goes into the log lines, so they join its trace. */
  private async store(draft: ReceiptDraft, deadline: number, traceparent: string | undefined): Promise<Receipt | undefined> {
    const handedOver = this.now();
    try {
      const receipt = await this.storedBy(this.opts.publisher.store(draft, deadline), deadline);
      if (receipt) {
        receiptsStoredTotal.inc();
        receiptStoreDuration.observe((this.now() - handedOver) / 1000);
        return receipt;
      }
    } catch (err) {
      this.opts.log.warn({ err: String(err), traceparent }, 'receipt not stored; denied (ReceiptLedger)');
    }
    receiptStoreFailuresTotal.inc();
    return undefined;
  }

  /**
   * The receipt once stored, or undefined when it was not by `deadline`: then it is abandoned,
   * and never answered from, whenever its PubAck comes. Rejects when it could not be stored.
   */
  private async storedBy(ticket: ReceiptTicket, deadline: number): Promise<Receipt | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), Math.max(0, deadline - this.now()));
    });
    try {
      const receipt = await Promise.race([ticket.stored, expired]);
      if (receipt) return receipt;
      // The deadline passed. abandon() and the PubAck's handling are both synchronous: either
      // the receipt is stored already (false: answer from it) or it never will be answered from.
      return ticket.abandon() ? undefined : await ticket.stored;
    } finally {
      clearTimeout(timer);
    }
  }
}
