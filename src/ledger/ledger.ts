/**
 * The ledger service: consumes the receipts stream in stream order, integrates receipts into
 * the log (integrator.ts) and publishes checkpoints (checkpointer.ts).
 *
 * The durable cursor is the integrator's committed state in KV (`streamSeq`), not a JetStream
 * durable consumer: the tree must be built in exact stream order, and a redelivering consumer
 * hands a retried message back after newer ones. So the ledger reads with an ordered consumer
 * starting just past its committed position; after any failure it re-reads its state and
 * starts again from there.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type ConsumerMessages, type JetStreamClient, type JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import type { ChioResources } from '../store/resources.js';
import { consumeReceipts, type StoredMessage } from '../store/receipts.js';
import { TILE_WIDTH, TileStore } from '../store/tile-store.js';
import { Integrator } from './integrator.js';
import { Checkpointer } from './checkpointer.js';

/** How long a batch may wait to fill after its first message. */
export const BATCH_LINGER_MS = 50;
/** Pause before reading again after a failed batch. */
export const RETRY_DELAY_MS = 500;
/** Default interval between checkpoints while the tree grows (CHIO_CHECKPOINT_INTERVAL_MS). */
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 1000;

export interface LedgerOptions {
  nc: NatsConnection;
  resources: ChioResources;
  kernelKeys: readonly string[];
  origin: string;
  logSignerKey: string;
  checkpointIntervalMs?: number;
  log: Logger;
}

export class Ledger {
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private publishing: Promise<unknown> = Promise.resolve();
  private stopping = false;
  private integrator!: Integrator;
  private checkpointer!: Checkpointer;
  private readonly tiles: TileStore;

  constructor(private readonly opts: LedgerOptions) {
    this.tiles = new TileStore(opts.resources.tiles, opts.resources.entries);
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

  /** When the latest checkpoint was published (ms since the epoch), if any. */
  get publishedAt(): number | undefined {
    return this.checkpointer.latest?.publishedAt;
  }

  async start(): Promise<void> {
    const { nc, resources, log } = this.opts;
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    this.integrator = new Integrator({ js, index: resources.index, chains: resources.chains, ledger: resources.ledger, tiles: this.tiles, kernelKeys: this.opts.kernelKeys, log });
    const state = await this.integrator.open();
    this.checkpointer = new Checkpointer({ js, jsm, tiles: this.tiles, origin: this.opts.origin, logSignerKey: this.opts.logSignerKey, log });
    const last = await this.checkpointer.open();
    // A fresh log publishes its empty checkpoint so that verifiers have something to serve.
    if (!last) await this.checkpointer.publish(state.size, this.integrator.root);
    this.loop = this.run(js);
    const interval = this.opts.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS;
    this.timer = setInterval(() => void this.checkpoint(), interval);
    log.info({ tree_size: state.size, stream_seq: state.streamSeq }, 'ledger started');
  }

  /** Stop consuming, finish the batch in hand, publish a last checkpoint. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    this.messages?.stop();
    await this.loop;
    await this.checkpoint();
    await this.publishing;
  }

  private checkpoint(): Promise<unknown> {
    // One publish at a time: a slow publish must not race the next tick.
    this.publishing = this.publishing.then(() =>
      this.checkpointer.publish(this.integrator.size, this.integrator.root).catch((err) => {
        this.opts.log.error({ err: String(err) }, 'checkpoint not published');
      }),
    );
    return this.publishing;
  }

  /** Read and integrate until stopped; after a failure, resume from the committed state. */
  private async run(js: JetStreamClient): Promise<void> {
    while (!this.stopping) {
      try {
        this.messages = await consumeReceipts(js, this.integrator.streamSeq + 1, 2 * TILE_WIDTH);
        // stop() may have come while consume() was being set up: it found nothing to stop.
        if (this.stopping) this.messages.stop();
        await this.consume(this.messages);
      } catch (err) {
        if (this.stopping) break;
        this.opts.log.error({ err: String(err), stream_seq: this.integrator.streamSeq }, 'integration failed; resuming from the committed state');
        this.messages?.stop();
        await this.reopen();
      }
    }
  }

  /** Re-read the committed state, retrying until it works (or we stop): never go on from a guess. */
  private async reopen(): Promise<void> {
    while (!this.stopping) {
      await new Promise((r) => setTimeout(r, RETRY_DELAY_MS));
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
   */
  private async consume(messages: ConsumerMessages): Promise<void> {
    const iterator = messages[Symbol.asyncIterator]();
    let batch: StoredMessage[] = [];
    let closesAt = 0;
    let next: Promise<IteratorResult<JsMsg>> | undefined;
    for (;;) {
      next ??= iterator.next();
      const result = batch.length === 0 ? await next : await Promise.race([next, sleep(closesAt - Date.now())]);
      if (result === LINGER_OVER) {
        await this.integrator.integrate(batch);
        batch = [];
        continue;
      }
      next = undefined;
      if (result.done) break;
      if (batch.length === 0) closesAt = Date.now() + BATCH_LINGER_MS;
      batch.push({ seq: result.value.seq, data: result.value.data });
      if (batch.length >= TILE_WIDTH || this.stopping) {
        await this.integrator.integrate(batch);
        batch = [];
      }
    }
    if (batch.length > 0) await this.integrator.integrate(batch);
  }
}

const LINGER_OVER = Symbol('linger over');

function sleep(ms: number): Promise<typeof LINGER_OVER> {
  return new Promise((resolve) => setTimeout(() => resolve(LINGER_OVER), Math.max(0, ms)));
}
