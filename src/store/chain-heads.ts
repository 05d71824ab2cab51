/**
 * Integrated chain heads, `chio-chains` KV bucket: chain id → the last receipt of that chain
 * that became a leaf, {"seq", "id", "index"}, and `base`: the committed head the batch that
 * wrote it extended (null for a chain that had none). The ledger checks each next receipt's
 * link (seq, prev) against the head.
 *
 * A batch writes heads before it commits (ledger/integrator.ts), so a batch that never commits
 * leaves heads at or past the committed size. Integrated again, the same messages need not give
 * the same leaves (the kernel trust set may have changed in between), so such a head is not a
 * chain's head: rollBackUncommittedHeads puts each back to its `base` before integrating.
 */
import type { KV } from '@nats-io/kv';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { ChainHead } from '../receipt/verify.js';

export interface IntegratedChainHead extends ChainHead {
  /** Leaf index of the head receipt. */
  index: number;
}

export interface ChainHeadRecord {
  head: IntegratedChainHead | undefined;
  /** KV revision (0 when never written). */
  revision: number;
  /** The committed head the writing batch extended; null: none; absent in records written before it was kept. */
  base?: IntegratedChainHead | null;
}

/** Values are at most this long: a head with its base is at most 250 bytes. */
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
  else if (isHead(base)) record.base = { seq: base.seq, id: base.id, index: base.index };
  return record;
}

/**
 * Write the head of `chain` with the committed head it extends (`base`); with `revision`, only
 * if the key is still at it (0: never written), so a ledger that lost its lease cannot move a
 * head back. Returns the new revision.
 */
export async function writeChainHead(chains: KV, chain: string, head: IntegratedChainHead, revision?: number, base?: IntegratedChainHead | null): Promise<number> {
  const value = { seq: head.seq, id: head.id, index: head.index, ...(base === undefined ? {} : { base: base && { seq: base.seq, id: base.id, index: base.index } }) };
  return chains.put(chain, JSON.stringify(value), revision === undefined ? {} : { previousSeq: revision });
}

/**
 * Put every head a batch that did not commit left (index ≥ `size`) back to its base, revision
 * checked; a head without a base (written before bases were kept) stays, and the ledger's
 * replay rule covers it as before. The keys are the subjects of the bucket's stream (history 1:
 * one message per chain). Returns the chains rolled back.
 */
export async function rollBackUncommittedHeads(chains: KV, jsm: JetStreamManager, size: number): Promise<string[]> {
  const status = await chains.status();
  const stream = status.streamInfo.config.name;
  const prefix = `$KV.${status.bucket}.`;
  const info = await jsm.streams.info(stream, { subjects_filter: `${prefix}>` });
  const rolledBack: string[] = [];
  for (const subject of Object.keys(info.state.subjects ?? {})) {
    const chain = subject.slice(prefix.length);
    const { head, revision, base } = await readChainHeadRecord(chains, chain);
    if (!head || head.index < size || base === undefined) continue;
    if (base === null) await chains.delete(chain, { previousSeq: revision });
    else await writeChainHead(chains, chain, base, revision);
    rolledBack.push(chain);
  }
  return rolledBack;
}

function isHead(value: unknown): value is IntegratedChainHead {
  const v = value as Partial<IntegratedChainHead> | null;
  return typeof v === 'object' && v !== null && Number.isSafeInteger(v.seq) && Number.isSafeInteger(v.index) && typeof v.id === 'string';
}
