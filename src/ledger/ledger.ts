/**
 * The ledger service: consumes the receipts stream in stream order, integrates receipts into
 * the log (integrator.ts) and publishes checkpoints (checkpointer.ts).
 *
 * One ledger writes at a time (SPEC §6): a ledger is the *writer* while it holds the lease
 * (src/store/ledger-lease.ts), renewed every DEFAULT_LEASE_RENEW_MS, and a *standby*
 * otherwise, looking at the lease every DEFAULT_LEASE_POLL_MS and taking it over when its
 * holder has not renewed it for DEFAULT_LEASE_TTL_MS. A writer that finds its lease lost (a
 * renewal or a commit fails its revision check, or no renewal succeeded for a TTL) stops
 * integrating and publishing and becomes a standby; fencing makes that safe even when it
 * notices late.
 *
 * The durable cursor is the integrator's committed state in KV (`streamSeq`), not a JetStream
 * durable consumer: the tree must be built in exact stream order, and a redelivering consumer
 * hands a retried message back after newer ones. So the writer reads with an ordered consumer
 * starting just past its committed position; after any failure it re-reads its state and
 * starts again from there.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type ConsumerMessages, type JetStreamClient, type JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { isChioError } from '../errors/index.js';
import { chainOfReceiptSubject, entryBundleStore, type ChioResources } from '../store/resources.js';
import { consumeReceipts, type StoredMessage } from '../store/receipts.js';
import { TILE_WIDTH, TileStore } from '../store/tile-store.js';
import { DEFAULT_LEASE_POLL_MS, DEFAULT_LEASE_RENEW_MS, DEFAULT_LEASE_TTL_MS, LedgerLease, type Acquisition } from '../store/ledger-lease.js';
import { ledgerTakeoversTotal, ledgerWriter } from '../metrics.js';
import { Integrator, type IntegratorOptions } from './integrator.js';
import { Checkpointer } from './checkpointer.js';
import { STREAM_RECHECK_MS, StreamAnchor } from './stream-anchor.js';
import { beforeDeadline } from '../time.js';
import { ReconnectGuard } from '../nats/reconnects.js';
import { boundedText } from '../text.js';

/** How long a batch may wait to fill after its first message. */
export const BATCH_LINGER_MS = 50;
/** Pause before reading again after a failed batch. */
export const RETRY_DELAY_MS = 500;
/** Default interval between checkpoints while the tree grows (CHIO_CHECKPOINT_INTERVAL_MS). */
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 1000;

export type LedgerRole = 'writer' | 'standby';

/**
 * Tiles and bundles the ledger keeps in memory. It reads only the right edge of the tree (the
 * tiles and the partial bundle it wrote last, and a few full tiles above them); the verifier's
 * 64 MiB, full of bundles the ledger never reads again, was a quarter of its resident memory.
 */
export const LEDGER_TILE_CACHE_BYTES = 16 * 1024 * 1024;

export interface LedgerOptions {
  nc: NatsConnection;
  resources: ChioResources;
  /** A function when the trust changes while the ledger runs (kernel-keys.ts): read once per batch. */
  kernelKeys: IntegratorOptions['kernelKeys'];
  origin: string;
  logSignerKey: string;
  checkpointIntervalMs?: number;
  /** Worker threads that check signatures beside the ledger's own (IntegratorOptions.verifyThreads). */
  verifyThreads?: number;
  /** Lease timing (tests shorten it); defaults DEFAULT_LEASE_*. */
  lease?: { holder?: string; formerHolder?: string; ttlMs?: number; renewMs?: number; pollMs?: number };
  log: Logger;
}

