/**
 * Publishing checkpoints (SPEC §6): a C2SP tlog-checkpoint, signed as a C2SP signed note by
 * the log key, appended to the CHIO_CHECKPOINTS stream — at most every interval, and only
 * while the tree grows. Every checkpoint is kept, so consistency proofs between any two can
 * be served.
 *
 * Never two inconsistent checkpoints, also across crashes: a checkpoint only ever names the
 * committed tree (whose tiles never change below its size), at start-up the tree must still
 * hash to the last published root or the ledger refuses to run, each new tree is proved from
 * its tiles to extend the last checkpoint before it is signed (the committed state is another
 * record, which can go back), and each publish names the stream sequence of the previous
 * checkpoint so that two writers cannot both extend it.
 */
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { ChioError } from '../errors/index.js';
import { bytesEqual } from '../encoding.js';
import { checkTree, openCheckpoint, parseSignerKey, proveTree, signCheckpoint, treeHash, type Hash } from '../tlog/index.js';
import { checkpointsPublishedTotal, publishedTreeSize } from '../metrics.js';
import type { TileStore } from '../store/tile-store.js';
import { appendCheckpoint, readLatestVerifiedCheckpoint } from '../store/checkpoints.js';

export interface PublishedCheckpoint {
  size: number;
  root: Hash;
  note: string;
  streamSeq: number;
  /** When it was published (ms since the epoch): for the checkpoint age metric. */
  publishedAt: number;
}

export interface CheckpointerOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  tiles: TileStore;
  origin: string;
  /** C2SP signer key string of the log key; its name must be the origin. */
  logSignerKey: string;
  log: Logger;
}

export class Checkpointer {
  private last: PublishedCheckpoint | undefined;
  /** The checkpoints stream's last sequence, which the next append names: the last checkpoint's, unless someone else wrote after it. */
  private lastSeq = 0;
  private readonly verifierKey: string;

  constructor(private readonly opts: CheckpointerOptions) {
    this.verifierKey = parseSignerKey(opts.logSignerKey).verifierKey;
  }

  /**
   * Read the last checkpoint and check that the stored tree still agrees with it. Messages on
   * the subject that are no checkpoint of this log (someone else's) are passed over; when none
   * of the last ones is, this ledger is not the log's writer (another key or origin) and refuses.
   */
  async open(): Promise<PublishedCheckpoint | undefined> {
    const { checkpoint: latest, last } = await readLatestVerifiedCheckpoint(this.opts.jsm, this.verifierKey);
    const lastSeq = last?.streamSeq ?? 0;
    if (!latest) {
      if (last) throw new ChioError('TREE_INCONSISTENT', `no recent published checkpoint verifies with this log key and origin ${this.opts.origin}; refusing to sign`);
      return undefined;
    }
    if (latest.streamSeq !== lastSeq) this.opts.log.error({ checkpoint_seq: latest.streamSeq, last_seq: lastSeq }, 'messages on the checkpoints subject that are no checkpoint of this log (someone else publishes there); passed over');
    const cp = openCheckpoint(latest.note, this.verifierKey);
    const root = await treeHash(cp.size, this.opts.tiles.hashReader(cp.size));
    if (!bytesEqual(root, cp.root)) {
      throw new ChioError('TREE_INCONSISTENT', `stored tree of size ${cp.size} does not hash to the published checkpoint's root; refusing to sign`);
    }
    // Only once the tree agrees with it: after a refused append (publish), a sequence taken
    // before this check would let the next publish append right after a checkpoint this
    // ledger has just found its tree does not extend, checked only against the older one.
    this.lastSeq = lastSeq;
    this.last = { size: cp.size, root: cp.root, note: latest.note, streamSeq: latest.streamSeq, publishedAt: latest.storedAt };
    publishedTreeSize.set(cp.size);
    return this.last;
  }

  get latest(): PublishedCheckpoint | undefined {
    return this.last;
  }

  /** Sign and publish a checkpoint of the committed tree, unless it has not grown. */
  async publish(size: number, root: Hash): Promise<PublishedCheckpoint | undefined> {
    if (this.last && size <= this.last.size) return undefined;
    if (this.last) await this.checkExtends(this.last, size, root);
    const note = signCheckpoint({ origin: this.opts.origin, size, root }, this.opts.logSignerKey);
    let streamSeq;
    try {
      streamSeq = await appendCheckpoint(this.opts.js, note, this.lastSeq);
    } catch (err) {
      // Stored or not, we cannot tell (a lost PubAck): adopt whatever is now the latest
      // checkpoint, after checking our tree agrees with it, so the next publish names it.
      await this.open();
      throw err;
    }
    this.last = { size, root, note, streamSeq, publishedAt: Date.now() };
    this.lastSeq = streamSeq;
    checkpointsPublishedTotal.inc();
    publishedTreeSize.set(size);
    this.opts.log.info({ size }, 'checkpoint published');
    return this.last;
  }

  /**
   * Refuse to sign a tree that does not extend the last checkpoint, with a consistency proof
   * from the stored tiles. The committed state says it does, but that state is another record
   * than the checkpoints: one rolled back (a restored bucket, a write lost to a power cut) has
   * the stream integrated again, and under another trust set that gives other leaves.
   */
  private async checkExtends(last: PublishedCheckpoint, size: number, root: Hash): Promise<void> {
    try {
      checkTree(await proveTree(size, last.size, this.opts.tiles.hashReader(size)), size, root, last.size, last.root);
    } catch (err) {
      throw new ChioError('TREE_INCONSISTENT', `the tree of size ${size} does not extend the published checkpoint of size ${last.size}; refusing to sign`, { cause: err });
    }
  }
}
