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

/** The integrated head of `chain`, or undefined when none of its receipts is a leaf yet. */
export async function readChainHead(chains: KV, chain: string): Promise<IntegratedChainHead | undefined> {
  const entry = await chains.get(chain);
  if (!entry || entry.operation !== 'PUT') return undefined;
  const { seq, id, index } = entry.json<IntegratedChainHead>();
  return { seq, id, index };
}

export async function writeChainHead(chains: KV, chain: string, head: IntegratedChainHead): Promise<void> {
  await chains.put(chain, JSON.stringify({ seq: head.seq, id: head.id, index: head.index } satisfies IntegratedChainHead));
}
