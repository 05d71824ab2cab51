/**
 * Whether a receipt the index names is a committed leaf, checked against the tree itself.
 *
 * An index entry alone does not say so: entries are written before their batch commits
 * (integrator.ts), and integrated again under another trust set the same messages may give
 * other leaves, so an entry of a receipt refused then stays, and once the log grows past it
 * points at another receipt's leaf (the verifier answers 404 for it). A receipt stored again
 * after its kernel key left the trust set is refused for its key, yet its very bytes may be a
 * leaf: a duplicate, not a receipt to quarantine.
 */
import { bytesEqual } from '../encoding.js';
import { leafHash, storedHashIndex } from '../tlog/index.js';
import type { Sha256 } from '../receipt/batch.js';
import type { IndexEntry } from '../store/receipt-index.js';
import type { IntegrationReader } from './integrate.js';
import { readCommittedLeaf } from './correction-link.js';

/**
 * True when committed leaf `index` is the very bytes `data`: compared by leaf hash, read from
 * the level-0 hash tile (8 KiB, cached, and read to extend the tree anyway), not the entry
 * bundle (up to 256 receipts). SHA-256 makes an equal hash equal bytes.
 */
export async function isLeafBytes(readHashes: IntegrationReader['readHashes'], index: number, data: Uint8Array, sha?: Sha256): Promise<boolean> {
  const [stored] = await readHashes([storedHashIndex(0, index)]);
  return stored !== undefined && bytesEqual(stored, leafHash(data, sha));
}

/**
 * True when receipt `id`, stored as `data`, is already a leaf with these very bytes in the
 * committed tree of `size` leaves: one index read, and one hash tile read only when the index
 * names a committed leaf.
 */
export async function isCommittedCopy(reader: IntegrationReader, size: number, id: string, data: Uint8Array, sha?: Sha256): Promise<boolean> {
  const entry = await reader.readIndexEntry(id);
  return entry !== undefined && entry.index < size && (await isLeafBytes(reader.readHashes, entry.index, data, sha));
}

/**
 * True when `entry`, the index entry of receipt `id` (stored as `data`), names a committed leaf
 * of a tree of `size` leaves that is that receipt; false for a stale one. These very bytes are
 * answered by their leaf hash; another form of the receipt (its id, other bytes: signed alone
 * where the leaf was batch-signed) reads the leaf from its entry bundle.
 */
export async function isLeafOf(reader: IntegrationReader, size: number, entry: IndexEntry, id: string, data: Uint8Array, sha?: Sha256): Promise<boolean> {
  if (entry.index >= size) return false;
  if (await isLeafBytes(reader.readHashes, entry.index, data, sha)) return true;
  return (await readCommittedLeaf(reader.readEntries, entry.index, size))?.id === id;
}
