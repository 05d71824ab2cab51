/**
 * The chain writer: signs receipts in chain order and stores each one in JetStream before the
 * caller may answer (SPEC §2 "no allow before its receipt is stored", §5).
 *
 * One publisher owns one chain. Receipts are signed and published one at a time, because each
 * publish names the stream sequence of the previous receipt on the chain
 * (Nats-Expected-Last-Subject-Sequence): the server refuses a fork, so two writers can never
 * both extend the same receipt. Nats-Msg-Id (the receipt id) makes a retried publish harmless.
 *
 * One truth per receipt. `store` hands the caller a ticket; the caller answers from the receipt
 * only if it is stored before the caller abandons it (its deadline). Every other receipt — one
 * abandoned, refused, or whose publish failed — MUST be answered deny / ReceiptLedger / 503,
 * and the publisher knows which they are. When one of them turns out to be stored after all
 * (its PubAck came after it was abandoned, or the chain head read back after a failed publish
 * is that receipt), the publisher owes a correction (receipt/correction.ts): the next receipt
 * it signs on the chain corrects it, and nothing else is signed before that correction is
 * stored.
 *
 * When a publish fails or times out the publisher does not know whether the receipt was stored,
 * so it re-reads the chain's head from the stream before signing the next one: seq is never
 * reused and prev always names a stored receipt.
 */
import type { Logger } from 'pino';
import { ChioError } from '../errors/index.js';
import { beforeDeadline } from '../time.js';
import { GENESIS_PREV, RECEIPT_SCHEMA, MAX_RECEIPT_BYTES, CHAIN_ID_PATTERN, type Receipt, type ReceiptBody, type ReceiptDraft } from '../receipt/receipt.js';
import { toCorrectionDraft } from '../receipt/correction.js';
import { signReceiptToBytes, type ReceiptSigner } from '../receipt/sign.js';
import { sha256Hex } from '../crypto/sha256.js';
import { appendReceipt, readLastStoredReceipt, type ChainHeadRead, type ReceiptPublish } from '../store/receipts.js';

/**
 * How long past a receipt's deadline the publisher still waits for its PubAck. A late ack is
 * then learnt directly (and the receipt corrected) instead of through a failed publish and a
 * head read; the chain waits meanwhile, as it must: the next receipt names this one as prev.
 * Also the time a correction's publish and its head read may take.
 */
export const DEFAULT_ACK_WAIT_MS = 1_000;

/** Failed publishes remembered until their outcome is known (see `unsure`). */
export const MAX_UNSURE = 1024;

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
}

/**
 * Room a receipt leaves under MAX_RECEIPT_BYTES for its correction, which holds the same
 * request and subject plus `corrects` and the ReceiptLedger decision and evidence (about 250
 * bytes): a correction must never be too large to store, or the chain could not go on.
 */
const CORRECTION_ROOM_BYTES = 512;

interface Signed {
  receipt: Receipt;
  bytes: Uint8Array;
}

interface ChainHead {
  seq: number;
  id: string;
  /** Stream sequence of the head receipt; 0 when the chain is empty. */
  streamSeq: number;
}

interface Pending {
  draft: ReceiptDraft;
  deadline: number;
  /** Unset while the caller waits; 'stored' once answered from; 'refused' once abandoned or failed. */
  outcome?: 'stored' | 'refused';
  resolve(receipt: Receipt): void;
  reject(err: ChioError): void;
}

export interface PublisherOptions {
  js: ReceiptPublish;
  jsm: ChainHeadRead;
  chain: string;
  signer: ReceiptSigner;
  /** The signer's C2SP verifier key, written into every receipt. */
  kernelKey: string;
  log: Logger;
  now?: () => number;
  /** DEFAULT_ACK_WAIT_MS unless given. */
  ackWaitMs?: number;
}

export class ReceiptPublisher {
  readonly chain: string;
  private readonly opts: PublisherOptions;
  private readonly now: () => number;
  private readonly ackWaitMs: number;
  private head: ChainHead | undefined;
  /**
   * Receipts whose publish failed, until the chain is known at or past their seq: a write still
   * in flight at the server may land after the head read that followed its failure, and is then
   * found at a later head read (its seq is taken by nothing else: the next publish is refused).
   */
  private unsure: Receipt[] = [];
  /** A receipt stored although its Check was answered 503: corrected before anything else is signed. */
  private owed: Receipt | undefined;
  private readonly queue: Pending[] = [];
  private running = false;
  /** 1 while a receipt is being stored (head read, sign, publish), else 0. */
  private busy = 0;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: () => void = () => {};
  private closed = false;

