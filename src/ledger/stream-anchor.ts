/**
 * Does the receipts stream still hold what this log integrated? The ledger's cursor is its
 * committed stream sequence, and it reads on past it. A stream deleted and made again (every
 * Chio service creates a missing one at start), restored from an older copy, or cut short by a
 * lost store numbers its messages again from below the cursor: the ledger would skip every
 * receipt stored there, in silence, though each was answered from. Stored, and never provable.
 *
 * So the ledger reads on only from a stream that
 *   - reaches its cursor (last sequence ≥ cursor) and still holds every message past it
 *     (first sequence ≤ cursor + 1), asked before each batch;
 *   - is the one it started reading (same creation time), asked before each batch;
 *   - holds at the cursor the message read there (its SHA-256, kept in the committed state),
 *     asked whenever it starts reading: a stream made again while no ledger ran has a new
 *     creation time that nothing here remembers, and it may even reach past the cursor. A
 *     state written before that digest was kept is checked by its last leaf instead: its
 *     receipt, byte for byte, at the sequence and line its index entry records (which misses a
 *     stream that lost only messages refused or skipped after that leaf).
 * The first two are also asked every STREAM_RECHECK_MS while no batch comes: a stream made
 * again below the cursor sends the reader nothing at all. A stream that fails one is not read
 * on: StreamAnchor says why (`halted`, the log once per halt, chio_ledger_halted), and the
 * ledger asks again.
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import { ChioError } from '../errors/index.js';
import { bytesEqual } from '../encoding.js';
import { ledgerHalted } from '../metrics.js';
import { readIndexEntry } from '../store/receipt-index.js';
import { readReceiptMessage, readStreamShape, type StreamShape } from '../store/receipts.js';
import { splitReceiptMessage } from '../store/receipt-message.js';
import type { LedgerState } from '../store/ledger-state.js';
import { TILE_WIDTH, type TileStore } from '../store/tile-store.js';
import { sha256Hex } from '../crypto/sha256.js';

/** How soon a ledger that found the receipts stream not holding its log looks again, and how often it looks while no batch comes. */
export const STREAM_RECHECK_MS = 2_000;

/** Whether the writing ledger may read the stream on, and why not while it may not. */
export class StreamAnchor {
  /** The creation time of the stream this term reads: a stream made again is another. */
  private created: string | undefined;
  private haltedBy: string | undefined;

  constructor(private readonly opts: { jsm: JetStreamManager; index: KV; tiles: TileStore; log: Logger }) {}

  /** Why the ledger integrates nothing now, or undefined while it may. */
  get halted(): string | undefined {
    return this.haltedBy;
  }

  /**
   * Before reading on from `cursor` (the committed `state`'s, with a tree of `size` leaves):
   * the stream's shape, and the message read at the cursor (or, for an older state, the last
   * leaf) still where it was. True when it may read on.
   */
  async holdsLog(cursor: number, state: LedgerState, size: number): Promise<boolean> {
    const { jsm, index, tiles } = this.opts;
    const shape = await readStreamShape(jsm);
    const anchor = async () => (state.lastMessage !== undefined ? cursorProblem(jsm, state) : anchorProblem(jsm, index, await lastLeaf(tiles, size)));
    const problem = shapeProblem(shape, cursor) ?? (await anchor());
    this.created = shape.created;
    return this.settle(problem, cursor, size);
  }

  /** Before each batch, and while none comes: still the stream read, still holding everything past `cursor`. Throws TREE_INCONSISTENT when not. */
  async stillHoldsLog(cursor: number, size: number): Promise<void> {
    const problem = shapeProblem(await readStreamShape(this.opts.jsm), cursor, this.created);
    if (!this.settle(problem, cursor, size)) throw new ChioError('TREE_INCONSISTENT', problem!);
  }

  /** The term ended: a standby integrates nothing anyway, and the writer that follows says its own. */
  reset(): void {
    this.haltedBy = undefined;
    ledgerHalted.set(0);
  }

