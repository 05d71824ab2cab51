/**
 * The ledger's integration progress and writer lease: key `state` in the `chio-ledger` KV
 * bucket, the JSON
 *
 *   {"size": <leaves in the committed tree>, "streamSeq": <last receipts-stream sequence integrated or skipped>,
 *    "lastMessage": <hex SHA-256 of the message at streamSeq>,
 *    "holder": <id of the ledger that writes, absent when none does>}
 *
 * It is the commit point of a batch (src/ledger/integrator.ts), the ledger's durable cursor on
 * the receipts stream, and the writer lease (ledger-lease.ts): the tree state and the right to
 * extend it live in one record, so that every change of either is one revision-checked write.
 * The verifier reads it to know which tail is not integrated yet. Records written before the
 * lease existed have no "holder" and read as a free lease.
 */
import type { KV } from '@nats-io/kv';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';

export interface LedgerState {
  /** Leaves in the committed tree. */
  size: number;
  /** Stream sequence of the last receipt integrated (or skipped). */
  streamSeq: number;
  /**
   * Hex SHA-256 of the message at `streamSeq` as it was read: whether the stream still holds
   * what was read up to the cursor (src/ledger/stream-anchor.ts). Absent in records written
   * before it was kept, and before the first message.
   */
  lastMessage?: string;
}

export interface LedgerRecord extends LedgerState {
  /** The ledger that holds the writer lease; undefined when it is free. */
  holder?: string;
}

/** A record and the KV revision it was read or written at (0: never written). */
export interface RevisionedRecord {
  record: LedgerRecord;
  revision: number;
}

const STATE_KEY = 'state';

/** The committed state; an empty log when none was written yet. */
export async function readLedgerState(ledger: KV): Promise<LedgerState> {
  return treeStateOf((await readLedgerRecord(ledger)).record);
}

/** The tree state of a record (or of anything holding one): size, cursor, and what the cursor read. */
export function treeStateOf({ size, streamSeq, lastMessage }: LedgerState): LedgerState {
  return { size, streamSeq, ...(lastMessage !== undefined ? { lastMessage } : {}) };
}

/** The whole record with its revision. */
export async function readLedgerRecord(ledger: KV): Promise<RevisionedRecord> {
  const entry = await ledger.get(STATE_KEY);
  if (!entry) return { record: { size: 0, streamSeq: 0 }, revision: 0 };
  if (entry.operation !== 'PUT') return { record: { size: 0, streamSeq: 0 }, revision: entry.revision };
  const { size, streamSeq, lastMessage, holder } = entry.json<LedgerRecord>();
  const digest = typeof lastMessage === 'string' && /^[0-9a-f]{64}$/.test(lastMessage) ? { lastMessage } : {};
  return { record: { size, streamSeq, ...digest, ...(typeof holder === 'string' ? { holder } : {}) }, revision: entry.revision };
}

/**
 * Write `record` only if the key is still at `revision` (0: never written). Returns the new
 * revision, or undefined when another write came first: the caller's view is stale.
 */
export async function writeLedgerRecord(ledger: KV, record: LedgerRecord, revision: number): Promise<number | undefined> {
  const { size, streamSeq, lastMessage, holder } = record;
  const text = JSON.stringify({ size, streamSeq, ...(lastMessage !== undefined ? { lastMessage } : {}), ...(holder !== undefined ? { holder } : {}) } satisfies LedgerRecord);
  try {
    return await ledger.put(STATE_KEY, text, { previousSeq: revision });
  } catch (err) {
    if (isWrongLastSequence(err)) return undefined;
    throw err;
  }
}

/** Commit `state` unconditionally, without a holder (tests and fixtures; the ledger uses the lease). */
export async function writeLedgerState(ledger: KV, state: LedgerState): Promise<void> {
  await ledger.put(STATE_KEY, JSON.stringify({ size: state.size, streamSeq: state.streamSeq } satisfies LedgerState));
}

/** A revision-checked write found another revision than it expected. */
export function isWrongLastSequence(err: unknown): boolean {
  return err instanceof JetStreamApiError && (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);
}
