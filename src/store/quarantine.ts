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
import { QUARANTINE_STREAM, QUARANTINE_SUBJECT_PREFIX, RECEIPTS_STREAM } from './resources.js';
import { boundedText } from '../text.js';

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
  /**
   * Refused for its chain link where no read can make it link, so it needs no confirmation
   * (ledger/refused-links.ts): after a receipt the log refused for its own (its `prev`), or a
   * copy of a receipt the log refused that is not ahead of its chain's head.
   */
  unlinkable?: true;
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

/** Quarantine messages looked back through for the last mark the ledger wrote. */
export const MAX_MARK_LOOKBACK = 64;

/**
 * How far quarantining got. The mark is the last message of the quarantine stream that reads as
 * one the ledger wrote: its Nats-Msg-Id is `q-<Chio-Stream-Seq>[-<Chio-Line>]` and it names a
 * receipts-stream sequence that exists. `chio.quarantine.*` is a plain subject: one message put
 * there with Chio-Stream-Seq 1000000000 made the ledger skip quarantining every refused receipt
 * below it. Looked back at most MAX_MARK_LOOKBACK messages; none found, quarantining starts
 * again from the beginning (the duplicate window keeps recent ones from being stored twice).
 */
export async function readQuarantineMark(jsm: JetStreamManager): Promise<QuarantineMark> {
  const lastSeq = (await jsm.streams.info(QUARANTINE_STREAM)).state.last_seq;
  if (lastSeq === 0) return { lastSeq, receiptSeq: 0, receiptLine: 0 };
  const receiptsLast = (await jsm.streams.info(RECEIPTS_STREAM)).state.last_seq;
  for (let seq = lastSeq; seq > 0 && seq > lastSeq - MAX_MARK_LOOKBACK; seq--) {
    const msg = await jsm.streams.getMessage(QUARANTINE_STREAM, { seq }).catch((err: unknown) => {
      if (err instanceof JetStreamApiError && err.status === 404) return null; // purged by an operator
      throw err;
    });
    const mark = msg && markOf(msg.header);
    if (mark && mark.receiptSeq <= receiptsLast) return { lastSeq, ...mark };
  }
  return { lastSeq, receiptSeq: 0, receiptLine: 0 };
}

/** The receipt a quarantine message names, when its headers are as quarantineReceipt writes them. */
function markOf(h: { get(name: string): string }): { receiptSeq: number; receiptLine: number } | undefined {
  const seqText = h.get('Chio-Stream-Seq');
  const lineText = h.get('Chio-Line') || '0';
  if (!/^[1-9][0-9]{0,15}$/.test(seqText) || !/^(0|[1-9][0-9]{0,5})$/.test(lineText)) return undefined;
  const receiptSeq = Number(seqText);
  const receiptLine = Number(lineText);
  const msgId = receiptLine > 0 ? `q-${receiptSeq}-${receiptLine}` : `q-${receiptSeq}`;
  return h.get('Nats-Msg-Id') === msgId && Number.isSafeInteger(receiptSeq) ? { receiptSeq, receiptLine } : undefined;
}

/**
 * Append `q` to the quarantine stream, only if its last sequence is still `mark.lastSeq`;
 * returns the new mark. Throws the server's wrong-last-sequence error when another write came first.
 */
export async function quarantineReceipt(js: JetStreamClient, q: QuarantinedReceipt, mark: QuarantineMark): Promise<QuarantineMark> {
  const h = headers();
  h.set('Chio-Reason-Code', q.code);
  h.set('Chio-Reason', boundedText(q.reason.replace(/[\r\n]/g, ' '), MAX_REASON_LENGTH));
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
