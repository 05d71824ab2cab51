/**
 * Published checkpoints, the CHIO_CHECKPOINTS stream (subject `chio.checkpoints`): every signed
 * checkpoint note, in order, each message the note's bytes. Every checkpoint is kept, so
 * consistency proofs between any two can be served.
 */
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { CHECKPOINTS_STREAM, CHECKPOINTS_SUBJECT } from './resources.js';

export interface StoredCheckpoint {
  /** The signed note, verbatim. */
  note: string;
  /** Its sequence in the checkpoints stream. */
  streamSeq: number;
}

/** The latest published checkpoint, or undefined when none was published yet. */
export async function readLatestCheckpoint(jsm: JetStreamManager): Promise<StoredCheckpoint | undefined> {
  const msg = await jsm.streams.getMessage(CHECKPOINTS_STREAM, { last_by_subj: CHECKPOINTS_SUBJECT });
  return msg ? { note: msg.string(), streamSeq: msg.seq } : undefined;
}

/**
 * Append a checkpoint note; returns its stream sequence. `expectedLastSeq` MUST be the stream
 * sequence of the latest checkpoint (0 for the first): the server refuses the append when
 * another one was appended since, so two writers cannot both extend the same checkpoint.
 */
export async function appendCheckpoint(js: JetStreamClient, note: string, expectedLastSeq: number): Promise<number> {
  const ack = await js.publish(CHECKPOINTS_SUBJECT, note, { expect: { lastSubjectSequence: expectedLastSeq } });
  return ack.seq;
}

/** The checkpoint at stream sequence `streamSeq`, or undefined when there is none. */
export async function readCheckpointAt(jsm: JetStreamManager, streamSeq: number): Promise<StoredCheckpoint | undefined> {
  const msg = await jsm.streams.getMessage(CHECKPOINTS_STREAM, { seq: streamSeq });
  return msg ? { note: msg.string(), streamSeq: msg.seq } : undefined;
}
