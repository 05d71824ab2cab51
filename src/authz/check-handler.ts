/**
 * One Check, end to end: decide → sign → store (PubAck) → answer (SPEC §2). The answer never
 * leaves before its receipt is stored; a receipt not stored by the deadline is a deny by guard
 * ReceiptLedger with HTTP 503. The deadline is CHIO_RECEIPT_TIMEOUT_MS from arrival, or a
 * margin (answerMarginMs) before the client's own deadline (Envoy's ext_authz timeout) when that
 * is sooner: an answer the client no longer waits for is no answer, and a receipt stored for it
 * would say allow where Envoy, having given up, denied.
 *
 * One truth per receipt: at the deadline the handler abandons the receipt's ticket and answers
 * from the receipt only if the publisher says it was already stored. So the publisher knows
 * every stored receipt whose Check was answered 503, and corrects it on the chain (SPEC §5).
 * A client that goes (Envoy resets the call when its own timer fires) is met the same way:
 * the ticket is abandoned at once, and a receipt stored before it went is handed back as
 * undelivered, to be corrected: the log never keeps an allow that no one was told.
 */
import type { Logger } from 'pino';
import type { Receipt, ReceiptDraft } from '../receipt/receipt.js';
import { checkDuration, checksUnansweredTotal, decisionsTotal, receiptsStoredTotal, receiptStoreDuration, receiptStoreFailuresTotal } from '../metrics.js';
import { toCheckResponse, toUnstoredResponse } from './response.js';
import { toReceiptDraft, type Decision } from '../decision/decision.js';
import type { ReceiptTicket } from '../chain/ticket.js';
import type { CheckRequest, CheckResponse } from './wire.js';
import { LogThrottle } from '../log-throttle.js';
import { isoTime } from '../time.js';
import { DeadlineTimers } from './deadline-timers.js';

/**
 * Time kept, before the client's own deadline, for the answer's way back and the event loop's
 * lag (p99 about 5 ms at 1,000 Checks/s on a 2-core machine, pauses to 20 ms and more): a
 * quarter of the client's time, at most MAX_ANSWER_MARGIN_MS.
 */
export const MAX_ANSWER_MARGIN_MS = 20;

/**
 * Least time a client's deadline may leave for storing a receipt: below it the Check is
 * answered deny 503 (ReceiptLedger) without signing anything. A client may name any
 * grpc-timeout; without this floor a tiny one would have receipts signed that could not be
 * stored in time, each then owing a correction that holds up its chain for everyone.
 */
export const MIN_CLIENT_STORE_MS = 10;

/** Margin before a client deadline `remainingMs` away (see MAX_ANSWER_MARGIN_MS). */
export function answerMarginMs(remainingMs: number): number {
  return Math.min(MAX_ANSWER_MARGIN_MS, Math.max(0, remainingMs) / 4);
}

/** What the handler needs of the decision pipeline. */
export interface Decider {
  /** Decide by `deadline` (absolute ms); never rejects. */
  decide(req: CheckRequest | null | undefined, deadline: number): Promise<Decision>;
}

/** The client's side of a Check, as the transport sees it (authz/grpc-unary.ts UnaryCall). */
export interface ClientLink {
  /** True once the client has gone without its answer. */
  gone(): boolean;
  /** `listener` is called once, if the client goes before it is answered. */
  onGone(listener: () => void): void;
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
  /** One 'receipt not stored' line per Check would flood the log while NATS is down, as would a client that goes Check after Check (log-throttle.ts). */
  private readonly warnings: LogThrottle;
  private inFlight = 0;
  /** Resolved, and cleared, when the last Check in flight is answered; shared by every drain(). */
  private idle: { promise: Promise<void>; resolve: () => void } | undefined;
  /** Every receipt deadline on one timer: a timer per Check cost more than its wait (deadline-timers.ts). */
  private readonly deadlines: DeadlineTimers;

  constructor(opts: CheckHandlerOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.warnings = new LogThrottle(opts.log);
    this.deadlines = new DeadlineTimers(this.now);
  }

