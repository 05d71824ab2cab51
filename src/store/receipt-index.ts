/**
 * The receipt index, `chio-index` KV bucket: receipt id → {"index": <leaf index>, "seq": <receipts-stream sequence>},
 * "line": <line in that message> when not the first,
 * plus "corrected_by": <id> for a receipt that a correction (SPEC §5) integrated later names.
 * Entries written before corrections existed have no "corrected_by" and read the same.
 *
 * Written by the ledger before a batch commits, so an entry at or past the committed tree size
 * comes from a batch that did not finish (see src/ledger/integrator.ts).
 */
import type { KV } from '@nats-io/kv';

export interface IndexEntry {
  /** Leaf index of the receipt in the tree. */
  index: number;
  /** Stream sequence of the message holding the receipt in CHIO_RECEIPTS. */
  seq: number;
  /** The receipt's line in that message (group commit); absent for the first. */
  line?: number;
  /** The id of the correction that names this receipt: it was stored, but its Check was answered 503. */
  corrected_by?: string;
}

/** Values are at most this long: the longest entry (with corrected_by) is about 120 bytes. */
export const MAX_INDEX_VALUE_BYTES = 256;

/** The index entry of receipt `id`, or undefined when the ledger has not integrated it. */
export async function readIndexEntry(index: KV, id: string): Promise<IndexEntry | undefined> {
  return (await readIndexRecord(index, id)).entry;
}

/** The entry of `id` and its KV revision (0 when the key was never written), for a revision-checked write. */
export async function readIndexRecord(index: KV, id: string): Promise<{ entry: IndexEntry | undefined; revision: number }> {
  const stored = await index.get(id);
  if (!stored) return { entry: undefined, revision: 0 };
  if (stored.operation !== 'PUT') return { entry: undefined, revision: stored.revision };
  return { entry: ofIndexEntry(stored.json<IndexEntry>()), revision: stored.revision };
}

/**
 * Write the entry of `id`. With `revision`, only if the key is still at that revision (0: never
 * written), so that a ledger that lost its lease cannot overwrite a newer entry; throws the
 * server's wrong-last-sequence error otherwise.
 */
export async function writeIndexEntry(index: KV, id: string, entry: IndexEntry, revision?: number): Promise<number> {
  return index.put(id, JSON.stringify(ofIndexEntry(entry)), revision === undefined ? {} : { previousSeq: revision });
}

/** Just an entry's fields, optional ones only when set, in one order. */
function ofIndexEntry({ index, seq, line, corrected_by }: IndexEntry): IndexEntry {
  return { index, seq, ...(line ? { line } : {}), ...(corrected_by !== undefined ? { corrected_by } : {}) };
}
