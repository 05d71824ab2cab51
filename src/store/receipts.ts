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

/**
 * What storing a receipt needs of a JetStreamClient: a publish that carries the dedup id and the
 * expected last sequence of the chain's subject, and gives up after `timeout` ms. Narrow, so that
 * a chain writer can be tested against a fake.
 */
export interface ReceiptPublish {
  publish(
    subject: string,
    data: Uint8Array,
    options: { msgID: string; expect: { lastSubjectSequence: number }; timeout: number },
  ): Promise<{ seq: number }>;
}

/** What reading a chain's head needs of a JetStreamManager: the last message under a subject. */
export interface ChainHeadRead {
  streams: {
    getMessage(stream: string, query: { last_by_subj: string }): Promise<{ seq: number; json<T>(): T } | null>;
  };
}

/**
 * Store one receipt on its chain's subject (SPEC §5): Nats-Msg-Id = the receipt id (a retried
 * publish is dropped as a duplicate), and Nats-Expected-Last-Subject-Sequence = the stream
 * sequence of the chain's previous receipt (0 for the first), so the server refuses a fork.
 * Resolves with the stream sequence once stored (PubAck).
 */
export async function appendReceipt(
  js: ReceiptPublish,
  receipt: { chain: string; id: string },
  bytes: Uint8Array,
  previousStreamSeq: number,
  timeoutMs: number,
): Promise<number> {
  const ack = await js.publish(receiptSubject(receipt.chain), bytes, { msgID: receipt.id, expect: { lastSubjectSequence: previousStreamSeq }, timeout: timeoutMs });
  return ack.seq;
}

/** The receipt stored at stream sequence `seq`, parsed but not verified; undefined when none. */
export async function readStoredReceipt(jsm: JetStreamManager, seq: number): Promise<Receipt | undefined> {
  const msg = await jsm.streams.getMessage(RECEIPTS_STREAM, { seq });
  return msg ? msg.json<Receipt>() : undefined;
}

/**
 * The last receipt stored on `chain` and its stream sequence, or undefined for an empty chain.
 * A chain writer resumes from it (SPEC §5): its next publish names this stream sequence.
 */
export async function readLastStoredReceipt(jsm: ChainHeadRead, chain: string): Promise<{ receipt: Receipt; streamSeq: number } | undefined> {
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