  /** Record why the ledger stops integrating (once in the log), or that it may go on; true when it may. */
  private settle(problem: string | undefined, cursor: number, size: number): boolean {
    const { log } = this.opts;
    if (problem === undefined) {
      if (this.haltedBy !== undefined) log.warn({ stream_seq: cursor }, 'the receipts stream holds the log again; integrating');
      this.reset();
      return true;
    }
    // Logged when the ledger halts or halts for another reason, not when only a number in the
    // reason moved (the stream's end, while receipts are stored in it): once, not every look.
    if (this.haltedBy === undefined || reasonOf(problem) !== reasonOf(this.haltedBy)) log.error({ stream_seq: cursor, tree_size: size }, `not integrating: ${problem}`);
    this.haltedBy = problem;
    ledgerHalted.set(1);
    return false;
  }
}

/** A halt's reason without its numbers (sequences, times): what says whether it is another. */
function reasonOf(problem: string): string {
  return problem.replace(/\d+/g, '#');
}

/** The bytes of the last leaf (a receipt) of a tree of `size` leaves, or undefined for an empty tree. */
async function lastLeaf(tiles: TileStore, size: number): Promise<Uint8Array | undefined> {
  if (size === 0) return undefined;
  const n = Math.floor((size - 1) / TILE_WIDTH);
  return (await tiles.readEntries(n, size - n * TILE_WIDTH)).at(-1);
}

/**
 * Why the stream cannot be read on from `cursor` (the last sequence integrated), or undefined
 * when it can. `created`: the creation time of the stream read so far, when there is one.
 */
export function shapeProblem(shape: StreamShape, cursor: number, created?: string): string | undefined {
  if (created !== undefined && shape.created !== created) {
    return `the receipts stream was made again while the ledger read it (created ${shape.created}, not ${created})`;
  }
  if (shape.lastSeq < cursor) {
    return `the receipts stream ends at sequence ${shape.lastSeq}, before ${cursor}, the last the log integrated: it was deleted and made again, restored from an older copy, or lost its end`;
  }
  if (shape.firstSeq > cursor + 1) {
    return `the receipts stream begins at sequence ${shape.firstSeq}: messages ${cursor + 1} to ${shape.firstSeq - 1} were removed before the log integrated them`;
  }
  return undefined;
}

/**
 * Why the stream does not hold at the cursor the message the committed state says was read
 * there, or undefined when it does; undefined too for a state without that digest.
 */
export async function cursorProblem(jsm: JetStreamManager, state: LedgerState): Promise<string | undefined> {
  if (state.lastMessage === undefined || state.streamSeq === 0) return undefined;
  const message = await readReceiptMessage(jsm, state.streamSeq);
  if (message && sha256Hex(message) === state.lastMessage) return undefined;
  return `the receipts stream no longer holds at sequence ${state.streamSeq} the message the log read there: it was deleted and made again, or restored from another copy`;
}

/**
 * Why the stream does not hold `lastLeaf` (the bytes of the tree's last leaf, a receipt) where
 * the index says it was read from, or undefined when it does (or the tree is empty).
 */
export async function anchorProblem(jsm: JetStreamManager, index: KV, lastLeaf: Uint8Array | undefined): Promise<string | undefined> {
  if (!lastLeaf) return undefined;
  const id = (JSON.parse(new TextDecoder().decode(lastLeaf)) as { id?: unknown }).id;
  const entry = typeof id === 'string' ? await readIndexEntry(index, id) : undefined;
  if (!entry) return `the last leaf of the log has no index entry (receipt ${String(id)}): the index was lost or replaced`;
  const message = await readReceiptMessage(jsm, entry.seq);
  const stored = message && splitReceiptMessage(message)[entry.line ?? 0];
  if (stored && bytesEqual(stored, lastLeaf)) return undefined;
  return `the receipts stream no longer holds the last receipt the log integrated (${id} at sequence ${entry.seq}): it was deleted and made again, or restored from another copy`;
}
