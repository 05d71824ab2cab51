/**
 * Stored receipts, the CHIO_RECEIPTS stream: one receipt's JCS bytes per message, on subject
 * `chio.receipts.<chain>`, with Nats-Msg-Id = the receipt id. The source of truth: the tree is
 * a function of this stream, in stream order.
 */
import { DeliverPolicy, type ConsumerMessages, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { Receipt } from '../receipt/receipt.js';
import { ChioError } from '../errors/index.js';
import { RECEIPTS_STREAM, receiptSubject } from './resources.js';

/** A message of the receipts stream: its sequence and the receipt bytes as stored. */
export interface StoredMessage {
  seq: number;
  data: Uint8Array;
}

/** How long a tail read waits for messages the stream said it holds. */
const TAIL_READ_EXPIRES_MS = 2_000;

/** The receipt stored at stream sequence `seq`, parsed but not verified; undefined when none. */
export async function readStoredReceipt(jsm: JetStreamManager, seq: number): Promise<Receipt | undefined> {
  const msg = await jsm.streams.getMessage(RECEIPTS_STREAM, { seq });
  return msg ? msg.json<Receipt>() : undefined;
}

/**
 * The last receipt stored on `chain` and its stream sequence, or undefined for an empty chain.
 * A chain writer resumes from it (SPEC §5): its next publish names this stream sequence.
 */
export async function readLastStoredReceipt(jsm: JetStreamManager, chain: string): Promise<{ receipt: Receipt; streamSeq: number } | undefined> {
  const msg = await jsm.streams.getMessage(RECEIPTS_STREAM, { last_by_subj: receiptSubject(chain) });
  return msg ? { receipt: msg.json<Receipt>(), streamSeq: msg.seq } : undefined;
}

/** The stream sequence of the last stored receipt (0 when none). */
export async function readLastStreamSeq(jsm: JetStreamManager): Promise<number> {
  const info = await jsm.streams.info(RECEIPTS_STREAM);
  return info.state.last_seq;
}

/**
 * The receipt ids (Nats-Msg-Id) of stream sequences `fromSeq` … `toSeq`, read as headers only:
 * no receipt body crosses the wire. Throws UNAVAILABLE when the fetch ended before `toSeq` (a
 * busy server answers a fetch with fewer messages at its expiry): a partial set would make a
 * stored receipt look unknown.
 */
export async function readReceiptIds(js: JetStreamClient, fromSeq: number, toSeq: number): Promise<Set<string>> {
  const ids = new Set<string>();
  if (toSeq < fromSeq) return ids;
  const consumer = await js.consumers.get(RECEIPTS_STREAM, {
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: fromSeq,
    headers_only: true,
  });
  const messages = await consumer.fetch({ max_messages: toSeq - fromSeq + 1, expires: TAIL_READ_EXPIRES_MS });
  let lastSeen = fromSeq - 1;
  try {
    for await (const m of messages) {
      const msgId = m.headers?.get('Nats-Msg-Id');
      if (msgId) ids.add(msgId);
      lastSeen = m.seq;
      if (m.seq >= toSeq) break;
    }
  } finally {
    messages.stop();
  }
  if (lastSeen < toSeq) throw new ChioError('UNAVAILABLE', `read the receipts stream up to ${lastSeen} of ${toSeq}`);
  return ids;
}

/**
 * Every stored receipt from stream sequence `fromSeq` on, in stream order, then new ones as
 * they are stored, through an ordered consumer (no acks, no redelivery out of order).
 */
export async function consumeReceipts(js: JetStreamClient, fromSeq: number, maxMessages: number): Promise<ConsumerMessages> {
  const consumer = await js.consumers.get(RECEIPTS_STREAM, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: fromSeq });
  return consumer.consume({ max_messages: maxMessages });
}
