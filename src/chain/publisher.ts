/**
 * The chain writer: signs receipts in chain order and stores each one in JetStream before the
 * caller may answer (SPEC §2 "no allow before its receipt is stored", §5).
 *
 * One publisher owns one chain. Receipts are signed and published one at a time, because each
 * publish names the stream sequence of the previous receipt on the chain
 * (Nats-Expected-Last-Subject-Sequence): the server refuses a fork, so two writers can never
 * both extend the same receipt. Nats-Msg-Id (the first receipt's id) keeps a message from being
 * stored twice; an ack that says "duplicate" is an unknown outcome, since the message stored
 * before under that id may hold other receipts after its first.
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
import { MAX_RECEIPT_BYTES, CHAIN_ID_PATTERN, type Receipt, type ReceiptDraft } from '../receipt/receipt.js';
import { toCorrectionDraft } from '../receipt/correction.js';
import type { ReceiptSigner } from '../receipt/sign.js';
import { MAX_RECEIPTS_PER_MESSAGE, appendReceipts, type ChainHeadRead, type ReceiptPublish } from '../store/receipts.js';
import { StoreFull } from '../store/pub-ack.js';
import { CORRECTION_ROOM_BYTES, signNext, type ChainSigning, type Signed } from './sign-next.js';
import { ChainNotExtended, readChainHead, type ChainHead } from './chain-head.js';
import { LogThrottle } from '../log-throttle.js';
import { ChainOutcomes } from './outcomes.js';
import type { Pending, ReceiptTicket } from './ticket.js';

/**
 * How long past a receipt's deadline the publisher still waits for its PubAck. A late ack is
 * then learnt directly (and the receipt corrected) instead of through a failed publish and a
 * head read; the chain waits meanwhile, as it must: the next receipt names this one as prev.
 * Also the time a correction's publish and its head read may take.
 */
export const DEFAULT_ACK_WAIT_MS = 1_000;

/**
 * An idle chain left unsettled (a publish of unknown outcome, a correction owed) tries again
 * after ackWaitMs, then twice as long each time up to this: a write the client still buffered
 * may land after a reconnect, minutes later, and must be found and corrected all the same.
 */
export const MAX_SETTLE_RETRY_MS = 30_000;

/** How long a stopping publisher goes on trying to settle its chain. */
export const DRAIN_SETTLE_MS = 5_000;

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
  /**
   * The receipt `bytes` hold, verified (id, and a signature by a kernel key the ledger trusts);
   * throws when they are no such receipt. What the chain resumes from is checked with it.
   */
  verifyStored(bytes: Uint8Array): Receipt;
  /**
   * The seq of this chain's head in the log (the ledger's chain-heads record), read once, when
   * the chain is opened: a stream whose chain ends before it lost receipts (chain-head.ts).
   */
  loggedSeq?: (chain: string) => Promise<number | undefined>;
  /**
   * Whether a PubAck refusing a message for want of room (StoreFull) means it stored nothing:
   * true only for a receipts stream of one replica. A replicated stream's leader answers such a
   * refusal also when it fails to apply a message its raft group already committed (nats-server
   * then steps the leader down): a follower may hold the message and, once leader, serve it as
   * the chain head. Such a refusal is then of unknown outcome like any other. False unless given.
   */
  refusedForRoomIsFinal?: boolean;
}

export class ReceiptPublisher {
  readonly chain: string;
  private readonly opts: PublisherOptions;
  private readonly now: () => number;
  private readonly ackWaitMs: number;
  private readonly signing: ChainSigning;
  /**
   * The warnings logged per receipt message that was not stored: hundreds a second while the
   * store is full or NATS is down, so at most one a second each (log-throttle.ts). Corrections,
   * lost receipts and errors are logged each one, not through it.
   */
  private readonly warnings: LogThrottle;
  private head: ChainHead | undefined;
  /** The head last stored or read, kept when `head` is forgotten after a failed publish (see readHead). */
  private known: ChainHead | undefined;
  /** Publishes of unknown outcome and corrections owed: settled before anything else is signed. */
  private readonly outcomes: ChainOutcomes;
  private readonly queue: Pending[] = [];
  private running = false;
  /** Receipts being stored (head read, sign, publish), else 0. */
  private busy = 0;
  private busySince = 0;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: () => void = () => {};
  private closed = false;
  /** Why the chain is not extended (chain-head.ts ChainNotExtended), until a head read finds it whole. */
  private stuck: string | undefined;
  /** The next try to settle an idle chain (see MAX_SETTLE_RETRY_MS), and the wait before the one after. */
  private retry: ReturnType<typeof setTimeout> | undefined;
  private retryMs = 0;

