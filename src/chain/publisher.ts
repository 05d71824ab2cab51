/**
 * The chain writer: signs receipts in chain order and stores each one in JetStream before the
 * caller may answer (SPEC §2 "no allow before its receipt is stored", §5).
 *
 * One publisher owns one chain. Receipts are signed and published one at a time, because each
 * publish names the stream sequence of the previous receipt on the chain
 * (Nats-Expected-Last-Subject-Sequence): the server refuses a fork, so two writers can never
 * both extend the same receipt. Nats-Msg-Id (the receipt id) makes a retried publish harmless.
 *
 * When a publish fails or times out the publisher does not know whether the receipt was stored,
 * so it re-reads the chain's head from the stream before signing the next one: seq is never
 * reused and prev always names a stored receipt.
 */
import type { Logger } from 'pino';
import { ChioError } from '../errors/index.js';
import { beforeDeadline } from '../time.js';
import { GENESIS_PREV, RECEIPT_SCHEMA, MAX_RECEIPT_BYTES, CHAIN_ID_PATTERN, receiptBytes, type Receipt, type ReceiptBody, type ReceiptDraft } from '../receipt/receipt.js';
import { signReceipt, type ReceiptSigner } from '../receipt/sign.js';
import { sha256Hex } from '../crypto/sha256.js';
import { appendReceipt, readLastStoredReceipt, type ChainHeadRead, type ReceiptPublish } from '../store/receipts.js';

interface ChainHead {
  seq: number;
  id: string;
  /** Stream sequence of the head receipt; 0 when the chain is empty. */
  streamSeq: number;
}

interface Pending {
  draft: ReceiptDraft;
  deadline: number;
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
}

export class ReceiptPublisher {
  readonly chain: string;
  private readonly opts: PublisherOptions;
  private readonly now: () => number;
  private head: ChainHead | undefined;
  private readonly queue: Pending[] = [];
  private running = false;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: () => void = () => {};
  private closed = false;

  constructor(opts: PublisherOptions) {
    if (!CHAIN_ID_PATTERN.test(opts.chain)) throw new ChioError('CONFIG_INVALID', `chain id ${JSON.stringify(opts.chain)} is not a subject token [A-Za-z0-9_-]{1,64}`);
    this.opts = opts;
    this.chain = opts.chain;
    this.now = opts.now ?? Date.now;
  }

  /** Read the chain's head from the stream (resume after a restart). */
  async open(): Promise<{ seq: number }> {
    this.head = await this.readHead();
    return { seq: this.head.seq };
  }

  /**
   * Sign the draft as the next receipt on the chain and store it. Resolves with the stored
   * receipt, or rejects with TIMEOUT / UNAVAILABLE when it was not stored by `deadline`
   * (absolute, ms since epoch); the caller must then deny.
   */
  store(draft: ReceiptDraft, deadline: number): Promise<Receipt> {
    if (this.closed) return Promise.reject(new ChioError('UNAVAILABLE', 'receipt publisher is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ draft, deadline, resolve, reject });
      if (!this.running) void this.run();
    });
  }

  /** Refuse new receipts and wait until every queued one is stored or failed. */
  async drain(): Promise<void> {
    this.closed = true;
    await this.idle;
  }

  private async run(): Promise<void> {
    this.running = true;
    this.idle = new Promise((resolve) => (this.markIdle = resolve));
    try {
      for (let item = this.queue.shift(); item; item = this.queue.shift()) {
        try {
          item.resolve(await this.storeOne(item));
        } catch (err) {
          item.reject(err instanceof ChioError ? err : new ChioError('UNAVAILABLE', 'receipt was not stored', { cause: err }));
        }
      }
    } finally {
      this.running = false;
      this.markIdle();
    }
  }

  private async storeOne(item: Pending): Promise<Receipt> {
    if (this.now() >= item.deadline) throw new ChioError('TIMEOUT', 'receipt deadline passed before signing');
    this.head ??= await beforeDeadline(this.readHead(), item.deadline, 'reading the chain head');
    const head = this.head;
    const body: ReceiptBody = {
      ...item.draft,
      schema: RECEIPT_SCHEMA,
      chain: this.chain,
      seq: head.seq + 1,
      prev: head.id,
      kernel_key: this.opts.kernelKey,
    };
    const receipt = signReceipt(body, this.opts.signer, sha256Hex);
    const bytes = receiptBytes(receipt);
    if (bytes.length > MAX_RECEIPT_BYTES) throw new ChioError('RECEIPT_INVALID', `receipt is ${bytes.length} bytes, over ${MAX_RECEIPT_BYTES}`);
    try {
      const streamSeq = await appendReceipt(this.opts.js, receipt, bytes, head.streamSeq, Math.max(1, item.deadline - this.now()));
      this.head = { seq: receipt.seq, id: receipt.id, streamSeq };
      return receipt;
    } catch (err) {
      // Stored or not, we cannot tell: re-read the head before the next receipt is signed.
      this.head = undefined;
      this.opts.log.warn({ chain: this.chain, seq: receipt.seq, err: String(err) }, 'receipt not stored');
      const timedOut = this.now() >= item.deadline;
      throw new ChioError(timedOut ? 'TIMEOUT' : 'UNAVAILABLE', 'receipt was not stored', { cause: err });
    }
  }

  private async readHead(): Promise<ChainHead> {
    const last = await readLastStoredReceipt(this.opts.jsm, this.chain);
    if (!last) return { seq: 0, id: GENESIS_PREV, streamSeq: 0 };
    return { seq: last.receipt.seq, id: last.receipt.id, streamSeq: last.streamSeq };
  }
}

