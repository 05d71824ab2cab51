/**
 * What one chain's writer still has to settle (SPEC §5): messages whose publish failed, of
 * unknown outcome until the chain is known at or past their seq, and receipts stored although
 * their Checks were answered 503, owed a correction before anything else is signed.
 *
 * A message whose publish failed may still be stored: a write in flight at the server can land
 * after the head read that followed its failure. It is found at a later head read (its seq is
 * taken by nothing else: the next publish names the old head and is refused), and every
 * receipt in it is then owed a correction.
 */
import type { Logger } from 'pino';
import type { Receipt } from '../receipt/receipt.js';
import type { ChainHead } from './chain-head.js';

/** Failed publishes (messages) remembered until their outcome is known. */
export const MAX_UNSURE = 1024;

export class ChainOutcomes {
  /** Messages whose publish failed, oldest first, each as the receipts it held. */
  private unsure: Receipt[][] = [];
  /** Stored receipts whose Checks were answered 503, by id. */
  private readonly owed = new Map<string, Receipt>();

  constructor(private readonly chain: string, private readonly log: Logger) {}

  /** A publish's outcome is unknown, or a correction is owed. */
  get unsettled(): boolean {
    return this.unsure.length > 0 || this.owed.size > 0;
  }

  /** A message's outcome is unknown: the chain head must be read before the next is signed. */
  get anyUnsure(): boolean {
    return this.unsure.length > 0;
  }

  /** The receipts owed a correction, in the order they were found. */
  get owedReceipts(): Receipt[] {
    return [...this.owed.values()];
  }

  /** The ids of the receipts owed a correction (for a log line). */
  get owedIds(): string[] {
    return [...this.owed.keys()];
  }

  /**
   * The message holding `receipts` may or may not be stored. Bounded: past MAX_UNSURE the
   * oldest is given up on, said in the log (should it ever land, it goes uncorrected). They
   * share seqs while the head stays put, so at most one of them lands.
   */
  publishFailed(receipts: Receipt[]): void {
    this.unsure.push(receipts);
    if (this.unsure.length > MAX_UNSURE) {
      const dropped = this.unsure.shift()!;
      this.log.error({ chain: this.chain, seq: dropped[0]!.seq, receipt_ids: dropped.map((r) => r.id) }, 'too many receipts of unknown outcome; these will not be corrected should they be stored');
    }
  }

  /** Receipts up to `seq` are stored: a failed message at or below it can no longer be stored. */
  storedThrough(seq: number): void {
    this.unsure = this.unsure.filter((u) => u[0]!.seq > seq);
  }

  /**
   * `head` was read from the stream. A failed message is stored when its last receipt is the
   * head (its receipts are then owed corrections, or, for corrections, settle what they
   * correct); it is settled as not stored once the head is at or past its first seq.
   */
  headRead(head: ChainHead): void {
    const stored = this.unsure.find((u) => u.at(-1)!.id === head.id);
    this.storedThrough(head.seq);
    for (const receipt of stored ?? []) {
      if (receipt.corrects !== undefined) this.owed.delete(receipt.corrects);
      else this.owe(receipt, 'stored, but its publish failed');
    }
  }

  /**
   * `receipt` is stored and its Check was answered 503: correct it next. Its line, and the one
   * when the correction is stored, are not throttled although late PubAcks or a client that
   * goes can bring one per Check: they are the log's record of which receipt said what no one
   * was told (one owed and not yet corrected at a crash is found only here). Each correction
   * holds up its chain until stored, so they come no faster than the chain's receipts.
   */
  owe(receipt: Receipt, why: string): void {
    this.owed.set(receipt.id, receipt);
    this.log.warn({ chain: this.chain, seq: receipt.seq, receipt_id: receipt.id, why }, 'receipt stored after its Check was answered 503; correcting it');
  }

  /** `correction` is stored: what it corrects is owed nothing more. */
  corrected(correction: Receipt): void {
    this.owed.delete(correction.corrects!);
    this.log.warn({ chain: this.chain, seq: correction.seq, receipt_id: correction.id, corrects: correction.corrects }, 'receipt corrected: stored, but answered deny 503 (ReceiptLedger)');
  }
}
