/**
 * Integrated chain heads, `chio-chains` KV bucket: chain id → the last receipt of that chain
 * that became a leaf, {"seq", "id", "index"}. The ledger checks each next receipt's link
 * (seq, prev) against it.
 */
import type { KV } from '@nats-io/kv';
import type { ChainHead } from '../receipt/verify.js';

export interface IntegratedChainHead extends ChainHead {
  /** Leaf index of the head receipt. */
  index: number;
}

/** Values are at most this long: a head is about 110 bytes. */
export const MAX_CHAIN_HEAD_VALUE_BYTES = 256;

/** The integrated head of `chain`, or undefined when none of its receipts is a leaf yet. */
export async function readChainHead(chains: KV, chain: string): Promise<IntegratedChainHead | undefined> {
  return (await readChainHeadRecord(chains, chain)).head;
}

/** The head of `chain` and its KV revision (0 when never written), for a revision-checked write. */
export async function readChainHeadRecord(chains: KV, chain: string): Promise<{ head: IntegratedChainHead | undefined; revision: number }> {
  const entry = await chains.get(chain);
  if (!entry) return { head: undefined, revision: 0 };
  if (entry.operation !== 'PUT') return { head: undefined, revision: entry.revision };
  const { seq, id, index } = entry.json<IntegratedChainHead>();
  return { head: { seq, id, index }, revision: entry.revision };
}

/**
 * Write the head of `chain`; with `revision`, only if the key is still at it (0: never written),
 * so a ledger that lost its lease cannot move a head back. Returns the new revision.
 */
export async function writeChainHead(chains: KV, chain: string, head: IntegratedChainHead, revision?: number): Promise<number> {
  const text = JSON.stringify({ seq: head.seq, id: head.id, index: head.index } satisfies IntegratedChainHead);
  return chains.put(chain, text, revision === undefined ? {} : { previousSeq: revision });
}