export class Ledger {
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private publishing: Promise<unknown> = Promise.resolve();
  private stopping = false;
  /** True while this ledger's term as writer lasts: the consuming loop runs while it is. */
  private writing = false;
  private leasing: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** Ends the wait of a halted term before it looks at the stream again (so that a stop need not wait it out). */
  private wakeHalted: (() => void) | undefined;
  /** When the last write of the lease record that succeeded was sent (performance.now): the term ends a TTL after it. */
  private lastRenewedAt = 0;
  /** The last renewal failed without word that the lease was lost (one a NATS reconnect left behind): try again at the next look, not a whole renewal later. */
  private renewalFailed = false;
  /** Why the last try to take the lease failed (the lease record could not be read or written), until one succeeds. */
  private leaseProblem: string | undefined;
  private js!: JetStreamClient;
  /** Whether the stream still holds the log (stream-anchor.ts). */
  private anchor!: StreamAnchor;
  private lease!: LedgerLease;
  /** Ends the wait for a request a NATS reconnect left behind (nats/reconnects.ts): every request the ledger makes. */
  private reconnects: ReconnectGuard | undefined;
  private integrator!: Integrator;
  private checkpointer!: Checkpointer;
  private tiles!: TileStore;

  constructor(private readonly opts: LedgerOptions) {}

  get role(): LedgerRole {
    return this.writing ? 'writer' : 'standby';
  }

  /**
   * Why this ledger is not the writer, for /ready: 'standby' while another ledger holds the
   * lease; with the error when this one cannot take it (JetStream refuses the lease record's
   * write, e.g. a full store), which a bare 'standby' would hide.
   */
  get standbyReason(): string | undefined {
    if (this.writing) return undefined;
    return this.leaseProblem === undefined ? 'standby' : boundedText(`standby: cannot take the writer lease: ${this.leaseProblem}`, 200);
  }

  /** The lease holder's id as last seen (this ledger's own while it writes). */
  get holder(): string | undefined {
    return this.lease.currentHolder;
  }

  get treeSize(): number {
    return this.integrator.size;
  }

  get publishedSize(): number {
    return this.checkpointer.latest?.size ?? 0;
  }

  /** The last receipts-stream sequence integrated (or skipped): the durable cursor. */
  get integratedStreamSeq(): number {
    return this.integrator.streamSeq;
  }

  /**
   * Why this writer integrates nothing: the receipts stream no longer holds what the log
   * integrated (stream-anchor.ts), so reading on would skip receipts in silence. Undefined
   * while it integrates. It looks again every STREAM_RECHECK_MS and goes on once it does.
   */
  get halted(): string | undefined {
    return this.anchor?.halted;
  }

  /** When the latest checkpoint was published (ms since the epoch), if any. */
  get publishedAt(): number | undefined {
    return this.checkpointer.latest?.publishedAt;
  }

  /**
   * Take the lease if it is free and start writing, else start as a standby. Either way the
   * lease is then kept (renewed, or watched) until stop().
   */
  async start(): Promise<void> {
    const { nc, resources, log } = this.opts;
    const reconnects = new ReconnectGuard(nc);
    this.reconnects = reconnects;
    // A batch whose requests a reconnect left behind fails at the reconnect, as a batch whose
    // request timed out fails at its timeout (the crash rule: integrated again from the
    // committed state), instead of holding the term's end, and so the next term, for 5 s.
    this.js = reconnects.guarded(jetstream(nc), 'JetStream');
    const jsm = reconnects.guarded(await jetstreamManager(nc), 'JetStream');
    const [index, chains] = [reconnects.guarded(resources.index, 'the receipt index'), reconnects.guarded(resources.chains, 'the chain heads')];
    this.tiles = new TileStore(reconnects.guarded(resources.tiles, 'the hash tiles'), entryBundleStore(resources.entries, this.js, jsm), LEDGER_TILE_CACHE_BYTES);
    this.anchor = new StreamAnchor({ jsm, index, tiles: this.tiles, log });
    this.lease = new LedgerLease(reconnects.guarded(resources.ledger, 'the writer lease'), { holder: this.opts.lease?.holder, formerHolder: this.opts.lease?.formerHolder, ttlMs: this.ttlMs });
    this.integrator = new Integrator({ js: this.js, jsm, index, chains, lease: this.lease, tiles: this.tiles, kernelKeys: this.opts.kernelKeys, verifyThreads: this.opts.verifyThreads, log });
    this.checkpointer = new Checkpointer({ js: this.js, jsm, tiles: this.tiles, origin: this.opts.origin, logSignerKey: this.opts.logSignerKey, log });
    ledgerWriter.set(0);
    const how = await this.lease.tryAcquire();
    if (how) await this.lead(how);
    else log.info({ holder: this.lease.currentHolder }, 'ledger is standby: another ledger holds the writer lease');
    this.leasing = this.keepLease();
  }

