/**
 * Integrated chain heads, `chio-chains` KV bucket: chain id → the last receipt of that chain
 * that became a leaf, {"seq", "id", "index"}, and `base`: the leaf index of the committed head
 * the batch that wrote it extended (null for a chain that had none). The ledger checks each next
 * receipt's link (seq, prev) against the head. Only the index: the leaf holds the rest, and a
 * value with its headers must fit the bucket's message bound.
 *
 * A batch writes heads before it commits (ledger/integrator.ts), so a batch that never commits
 * leaves heads of receipts that are no leaves. Integrated again, the same messages need not give
 * the same leaves (the kernel trust set may have changed in between), so the ledger reads such a
 * head as its base: a head is the chain's only when the leaf at its index is its receipt.
 */
import type { KV } from '@nats-io/kv';
import type { ChainHead } from '../receipt/verify.js';

export interface IntegratedChainHead extends ChainHead {
  /** Leaf index of the head receipt. */
  index: number;
}

export interface ChainHeadRecord {
  head: IntegratedChainHead | undefined;
  /** KV revision (0 when never written). */
  revision: number;
  /** Leaf index of the committed head the writing batch extended; null: none; absent in records written before it was kept. */
  base?: number | null;
}

/**
 * The bucket's message bound. A revision-checked put carries a header of about 60 bytes, which
 * counts too; a head (at most 125 bytes) with its base (at most 25) stays well under it.
 */
export const MAX_CHAIN_HEAD_VALUE_BYTES = 256;

/** The integrated head of `chain`, or undefined when none of its receipts is a leaf yet. */
export async function readChainHead(chains: KV, chain: string): Promise<IntegratedChainHead | undefined> {
  return (await readChainHeadRecord(chains, chain)).head;
}

/** The head of `chain`, its base and its KV revision, for a revision-checked write. */
export async function readChainHeadRecord(chains: KV, chain: string): Promise<ChainHeadRecord> {
  const entry = await chains.get(chain);
  if (!entry) return { head: undefined, revision: 0 };
  if (entry.operation !== 'PUT') return { head: undefined, revision: entry.revision };
  const { seq, id, index, base } = entry.json<IntegratedChainHead & { base?: unknown }>();
  const record: ChainHeadRecord = { head: { seq, id, index }, revision: entry.revision };
  if (base === null) record.base = null;
  else if (Number.isSafeInteger(base) && (base as number) >= 0) record.base = base as number;
  return record;
}

/**
 * Write the head of `chain` with the committed head it extends (`base`); with `revision`, only
 * if the key is still at it (0: never written), so a ledger that lost its lease cannot move a
 * head back. Returns the new revision.
 */
export async function writeChainHead(chains: KV, chain: string, head: IntegratedChainHead, revision?: number, base?: number | null): Promise<number> {
  const value = { seq: head.seq, id: head.id, index: head.index, ...(base === undefined ? {} : { base }) };
  return chains.put(chain, JSON.stringify(value), revision === undefined ? {} : { previousSeq: revision });
}
