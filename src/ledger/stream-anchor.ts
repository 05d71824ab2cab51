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
 * A stream that fails one is not read on: the ledger says why (ledger.ts) and asks again.
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { bytesEqual } from '../encoding.js';
import { readIndexEntry } from '../store/receipt-index.js';
import { readReceiptMessage, type StreamShape } from '../store/receipts.js';
import { splitReceiptMessage } from '../store/receipt-message.js';
import type { LedgerState } from '../store/ledger-state.js';
import { sha256Hex } from '../crypto/sha256.js';


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