  /** Stop consuming, finish the batch in hand, publish a last checkpoint, release the lease. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.leasing;
    if (this.writing) {
      await this.endTerm();
      await this.checkpoint(true);
      await this.publishing;
      await this.lease.release().catch((err: unknown) => this.opts.log.warn({ err: String(err) }, 'writer lease not released; a standby takes over after its TTL'));
    }
    await this.integrator?.close();
    this.reconnects?.stop();
  }

  private get ttlMs(): number {
    return this.opts.lease?.ttlMs ?? DEFAULT_LEASE_TTL_MS;
  }

  /** Begin a term as writer: the committed state, the checkpoints, then the consuming loop. */
  private async lead(how: Acquisition): Promise<void> {
    const { log } = this.opts;
    const state = await this.integrator.open();
    const last = await this.checkpointer.open();
    // A fresh log publishes its empty checkpoint so that verifiers have something to serve.
    if (!last) await this.checkpointer.publish(state.size, this.integrator.root);
    // Renewed once opened, the term counted from then: a standby's TTL ran while the tree and
    // checkpoints were read (long on a slow NATS), and it may hold the lease by now.
    const renewedAt = performance.now();
    if (!(await this.lease.renew())) return void log.warn({ holder: this.lease.currentHolder }, 'writer lease lost while opening the log: standby');
    this.writing = true;
    this.lastRenewedAt = renewedAt;
    ledgerWriter.set(1);
    if (how === 'takeover') ledgerTakeoversTotal.inc();
    this.loop = this.run(this.js);
    const interval = this.opts.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS;
    this.timer = setInterval(() => void this.checkpoint(), interval);
    log.info({ tree_size: state.size, stream_seq: state.streamSeq, holder: this.lease.holder, acquired: how }, 'ledger is the writer');
  }

  /** End the term: no more batches or checkpoints from this process. */
  private async endTerm(): Promise<void> {
    this.writing = false;
    ledgerWriter.set(0);
    clearInterval(this.timer);
    this.messages?.stop();
    this.wakeHalted?.();
    await this.loop;
    this.anchor.reset();
  }

  /** Renew the lease while writing, watch it while standby, until stopped. */
  private async keepLease(): Promise<void> {
    const { log } = this.opts;
    const renewMs = this.opts.lease?.renewMs ?? DEFAULT_LEASE_RENEW_MS;
    const pollMs = this.opts.lease?.pollMs ?? DEFAULT_LEASE_POLL_MS;
    while (!this.stopping) {
      await new Promise<void>((resolve) => {
        // A writer wakes no later than its term's end (renewals that failed without an answer
        // of the revision check): a standby may hold the lease from then on. After a failed
        // renewal it tries again a look later: a whole renewal later, an outage had left the
        // retry a few hundred ms of its term, and an answer slower than that ended the term.
        const every = this.renewalFailed ? Math.min(renewMs, pollMs) : renewMs;
        const t = setTimeout(resolve, this.writing ? Math.max(0, Math.min(every, this.lastRenewedAt + this.ttlMs - performance.now())) : pollMs);
        this.wake = () => (clearTimeout(t), resolve());
      });
      if (this.stopping) break;
      if (this.writing) await this.renew();
      else {
        let how: Awaited<ReturnType<typeof this.lease.tryAcquire>> | undefined;
        try {
          how = await this.lease.tryAcquire();
          this.leaseProblem = undefined;
        } catch (err) {
          this.leaseProblem = String(err);
          // Reading the record or writing it (the take) failed: the words /ready uses too.
          log.warn({ err: String(err) }, 'cannot take the writer lease');
        }
        if (how) {
          await this.lead(how).catch(async (err: unknown) => {
            this.leaseProblem = `cannot start writing: ${String(err)}`;
            log.error({ err: String(err) }, 'cannot start writing; giving the lease back');
            await this.lease.release().catch(() => undefined);
          });
        }
      }
    }
  }

