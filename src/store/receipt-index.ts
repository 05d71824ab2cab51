/**
 * The receipt index, `chio-index` KV bucket: receipt id → {"index": <leaf index>, "seq": <receipts-stream sequence>}.
 *
 * Written by the ledger before a batch commits, so an entry at or past the committed tree size
 * comes from a batch that did not finish (see src/ledger/integrator.ts).
 */
import type { KV } from '@nats-io/kv';

export interface IndexEntry {
  /** Leaf index of the receipt in the tree. */
  index: number;
  /** Stream sequence of the receipt in CHIO_RECEIPTS. */
  seq: number;
}

/** The index entry of receipt `id`, or undefined when the ledger has not integrated it. */
export async function readIndexEntry(index: KV, id: string): Promise<IndexEntry | undefined> {
  const entry = await index.get(id);
  return entry && entry.operation === 'PUT' ? entry.json<IndexEntry>() : undefined;
}

export async function writeIndexEntry(index: KV, id: string, entry: IndexEntry): Promise<void> {
  await index.put(id, JSON.stringify({ index: entry.index, seq: entry.seq } satisfies IndexEntry));
}
