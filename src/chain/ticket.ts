/**
 * One receipt between the Check that asked for it and the chain writer (publisher.ts): the
 * ticket the Check answers from, and what the writer keeps for it.
 */
import type { ChioError } from '../errors/index.js';
import type { Receipt, ReceiptDraft } from '../receipt/receipt.js';

/**
 * What the caller of `store` holds for one receipt (SPEC §2, §5). The caller MUST answer from
 * the receipt only when `stored` resolves before it abandons the ticket, or when `abandon()`
 * returns false; in every other case it MUST answer deny / ReceiptLedger / 503.
 */
export interface ReceiptTicket {
  /**
   * Resolves with the receipt once stored (PubAck). Rejects with a ChioError (TIMEOUT,
   * UNAVAILABLE, RECEIPT_INVALID) when it was not stored or was abandoned: then the Check is
   * answered 503, and the publisher corrects the receipt should it be stored after all.
   */
  readonly stored: Promise<Receipt>;
  /**
   * Give up on the receipt. true: it was not stored (yet) and never will be answered from;
   * false: it is already stored, `stored` has resolved, answer from it. Synchronous, as is the
   * handling of a PubAck, so that no ack can fall between the two.
   */
  abandon(): boolean;
  /**
   * The receipt was answered from, but the answer reached no one (the client had gone): it is
   * corrected on the chain, as one answered 503. Nothing when it was not answered from.
   */
  undelivered(): void;
}

export interface Pending {
  draft: ReceiptDraft;
  deadline: number;
  /** Unset while the caller waits; 'stored' once answered from; 'refused' once abandoned or failed. */
  outcome?: 'stored' | 'refused';
  /** The receipt, once answered from. */
  receipt?: Receipt;
  resolve(receipt: Receipt): void;
  reject(err: ChioError): void;
}