  constructor(opts: PublisherOptions) {
    if (!CHAIN_ID_PATTERN.test(opts.chain)) throw new ChioError('CONFIG_INVALID', `chain id ${JSON.stringify(opts.chain)} is not a subject token [A-Za-z0-9_-]{1,64}`);
    this.opts = opts;
    this.chain = opts.chain;
    this.now = opts.now ?? Date.now;
    this.ackWaitMs = opts.ackWaitMs ?? DEFAULT_ACK_WAIT_MS;
  }

  /** Receipts waiting for this chain, the one being stored included: how busy the lane is. */
  get backlog(): number {
    return this.queue.length + this.busy;
  }

  /** Read the chain's head from the stream (resume after a restart). */
  async open(): Promise<{ seq: number }> {
    this.learnHead(await this.readHead());
    return { seq: this.head!.seq };
  }

  /**
   * Sign the draft as the next receipt on the chain and store it by `deadline` (absolute, ms
   * since epoch). See ReceiptTicket for what the caller may answer.
   */
  store(draft: ReceiptDraft, deadline: number): ReceiptTicket {
    let item!: Pending;
    const stored = new Promise<Receipt>((resolve, reject) => (item = { draft, deadline, resolve, reject }));
    // A caller that abandons the ticket need not wait on `stored`.
    stored.catch(() => undefined);
    if (this.closed) this.refuse(item, new ChioError('UNAVAILABLE', 'receipt publisher is closed'));
    else {
      this.queue.push(item);
      if (!this.running) void this.run();
    }
    return {
      stored,
      abandon: () => {
        if (item.outcome === 'stored') return false;
        this.refuse(item, new ChioError('TIMEOUT', 'receipt abandoned at its deadline'));
        return true;
      },
    };
  }

  /**
   * Refuse new receipts; wait until every queued one is stored or failed, and the chain is
   * settled (an unknown publish outcome looked up, an owed correction stored) or was tried once.
   */
  async drain(): Promise<void> {
    this.closed = true;
    if (!this.running && (this.unsure.length > 0 || this.owed)) void this.run();
    await this.idle;
  }

  private async run(): Promise<void> {
    this.running = true;
    this.idle = new Promise((resolve) => (this.markIdle = resolve));
    try {
      let settleTried = false;
      for (;;) {
        // Drop what was abandoned while queued: it was never signed, so there is nothing to correct.
        while (this.queue[0]?.outcome) this.queue.shift();
        const item = this.queue.shift();
        if (item) {
          await this.storeOne(item).catch((err: unknown) => this.refuse(item, err instanceof ChioError ? err : new ChioError('UNAVAILABLE', 'receipt was not stored', { cause: err })));
          settleTried = false;
        } else if (!settleTried && (this.unsure.length > 0 || this.owed)) {
          // Idle: settle the chain now rather than when the next receipt comes. One try.
          settleTried = true;
          await this.settle(this.now() + this.ackWaitMs).catch((err: unknown) =>
            this.opts.log.error({ chain: this.chain, corrects: this.owed?.id, err: String(err) }, 'chain not settled; tried again before the next receipt'));
        } else break;
      }
    } finally {
      this.running = false;
      this.markIdle();
    }
  }

  private async storeOne(item: Pending): Promise<void> {
    if (item.outcome) return;
    if (this.now() >= item.deadline) throw new ChioError('TIMEOUT', 'receipt deadline passed before signing');
    // Busy from the head read to the end of the publish, and no longer: the lanes read `backlog`
    // when the next Check comes, which may be as soon as this receipt is answered.
    this.busy += 1;
    let signed: Signed;
    try {
      const head = await this.settle(item.deadline);
      // Abandoned while the chain was settled: not signed, nothing to correct.
      if (item.outcome) return;
      signed = this.sign(item.draft, head, MAX_RECEIPT_BYTES - CORRECTION_ROOM_BYTES);
      try {
        await this.publish(signed, head, Math.max(1, item.deadline - this.now()) + this.ackWaitMs);
      } catch (err) {
        throw new ChioError(this.now() >= item.deadline ? 'TIMEOUT' : 'UNAVAILABLE', 'receipt was not stored', { cause: err });
      }
    } finally {
      this.busy -= 1;
    }
    if (item.outcome === 'refused') {
      this.owe(signed.receipt, 'PubAck after the receipt was abandoned');
      return;
    }
    item.outcome = 'stored';
    item.resolve(signed.receipt);
  }