  private async renew(): Promise<void> {
    let held: boolean;
    // Counted from when the renewal is sent: a standby starts its TTL when it sees the new
    // revision, which may be long before a slow answer reaches this writer. And not waited on
    // past the term's end: unanswered then, it may have been refused, so this ledger steps down
    // (if it was stored after all, the record still names this ledger, which takes it back at
    // its next look).
    const sentAt = performance.now();
    try {
      held = await beforeDeadline(this.lease.renew(), Date.now() + (this.lastRenewedAt + this.ttlMs - sentAt), 'writer lease renewal');
      if (held) this.lastRenewedAt = sentAt;
      this.renewalFailed = false;
    } catch (err) {
      // NATS unreachable: after a TTL without a renewal a standby may hold the lease.
      this.renewalFailed = true;
      held = performance.now() - this.lastRenewedAt < this.ttlMs;
      this.opts.log.warn({ err: String(err), held }, 'writer lease not renewed');
      if (!held) this.lease.drop();
    }
    if (held) return;
    this.opts.log.warn({ holder: this.lease.currentHolder }, 'writer lease lost: stepping down to standby');
    await this.endTerm();
  }

  private checkpoint(last = false): Promise<unknown> {
    // One publish at a time: a slow publish must not race the next tick.
    this.publishing = this.publishing.then(async () => {
      if (!(this.writing || last) || !this.lease.isHeld) return;
      if (this.integrator.size <= (this.checkpointer.latest?.size ?? -1)) return;
      try {
        // The lease read again before signing: a writer paused past it, its renewal not yet
        // failed, must not sign a tree of its own while another ledger writes (and signs) the log.
        if (!(await this.lease.stillHeld())) return void this.opts.log.warn({ size: this.integrator.size }, 'writer lease lost: checkpoint not signed');
        await this.checkpointer.publish(this.integrator.size, this.integrator.root);
      } catch (err) {
        this.opts.log.error({ err: String(err) }, 'checkpoint not published');
      }
    });
    return this.publishing;
  }