  constructor(opts: PublisherOptions) {
    if (!CHAIN_ID_PATTERN.test(opts.chain)) throw new ChioError('CONFIG_INVALID', `chain id ${JSON.stringify(opts.chain)} is not a subject token [A-Za-z0-9_-]{1,64}`);
    this.opts = opts;
    this.chain = opts.chain;
    this.now = opts.now ?? Date.now;
    this.ackWaitMs = opts.ackWaitMs ?? DEFAULT_ACK_WAIT_MS;
    this.signing = { chain: opts.chain, kernelKey: opts.kernelKey, signer: opts.signer };
    this.warnings = new LogThrottle(opts.log, { context: { chain: opts.chain } });
    this.outcomes = new ChainOutcomes(opts.chain, opts.log);
  }

  /** Receipts waiting for this chain, the one being stored included: how busy the lane is. */
  get backlog(): number {
    return this.queue.length + this.busy;
  }

  /** How long the message in flight has been (0 when none is): a PubAck takes about a millisecond. */
  get busyForMs(): number {
    return this.busy > 0 ? this.now() - this.busySince : 0;
  }

  /**
   * Why the chain is not extended now, when it is not: its stream lost receipts it stored, or
   * its last message is not its own (chain-head.ts). Its receipts are refused meanwhile, and it
   * reads its head again, idle or not, until the stream holds it whole again.
   */
  get problem(): string | undefined {
    return this.stuck;
  }

