/**
 * Published checkpoints, the CHIO_CHECKPOINTS stream (subject `chio.checkpoints`): every signed
 * checkpoint note, in order, each message the note's bytes. Every checkpoint is kept, so
 * consistency proofs between any two can be served.
 */
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { CHECKPOINTS_STREAM, CHECKPOINTS_SUBJECT } from './resources.js';
import { openCheckpoint } from '../tlog/index.js';

export interface StoredCheckpoint {
  /** The signed note, verbatim. */
  note: string;
  /** Its sequence in the checkpoints stream. */
  streamSeq: number;
  /** When the stream stored it (ms since the epoch). */
  storedAt: number;
}

/** The latest published checkpoint, or undefined when none was published yet. */
export async function readLatestCheckpoint(jsm: JetStreamManager): Promise<StoredCheckpoint | undefined> {
  const msg = await jsm.streams.getMessage(CHECKPOINTS_STREAM, { last_by_subj: CHECKPOINTS_SUBJECT });
  return msg ? { note: msg.string(), streamSeq: msg.seq, storedAt: msg.time.getTime() } : undefined;
}

/** Messages looked back through for the latest checkpoint that verifies. */
export const MAX_CHECKPOINT_LOOKBACK = 256;

/**
 * The latest published checkpoint that verifies with `logKey` (a C2SP verifier key naming the
 * origin), and the last message on the subject, whatever it is: the next append names its
 * sequence. `chio.checkpoints` is a plain subject: a message someone else put there stopped
 * the verifier's proofs (HTTP 500) and every checkpoint after it. Looked back at most
 * MAX_CHECKPOINT_LOOKBACK messages: `checkpoint` undefined with a `last` means none of them
 * verifies, which a writer must not build on.
 */
export async function readLatestVerifiedCheckpoint(jsm: JetStreamManager, logKey: string): Promise<{ checkpoint: StoredCheckpoint | undefined; last: StoredCheckpoint | undefined }> {
  const verifies = (note: string) => {
    try {
      openCheckpoint(note, logKey);
      return true;
    } catch {
      return false;
    }
  };
  const last = await readLatestCheckpoint(jsm);
  if (!last || verifies(last.note)) return { checkpoint: last, last };
  for (let seq = last.streamSeq - 1; seq > 0 && seq >= last.streamSeq - MAX_CHECKPOINT_LOOKBACK; seq--) {
    const earlier = await readCheckpointAt(jsm, seq);
    if (earlier && verifies(earlier.note)) return { checkpoint: earlier, last };
  }
  return { checkpoint: undefined, last };
}

/**
 * Append a checkpoint note; returns its stream sequence. `expectedLastSeq` MUST be the stream's
 * last sequence, the latest checkpoint's unless someone else wrote after it (0 for the first): the server refuses the append when
 * another one was appended since, so two writers cannot both extend the same checkpoint.
 */
export async function appendCheckpoint(js: JetStreamClient, note: string, expectedLastSeq: number): Promise<number> {
  const ack = await js.publish(CHECKPOINTS_SUBJECT, note, { expect: { lastSubjectSequence: expectedLastSeq } });
  return ack.seq;
}

/** The checkpoint at stream sequence `streamSeq`, or undefined when there is none. */
export async function readCheckpointAt(jsm: JetStreamManager, streamSeq: number): Promise<StoredCheckpoint | undefined> {
  const msg = await jsm.streams.getMessage(CHECKPOINTS_STREAM, { seq: streamSeq });
  return msg ? { note: msg.string(), streamSeq: msg.seq, storedAt: msg.time.getTime() } : undefined;
}