  /** Read and integrate while writing; after a failure, resume from the committed state. */
  private async run(js: JetStreamClient): Promise<void> {
    while (this.writing) {
      try {
        if (!(await this.anchor.holdsLog(this.integrator.streamSeq, this.lease.state, this.integrator.size))) {
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, STREAM_RECHECK_MS);
            this.wakeHalted = () => (clearTimeout(t), resolve());
          });
          continue;
        }
        this.messages = await consumeReceipts(js, this.integrator.streamSeq + 1, 2 * TILE_WIDTH);
        // The term may have ended while consume() was being set up: it found nothing to stop.
        if (!this.writing) this.messages.stop();
        await this.consume(this.messages);
      } catch (err) {
        // The batch of a term that ended meanwhile is not committed: the next term starts from the committed state.
        if (!this.writing) return void this.opts.log.debug({ err: String(err) }, 'batch given up: the term has ended');
        // A halt (the stream does not hold the log) was logged once by the anchor, not on every look.
        const halted = this.anchor.halted !== undefined && isChioError(err, 'TREE_INCONSISTENT');
        if (halted) this.opts.log.debug({ err: String(err) }, 'not integrating');
        else if (isChioError(err, 'PENDING')) this.opts.log.warn({ err: String(err), stream_seq: this.integrator.streamSeq }, 'receipt refused for its chain link; confirming with fresh reads');
        else this.opts.log.error({ err: String(err), stream_seq: this.integrator.streamSeq }, 'integration failed; resuming from the committed state');
        this.messages?.stop();
        await this.reopen();
      }
    }
  }

  /** Before each batch, and while none comes (see StreamAnchor.stillHoldsLog). */
  private streamStillHoldsLog(): Promise<void> {
    return this.anchor.stillHoldsLog(this.integrator.streamSeq, this.integrator.size);
  }

  /** Re-read the committed state, retrying until it works (or the term ends): never go on from a guess. */
  private async reopen(): Promise<void> {
    while (this.writing) {
      await new Promise((r) => setTimeout(r, RETRY_DELAY_MS));
      if (!this.writing || !this.lease.isHeld) return;
      try {
        await this.integrator.open();
        return;
      } catch (err) {
        this.opts.log.error({ err: String(err) }, 'cannot re-read ledger state; retrying');
      }
    }
  }

  /**
   * Integrate messages in batches: a batch closes at TILE_WIDTH messages or BATCH_LINGER_MS
   * after its first message, so under load the per-batch writes (tiles, bundle, state) are
   * shared by many receipts, and when idle a receipt waits at most the linger.
   *
   * Batches are integrated one after the other, in stream order; but the next batch is
   * gathered while one is integrated, and its signatures go to the check threads as soon as it
   * closes, so that they are checked while the batch before it is written.
   */
  private async consume(messages: ConsumerMessages): Promise<void> {
    const iterator = messages[Symbol.asyncIterator]();
    let batch: StoredMessage[] = [];
    let closesAt = 0;
    let next: Promise<IteratorResult<JsMsg>> | undefined;
    let integrating: Promise<void> | undefined;
    // The stream is looked at while no batch comes too: one made again below the cursor sends
    // this consumer (which starts past the cursor) nothing at all, and would never be noticed.
    let stalled: unknown;
    let looking = false;
    const watch = setInterval(() => {
      if (looking) return;
      looking = true;
      this.streamStillHoldsLog().catch((err: unknown) => {
        // A failed look (NATS away) is not a halt: the consumer says so on its own.
        if (!isChioError(err, 'TREE_INCONSISTENT')) return;
        stalled = err;
        messages.stop();
      }).finally(() => (looking = false));
    }, STREAM_RECHECK_MS);
    const close = async () => {
      const closed = batch;
      batch = [];
      void this.integrator.checkAhead(closed).catch((err: unknown) => this.opts.log.warn({ err: String(err) }, 'signatures not checked ahead; checked with their batch'));
      // A batch that failed stops the loop here (the caller resumes from the committed state).
      await integrating;
      integrating = this.streamStillHoldsLog().then(() => this.integrator.integrate(closed)).then(() => undefined, (err: unknown) => {
        // Wakes the loop when it waits for messages that may never come: it ends, and throws this.
        messages.stop();
        throw err;
      });
      integrating.catch(() => undefined);
    };
    try {
      for (;;) {
        next ??= iterator.next();
        const result = batch.length === 0 ? await next : await Promise.race([next, sleep(closesAt - Date.now())]);
        if (result === LINGER_OVER) {
          await close();
          continue;
        }
        next = undefined;
        if (result.done) break;
        if (batch.length === 0) closesAt = Date.now() + BATCH_LINGER_MS;
        batch.push({ seq: result.value.seq, data: result.value.data, subjectChain: chainOfReceiptSubject(result.value.subject) });
        if (batch.length >= TILE_WIDTH || !this.writing) await close();
      }
      if (batch.length > 0) await close();
    } finally {
      clearInterval(watch);
      await integrating;
    }
    if (stalled !== undefined) throw stalled;
  }
}

const LINGER_OVER = Symbol('linger over');

function sleep(ms: number): Promise<typeof LINGER_OVER> {
  return new Promise((resolve) => setTimeout(() => resolve(LINGER_OVER), Math.max(0, ms)));
}
