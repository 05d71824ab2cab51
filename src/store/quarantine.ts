/**
 * Quarantine, the CHIO_QUARANTINE stream: receipt bytes the ledger refused, on subject
 * `chio.quarantine.<chain>` (the chain the bytes name, even when they fail their checks;
 * `unknown` when they name no valid chain), with headers
 *
 *   Chio-Reason-Code   the ChioError code of the failed check
 *   Chio-Reason        the reason, one line, at most MAX_REASON_LENGTH characters
 *   Chio-Stream-Seq    the sequence in CHIO_RECEIPTS of the message holding the receipt
 *   Chio-Line          the receipt's line in that message, when not the first (group commit)
 *
 * and Nats-Msg-Id `q-<stream seq>` (`q-<stream seq>-<line>` past the first line).
 *
 * A receipt is quarantined once, whatever the replay and however long the outage before it
 * (the stream's duplicate window is two minutes): the ledger quarantines in receipts-stream
 * order, so the Chio-Stream-Seq and Chio-Line of the stream's last message say how far it got
 * (readQuarantineMark), and the writer skips anything at or before them. Each publish also names
 * the quarantine stream's last sequence, so a ledger that lost its lease cannot add to it.
 */
import { headers } from '@nats-io/transport-node';
import { JetStreamApiError, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { ChioErrorCode } from '../errors/index.js';
import { QUARANTINE_STREAM, QUARANTINE_SUBJECT_PREFIX } from './resources.js';

/** Reasons are cut to this length: a header, not a log. */
export const MAX_REASON_LENGTH = 512;

export interface QuarantinedReceipt {
  /** Sequence of the refused message in CHIO_RECEIPTS. */
  seq: number;
  /** Line of the refused receipt in that message (group commit); 0 or absent for the first. */
  line?: number;
  data: Uint8Array;
  /** The receipt's chain, when its bytes parsed as a receipt. */
  chain: string | undefined;
  code: ChioErrorCode;
  reason: string;
}

/** How far quarantining got: the quarantine stream's last sequence, and the receipts-stream sequence it names. */
export interface QuarantineMark {
  lastSeq: number;
  /** Chio-Stream-Seq of the last quarantined receipt; 0 when none (or it was purged). */
  receiptSeq: number;
  /** Its Chio-Line (0 for the first line of a message). */
  receiptLine: number;
}

/** Whether `q` was quarantined already: at or before the mark, in stream then line order. */
export function isBeforeMark(q: Pick<QuarantinedReceipt, 'seq' | 'line'>, mark: QuarantineMark): boolean {
  return q.seq < mark.receiptSeq || (q.seq === mark.receiptSeq && (q.line ?? 0) <= mark.receiptLine);
}

export async function readQuarantineMark(jsm: JetStreamManager): Promise<QuarantineMark> {
  const lastSeq = (await jsm.streams.info(QUARANTINE_STREAM)).state.last_seq;
  if (lastSeq === 0) return { lastSeq, receiptSeq: 0, receiptLine: 0 };
  const last = await jsm.streams.getMessage(QUARANTINE_STREAM, { seq: lastSeq }).catch((err: unknown) => {
    if (err instanceof JetStreamApiError && err.status === 404) return null; // purged by an operator
    throw err;
  });
  const receiptSeq = Number(last?.header.get('Chio-Stream-Seq') ?? 0);
  const receiptLine = Number(last?.header.get('Chio-Line') || 0);
  return { lastSeq, receiptSeq: Number.isSafeInteger(receiptSeq) ? receiptSeq : 0, receiptLine: Number.isSafeInteger(receiptLine) ? receiptLine : 0 };
}

/**
 * Append `q` to the quarantine stream, only if its last sequence is still `mark.lastSeq`;
 * returns the new mark. Throws the server's wrong-last-sequence error when another write came first.
 */
export async function quarantineReceipt(js: JetStreamClient, q: QuarantinedReceipt, mark: QuarantineMark): Promise<QuarantineMark> {
  const h = headers();
  h.set('Chio-Reason-Code', q.code);
  h.set('Chio-Reason', q.reason.replace(/[\r\n]/g, ' ').slice(0, MAX_REASON_LENGTH));
  h.set('Chio-Stream-Seq', String(q.seq));
  const line = q.line ?? 0;
  if (line > 0) h.set('Chio-Line', String(line));
  const msgID = line > 0 ? `q-${q.seq}-${line}` : `q-${q.seq}`;
  const ack = await js.publish(`${QUARANTINE_SUBJECT_PREFIX}.${q.chain ?? 'unknown'}`, q.data, { headers: h, msgID, expect: { lastSequence: mark.lastSeq } });
  return { lastSeq: ack.seq, receiptSeq: q.seq, receiptLine: line };
}

/** How many refused receipts the quarantine stream holds (it refuses deletes: it only grows). */
export async function countQuarantined(jsm: JetStreamManager): Promise<number> {
  const info = await jsm.streams.info(QUARANTINE_STREAM);
  return info.state.messages;
}
