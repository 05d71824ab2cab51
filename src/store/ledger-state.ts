/**
 * The ledger's integration progress: key `state` in the `chio-ledger` KV bucket, the JSON
 *
 *   {"size": <leaves in the committed tree>, "streamSeq": <last receipts-stream sequence integrated or skipped>}
 *
 * It is the commit point of a batch (src/ledger/integrator.ts) and the ledger's durable cursor
 * on the receipts stream; the verifier reads it to know which tail is not integrated yet.
 */
import type { KV } from '@nats-io/kv';

export interface LedgerState {
  /** Leaves in the committed tree. */
  size: number;
  /** Stream sequence of the last receipt integrated (or skipped). */
  streamSeq: number;
}

const STATE_KEY = 'state';

/** The committed state; an empty log when none was written yet. */
export async function readLedgerState(ledger: KV): Promise<LedgerState> {
  const entry = await ledger.get(STATE_KEY);
  if (!entry || entry.operation !== 'PUT') return { size: 0, streamSeq: 0 };
  const { size, streamSeq } = entry.json<LedgerState>();
  return { size, streamSeq };
}

/** Commit `state`. Only these two fields, in this order, are written. */
export async function writeLedgerState(ledger: KV, state: LedgerState): Promise<void> {
  await ledger.put(STATE_KEY, JSON.stringify({ size: state.size, streamSeq: state.streamSeq } satisfies LedgerState));
}