  /**
   * Answer one CheckRequest, by `clientDeadline` (ms since the epoch: when the client stops
   * waiting, from its grpc-timeout) when given, to `client` (told when it goes). Never rejects.
   */
  async check(req: CheckRequest | null | undefined, clientDeadline?: number, client?: ClientLink): Promise<CheckResponse> {
    const started = this.now();
    this.inFlight += 1;
    try {
      const clientLeft = clientDeadline === undefined ? Infinity : clientDeadline - started;
      const budget = Math.min(this.opts.receiptTimeoutMs, clientLeft - answerMarginMs(clientLeft));
      const deadline = started + budget;
      // Deciding (a JWKS fetch, say) gets two thirds of the budget, so a slow dependency is a
      // deny with its own reason and a stored receipt, not a ReceiptLedger 503.
      const decision = await this.opts.pipeline.decide(req, started + Math.floor((budget * 2) / 3));
      const { traceparent } = decision.request;
      const clientBound = budget < this.opts.receiptTimeoutMs;
      // A client gone while it was decided is told nothing: its receipt is not even signed.
      const storable = (!clientBound || deadline - this.now() >= MIN_CLIENT_STORE_MS) && !client?.gone();
      // Recorded at the instant the decision judged credential times at, not after deciding
      // (which may have waited on a JWKS): else an allow at the edge of expiry read as one after.
      const time = isoTime(decision.decidedAt ?? this.now());
      const receipt = storable ? await this.store(toReceiptDraft(decision, time), deadline, traceparent, client) : undefined;
      const response = receipt ? toCheckResponse(decision, receipt) : toUnstoredResponse(decision);
      if (client?.gone()) {
        checksUnansweredTotal.inc();
        return response;
      }
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
    const drained = this.whenIdle();
    // The count of warnings not yet said is said before the stop.
    void drained.then(() => this.warnings.flush());
    return drained;
  }

  private whenIdle(): Promise<void> {
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
  private async store(draft: ReceiptDraft, deadline: number, traceparent: string | undefined, client: ClientLink | undefined): Promise<Receipt | undefined> {
    const handedOver = this.now();
    try {
      const ticket = this.opts.publisher.store(draft, deadline);
      const receipt = await this.storedBy(ticket, deadline, client);
      if (client?.gone()) {
        // Its answer would reach no one: no failure of the store. A receipt stored all the
        // same is corrected, as one answered 503. A client can go so Check after Check: this
        // line is throttled, while the chain's lines about the correction name every receipt.
        if (receipt) {
          ticket.undelivered();
          this.warnings.warn({ receipt_id: receipt.id, traceparent }, 'client gone before its answer; the receipt is corrected');
        }
        return undefined;
      }
      if (receipt) {
        receiptsStoredTotal.inc();
        receiptStoreDuration.observe((this.now() - handedOver) / 1000);
        return receipt;
      }
    } catch (err) {
      this.warnings.warn({ err: String(err), traceparent }, 'receipt not stored; denied (ReceiptLedger)');
    }
    receiptStoreFailuresTotal.inc();
    return undefined;
  }

  /**
   * The receipt once stored, or undefined when it was not by `deadline`, or before the client
   * went: then it is abandoned, and never answered from, whenever its PubAck comes. Rejects
   * when it could not be stored.
   */
  private async storedBy(ticket: ReceiptTicket, deadline: number, client: ClientLink | undefined): Promise<Receipt | undefined> {
    // One promise, settled by whichever comes first: the PubAck (or the store's failure), the
    // deadline, or the client going. The last two settle it with no receipt, "not stored by
    // then", whatever their callers pass: only the PubAck may hand over a receipt.
    let notStored!: () => void;
    const outcome = new Promise<Receipt | undefined>((resolve, reject) => {
      notStored = () => resolve(undefined);
      ticket.stored.then(resolve, reject);
    });
    const expiry = this.deadlines.add(deadline, notStored);
    client?.onGone(notStored);
    let receipt: Receipt | undefined;
    try {
      receipt = await outcome;
    } finally {
      expiry.cancel();
    }
    if (receipt) return receipt;
    // The deadline passed. abandon() and the PubAck's handling are both synchronous: either
    // the receipt is stored already (false: answer from it) or it never will be answered from.
    return ticket.abandon() ? undefined : await ticket.stored;
  }
}