  /**
   * The head the next receipt follows: read from the stream when a publish failed (head reads
   * by `deadline`), and past the correction owed, stored first. Throws when either fails.
   */
  private async settle(deadline: number): Promise<ChainHead> {
    if (!this.head) this.learnHead(await beforeDeadline(this.readHead(), deadline, 'reading the chain head'));
    if (this.owed) await this.correct(this.owed, this.head!);
    return this.head!;
  }

  /** Store the correction of `target` after `head` (SPEC §5); throws when it was not stored. */
  private async correct(target: Receipt, head: ChainHead): Promise<void> {
    const signed = this.sign(toCorrectionDraft(target, new Date(this.now()).toISOString()), head, MAX_RECEIPT_BYTES);
    try {
      await this.publish(signed, head, this.ackWaitMs);
    } catch (err) {
      throw new ChioError('UNAVAILABLE', `the correction of ${target.id} was not stored`, { cause: err });
    }
    this.owed = undefined;
    this.opts.log.warn({ chain: this.chain, seq: signed.receipt.seq, receipt_id: signed.receipt.id, corrects: target.id }, 'receipt corrected: stored, but answered deny 503 (ReceiptLedger)');
  }

  /** Sign `draft` as the receipt after `head`; RECEIPT_INVALID when its bytes are over `maxBytes`. */
  private sign(draft: ReceiptDraft, head: ChainHead, maxBytes: number): Signed {
    const body: ReceiptBody = { ...draft, schema: RECEIPT_SCHEMA, chain: this.chain, seq: head.seq + 1, prev: head.id, kernel_key: this.opts.kernelKey };
    const { receipt, bytes } = signReceiptToBytes(body, this.opts.signer, sha256Hex);
    if (bytes.length > maxBytes) throw new ChioError('RECEIPT_INVALID', `receipt is ${bytes.length} bytes, over ${maxBytes}`);
    return { receipt, bytes };
  }

  /** Store a receipt as the one after `head`; on failure, whether it was stored is learnt at the next head read. */
  private async publish({ receipt, bytes }: Signed, head: ChainHead, timeoutMs: number): Promise<void> {
    try {
      const streamSeq = await appendReceipt(this.opts.js, receipt, bytes, head.streamSeq, timeoutMs);
      this.head = { seq: receipt.seq, id: receipt.id, streamSeq };
      // This receipt holds its seq: a failed one at or below it can no longer be stored.
      this.unsure = this.unsure.filter((u) => u.seq > receipt.seq);
    } catch (err) {
      this.head = undefined;
      this.unsure.push(receipt);
      // Bounded: past MAX_UNSURE, the oldest is given up on (said in the log: if it ever lands,
      // it goes uncorrected). They share one seq while the head stays put, so at most one lands.
      if (this.unsure.length > MAX_UNSURE) {
        const dropped = this.unsure.shift()!;
        this.opts.log.error({ chain: this.chain, seq: dropped.seq, receipt_id: dropped.id }, 'too many receipts of unknown outcome; this one will not be corrected should it be stored');
      }
      this.opts.log.warn({ chain: this.chain, seq: receipt.seq, err: String(err) }, 'receipt not stored, or not known to be');
      throw err;
    }
  }

  /**
   * Take `head` as the chain's head. A receipt whose publish failed is stored when it is the head;
   * it is settled as not stored once the head is at or past its seq; else it may still land.
   */
  private learnHead(head: ChainHead): void {
    this.head = head;
    const stored = this.unsure.find((u) => u.id === head.id);
    this.unsure = this.unsure.filter((u) => u.seq > head.seq);
    if (!stored) return;
    if (stored.corrects !== undefined) this.owed = undefined;
    else this.owe(stored, 'stored, but its publish failed');
  }

  /** `receipt` is stored and its Check was answered 503: correct it next. */
  private owe(receipt: Receipt, why: string): void {
    this.owed = receipt;
    this.opts.log.warn({ chain: this.chain, seq: receipt.seq, receipt_id: receipt.id, why }, 'receipt stored after its Check was answered 503; correcting it');
  }

  private refuse(item: Pending, err: ChioError): void {
    if (item.outcome) return;
    item.outcome = 'refused';
    item.reject(err);
  }

  private async readHead(): Promise<ChainHead> {
    const last = await readLastStoredReceipt(this.opts.jsm, this.chain);
    if (!last) return { seq: 0, id: GENESIS_PREV, streamSeq: 0 };
    return { seq: last.receipt.seq, id: last.receipt.id, streamSeq: last.streamSeq };
  }
}