  /**
   * Read the chain's head from the stream (resume after a restart). A chain that is not to be
   * extended is opened all the same, with its `problem`; any other failure throws.
   */
  async open(): Promise<{ seq: number } | { problem: string }> {
    try {
      this.learnHead(await this.readHead());
    } catch (err) {
      if (!(err instanceof ChainNotExtended)) throw err;
      this.retryLater();
      return { problem: err.message };
    }
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
      undelivered: () => {
        const receipt = item.receipt;
        if (item.outcome !== 'stored' || !receipt) return;
        item.receipt = undefined;
        this.outcomes.owe(receipt, 'its answer reached no one: the client had gone');
        if (!this.running) void this.run();
      },
    };
  }

  /**
   * Refuse new receipts; wait until every queued one is stored or failed, and the chain is
   * settled (an unknown publish outcome looked up, an owed correction stored) or was tried once.
   */
  async drain(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    const until = this.now() + DRAIN_SETTLE_MS;
    for (;;) {
      if (!this.running && this.outcomes.unsettled) void this.run();
      await this.idle;
      if (!this.outcomes.unsettled || this.now() >= until) return this.warnings.flush();
      await new Promise((resolve) => setTimeout(resolve, Math.min(this.ackWaitMs, Math.max(0, until - this.now()))));
    }
  }

  private async run(): Promise<void> {
    this.running = true;
    this.idle = new Promise((resolve) => (this.markIdle = resolve));
    try {
      let settleTried = false;
      for (;;) {
        // Drop what was abandoned while queued: it was never signed, so there is nothing to correct.
        while (this.queue[0]?.outcome) this.queue.shift();
        if (this.queue.length > 0) {
          // Never a rejection nobody handles (it would end the process): logged, and the lane goes on.
          try {
            await this.storeBatch();
          } catch (err) {
            this.opts.log.error({ chain: this.chain, err: String(err) }, 'receipts not stored');
          }
          settleTried = false;
        } else if (!settleTried && (this.outcomes.unsettled || this.stuck !== undefined)) {
          // Idle: settle the chain now rather than when the next receipt comes. One try a run;
          // an idle lane may get no receipt for a long time (a not-ready authz gets none at
          // all), so a timer runs it again.
          settleTried = true;
          await this.settle(this.now() + this.ackWaitMs).catch((err: unknown) =>
            this.opts.log.error({ chain: this.chain, corrects: this.outcomes.owedIds, err: String(err) }, 'chain not settled; tried again later'));
        } else break;
      }
    } finally {
      this.running = false;
      this.markIdle();
      this.retryLater();
    }
  }

  private retryLater(): void {
    const due = this.outcomes.unsettled || this.stuck !== undefined;
    if (!due) this.retryMs = 0;
    if (this.closed || this.retry !== undefined || !due) return;
    this.retryMs = Math.min(MAX_SETTLE_RETRY_MS, this.retryMs === 0 ? this.ackWaitMs : 2 * this.retryMs);
    this.retry = setTimeout(() => {
      this.retry = undefined;
      if (!this.running) void this.run();
    }, this.retryMs);
    this.retry.unref?.();
  }

  /**
   * Group commit: every receipt queued while the previous message was in flight (up to
   * MAX_RECEIPTS_PER_MESSAGE and MAX_BATCH_BYTES) is signed, in queue order, as consecutive
   * receipts of the chain and stored in one message; each is answered from once that message
   * is stored. One round trip and one server write for the lot, instead of one each.
   */
  private async storeBatch(): Promise<void> {
    const items = this.queue.splice(0, MAX_RECEIPTS_PER_MESSAGE).filter((item) => !item.outcome);
    // Busy from the head read to the end of the publish, and no longer: the lanes read `backlog`
    // when the next Check comes, which may be as soon as these receipts are answered.
    this.busy = items.length;
    this.busySince = this.now();
    try {
      const live = this.unexpired(items);
      if (live.length === 0) return;
      let head: ChainHead;
      try {
        head = await this.settle(Math.max(...live.map((item) => item.deadline)));
      } catch (err) {
        const why = err instanceof ChioError ? err : new ChioError('UNAVAILABLE', 'receipt was not stored', { cause: err });
        for (const item of live) this.refuse(item, why);
        return;
      }
      // Abandoned while the chain was settled: not signed, nothing to correct.
      const ready = this.unexpired(live.filter((item) => !item.outcome));
      let next: ReturnType<typeof signNext>;
      try {
        next = signNext(this.signing, head, ready.map((item) => item.draft), MAX_RECEIPT_BYTES - CORRECTION_ROOM_BYTES, (i, err) => this.refuse(ready[i]!, err));
      } catch (err) {
        // Nothing was published: each Check is refused (a deny), none left waiting for its deadline.
        for (const item of ready) this.refuse(item, new ChioError('INTERNAL', 'receipt could not be signed', { cause: err }));
        return;
      }
      const { signed, taken } = next;
      // What did not fit in this message goes first in the next.
      this.queue.unshift(...ready.slice(taken));
      const batch = signed.map((s) => ({ receipt: s.receipt, bytes: s.bytes, item: ready[s.at]! }));
      if (batch.length === 0) return;
      const deadline = Math.max(...batch.map((b) => b.item.deadline));
      try {
        await this.publish(batch, head, Math.max(1, deadline - this.now()) + this.ackWaitMs);
      } catch (err) {
        for (const b of batch) this.refuse(b.item, new ChioError(this.now() >= b.item.deadline ? 'TIMEOUT' : 'UNAVAILABLE', 'receipt was not stored', { cause: err }));
        return;
      }
      // Synchronously, as abandon() is: no ack can fall between the two. An ack past the
      // deadline is late even when the caller has not abandoned yet: its timer and this ack
      // came in one turn of a stalled loop, and an answer now would come after the client left.
      const ackedAt = this.now();
      for (const { item, receipt } of batch) {
        if (item.outcome !== 'refused' && ackedAt > item.deadline) this.refuse(item, new ChioError('TIMEOUT', 'receipt stored after its deadline'));
        if (item.outcome === 'refused') this.outcomes.owe(receipt, 'PubAck after the receipt was abandoned, or after its deadline');
        else {
          item.outcome = 'stored';
          item.receipt = receipt;
          item.resolve(receipt);
        }
      }
    } finally {
      this.busy = 0;
    }
  }

  /** The items whose deadline has not passed; the others are refused (never signed). */
  private unexpired(items: readonly Pending[]): Pending[] {
    const now = this.now();
    return items.filter((item) => {
      if (now < item.deadline) return true;
      this.refuse(item, new ChioError('TIMEOUT', 'receipt deadline passed before signing'));
      return false;
    });
  }

  /**
   * The head the next receipt follows: read from the stream when a publish failed (head reads
   * by `deadline`), and past the corrections owed, stored first. Throws when either fails.
   */
  private async settle(deadline: number): Promise<ChainHead> {
    // A failed message may land after a head read that did not show it: look again while any
    // is unsure, so that it is found and corrected without waiting for a refused publish.
    if (!this.head || this.outcomes.anyUnsure) this.learnHead(await beforeDeadline(this.readHead(), deadline, 'reading the chain head'));
    for (let owed = this.outcomes.owedReceipts; owed.length > 0; owed = this.outcomes.owedReceipts) await this.correct(owed, this.head!);
    return this.head!;
  }

  /** Store the corrections of `targets` after `head` (SPEC §5), as many as fit one message; throws when they were not stored. */
  private async correct(targets: readonly Receipt[], head: ChainHead): Promise<void> {
    const at = new Date(this.now()).toISOString();
    const { signed } = signNext(this.signing, head, targets.map((t) => toCorrectionDraft(t, at)), MAX_RECEIPT_BYTES, (_, err) => {
      throw err;
    });
    try {
      await this.publish(signed, head, this.ackWaitMs);
    } catch (err) {
      throw new ChioError('UNAVAILABLE', `the correction of ${targets[0]!.id} was not stored`, { cause: err });
    }
    for (const { receipt } of signed) this.outcomes.corrected(receipt);
  }

  /** Store receipts as the ones after `head`; on failure, whether they were stored is learnt at the next head read. */
  private async publish(batch: readonly Signed[], head: ChainHead, timeoutMs: number): Promise<void> {
    const last = batch.at(-1)!.receipt;
    try {
      const streamSeq = await appendReceipts(this.opts.js, this.chain, batch.map((s) => ({ id: s.receipt.id, bytes: s.bytes })), head.streamSeq, timeoutMs);
      this.head = this.known = { seq: last.seq, id: last.id, streamSeq, storedAt: streamSeq };
      this.outcomes.storedThrough(last.seq);
    } catch (err) {
      this.head = undefined;
      // A stream of one replica said it stored nothing (full): not of unknown outcome, so nothing
      // to look for later. Counting it as unsure filled `unsure` past MAX_UNSURE while the store
      // stayed full, and logged an error for every further message that it might go uncorrected.
      // A replicated stream's refusal may come after its raft group committed the message
      // (refusedForRoomIsFinal): that one stays unsure, so it is corrected should it be served.
      if (err instanceof StoreFull && this.opts.refusedForRoomIsFinal === true) {
        this.warnings.warn({ chain: this.chain, seq: batch[0]!.receipt.seq, receipts: batch.length, err: String(err) }, 'receipts not stored: the stream refused them for want of room');
        throw err;
      }
      this.outcomes.publishFailed(batch.map((s) => s.receipt));
      this.warnings.warn({ chain: this.chain, seq: batch[0]!.receipt.seq, receipts: batch.length, err: String(err) }, 'receipts not stored, or not known to be');
      throw err;
    }
  }

  /** Take `head`, read from the stream, as the chain's head (ChainOutcomes.headRead). */
  private learnHead(head: ChainHead): void {
    this.head = this.known = head;
    this.outcomes.headRead(head);
  }

  private refuse(item: Pending, err: ChioError): void {
    if (item.outcome) return;
    item.outcome = 'refused';
    item.reject(err);
  }

  private async readHead(): Promise<ChainHead> {
    const { jsm, verifyStored, loggedSeq, log } = this.opts;
    try {
      const head = await readChainHead({ jsm, chain: this.chain, verifyStored, log, ...(loggedSeq ? { loggedSeq: () => loggedSeq(this.chain) } : {}) }, this.known);
      if (this.stuck !== undefined) log.info({ chain: this.chain, seq: head.seq }, 'receipt chain whole again in the stream; extending it');
      this.stuck = undefined;
      return head;
    } catch (err) {
      if (err instanceof ChainNotExtended) this.stuck = err.message;
      throw err;
    }
  }
}
