/**
 * Quarantine, the CHIO_QUARANTINE stream: receipt bytes the ledger refused, one message per
 * receipts-stream message with refused lines, on subject `chio.quarantine.<chain>` (the first
 * chain its refused lines name, even when they fail their checks; `unknown` when they name no
 * valid chain). Its body is the refused lines' bytes, in line order, joined by a line feed (one
 * refused line: just its bytes; a message refused whole: the message as stored). Headers:
 *
 *   Chio-Reason-Code   the ChioError code of the first refused line's failed check
 *   Chio-Reason        its reason, one line, at most MAX_REASON_LENGTH characters
 *   Chio-Stream-Seq    the sequence in CHIO_RECEIPTS of the message holding the receipts
 *   Chio-Line          the first refused line in that message, when not the first (group commit)
 *   Chio-Refused-Line  when more than one line is refused: one value per refused line, in line
 *                      order, `<line> <code> <reason>` (reason at most MAX_LINE_REASON_LENGTH)
 *
 * and Nats-Msg-Id `q-<stream seq>` (`q-<stream seq>-<line>` when its first line is not 0).
 *
 * One message per refused message, not per line, bounds what junk costs: anyone who may publish
 * on the receipts subjects can store messages of 128 lines that are no receipts, and one
 * awaited write per line made the ledger do 128 times the writer's work.
 *
 * A receipt is quarantined once, whatever the replay and however long the outage before it
 * (the stream's duplicate window is two minutes): the ledger quarantines in receipts-stream
 * order, so the Chio-Stream-Seq and last refused line of the stream's last message say how far
 * it got (readQuarantineMark), and the writer skips anything at or before them. Each publish also
 * names the quarantine stream's last sequence, so a ledger that lost its lease cannot add to it.
 */
import { headers } from '@nats-io/transport-node';
import { JetStreamApiError, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { ChioError, type ChioErrorCode } from '../errors/index.js';
import { QUARANTINE_STREAM, QUARANTINE_SUBJECT_PREFIX, RECEIPTS_STREAM } from './resources.js';
import { joinReceiptMessage } from './receipt-message.js';
import { boundedText } from '../text.js';

/** Reasons are cut to this length: a header, not a log. */
export const MAX_REASON_LENGTH = 512;

/** A Chio-Refused-Line's reason is cut to this length: 128 lines' fit in about 24 KiB of headers. */
export const MAX_LINE_REASON_LENGTH = 160;

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
  /** The last refused line it names (0 for the first line of a message). */
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
 * receipts-stream sequence that exists; its line is the last refused line the message names. (A
 * ledger before one message per refused message wrote one per line, and the line of the last
 * says where in its message it stopped: the rest of that message is quarantined, not all again.) `chio.quarantine.*` is a plain subject: one message put
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

/** The receipts a quarantine message names, when its headers are as quarantineMessage writes them: its stream seq and last line. */
function markOf(h: { get(name: string): string; values(name: string): string[] }): { receiptSeq: number; receiptLine: number } | undefined {
  const seqText = h.get('Chio-Stream-Seq');
  const lineText = h.get('Chio-Line') || '0';
  if (!/^[1-9][0-9]{0,15}$/.test(seqText) || !LINE_PATTERN.test(lineText)) return undefined;
  const receiptSeq = Number(seqText);
  const firstLine = Number(lineText);
  const msgId = firstLine > 0 ? `q-${receiptSeq}-${firstLine}` : `q-${receiptSeq}`;
  if (h.get('Nats-Msg-Id') !== msgId || !Number.isSafeInteger(receiptSeq)) return undefined;
  const refused = h.values('Chio-Refused-Line');
  if (refused.length === 0) return { receiptSeq, receiptLine: firstLine };
  const lastText = refused[refused.length - 1]!.split(' ', 1)[0]!;
  if (!LINE_PATTERN.test(lastText) || Number(lastText) < firstLine) return undefined;
  return { receiptSeq, receiptLine: Number(lastText) };
}

const LINE_PATTERN = /^(0|[1-9][0-9]{0,5})$/;

/**
 * Append the refused lines `lines` of one receipts-stream message (one seq, in line order) to
 * the quarantine stream as one message, only if its last sequence is still `mark.lastSeq`;
 * returns the new mark. Throws the server's wrong-last-sequence error when another write came first.
 */
export async function quarantineMessage(js: JetStreamClient, lines: readonly QuarantinedReceipt[], mark: QuarantineMark): Promise<QuarantineMark> {
  const first = lines[0];
  const last = lines[lines.length - 1];
  if (!first || !last || lines.some((q, k) => q.seq !== first.seq || (k > 0 && (q.line ?? 0) <= (lines[k - 1]!.line ?? 0)))) {
    throw new ChioError('INTERNAL', 'a quarantine message holds refused lines of one receipts-stream message, in line order');
  }
  const h = headers();
  h.set('Chio-Reason-Code', first.code);
  h.set('Chio-Reason', oneLine(first.reason, MAX_REASON_LENGTH));
  h.set('Chio-Stream-Seq', String(first.seq));
  const firstLine = first.line ?? 0;
  if (firstLine > 0) h.set('Chio-Line', String(firstLine));
  if (lines.length > 1) for (const q of lines) h.append('Chio-Refused-Line', `${q.line ?? 0} ${q.code} ${oneLine(q.reason, MAX_LINE_REASON_LENGTH)}`);
  const msgID = firstLine > 0 ? `q-${first.seq}-${firstLine}` : `q-${first.seq}`;
  const chain = lines.find((q) => q.chain !== undefined)?.chain ?? 'unknown';
  const data = lines.length === 1 ? first.data : joinReceiptMessage(lines.map((q) => q.data));
  const ack = await js.publish(`${QUARANTINE_SUBJECT_PREFIX}.${chain}`, data, { headers: h, msgID, expect: { lastSequence: mark.lastSeq } });
  return { lastSeq: ack.seq, receiptSeq: first.seq, receiptLine: last.line ?? 0 };
}

/** `lines` (refused lines in stream then line order) split by the message that holds them. */
export function byMessage(lines: readonly QuarantinedReceipt[]): QuarantinedReceipt[][] {
  const out: QuarantinedReceipt[][] = [];
  for (const q of lines) {
    const group = out[out.length - 1];
    if (group && group[0]!.seq === q.seq) group.push(q);
    else out.push([q]);
  }
  return out;
}

function oneLine(reason: string, max: number): string {
  return boundedText(reason.replace(/[\r\n]/g, ' '), max);
}

/** How many messages the quarantine stream holds, one per refused receipts-stream message (it refuses deletes: it only grows). */
export async function countQuarantined(jsm: JetStreamManager): Promise<number> {
  const info = await jsm.streams.info(QUARANTINE_STREAM);
  return info.state.messages;
}
