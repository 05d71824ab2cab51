/**
 * Stored receipts, the CHIO_RECEIPTS stream: each message holds one or more consecutive
 * receipts of one chain (receipt-message.ts), on subject `chio.receipts.<chain>`, with
 * Nats-Msg-Id = the first receipt's id. The source of truth: the tree is a function of this
 * stream, in stream order and, within a message, in line order.
 */
import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import { DeliverPolicy, type ConsumerMessages, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { Receipt } from '../receipt/receipt.js';
import { ChioError } from '../errors/index.js';
import { RECEIPTS_STREAM, receiptSubject } from './resources.js';
import { MAX_RECEIPTS_PER_MESSAGE, RECEIPT_IDS_HEADER, joinReceiptMessage, parseReceiptIdsHeader, splitReceiptMessage } from './receipt-message.js';

/** Most receipts one message may hold, and so name in its Chio-Receipt-Ids header. */
export { MAX_RECEIPTS_PER_MESSAGE };

/** A message of the receipts stream: its sequence and its bytes (one or more receipts) as stored. */
export interface StoredMessage {
  seq: number;
  data: Uint8Array;
  /**
   * The chain its subject names (`chio.receipts.<chain>`), as the ledger read it: each receipt
   * the message holds must be of that chain. The server refuses a fork only per subject
   * (Nats-Expected-Last-Subject-Sequence), so a receipt stored under another chain's subject
   * could take its chain's next seq unseen, and the chain writer's own receipt, stored and
   * answered from, would then be refused as a fork. Unset: not checked (a reader without subjects).
   */
  subjectChain?: string;
}

/** How long a tail read waits for messages the stream said it holds. */
const TAIL_READ_EXPIRES_MS = 2_000;
/**
 * How long a tail read waits for the server's own end of its fetch (its expiry, due at
 * TAIL_READ_EXPIRES_MS) before it gives up on a server that has stopped answering. An ordered
 * consumer's fetch never gives up by itself: past missed heartbeats it asks the server again,
 * and it was still waiting 40 s into a silent partition (a request would have timed out at 5 s).
 */
export const TAIL_READ_GIVE_UP_MS = TAIL_READ_EXPIRES_MS + 1_000;

/**
 * What stops a fetch's messages with UNAVAILABLE when the NATS connection drops or comes back
 * (nats/reconnects.ts ReconnectGuard): a fetch is an iterator, which request guards do not reach.
 */
export interface FetchGuard {
  guardMessages(messages: ConsumerMessages, what: string): void;
}

/**
 * What storing a receipt needs of a JetStreamClient: a publish that carries the dedup id and the
 * expected last sequence of the chain's subject, and gives up after `timeout` ms. Narrow, so that
 * a chain writer can be tested against a fake.
 */
export interface ReceiptPublish {
  publish(
    subject: string,
    data: Uint8Array,
    options: { msgID: string; expect: { lastSubjectSequence: number }; timeout: number; headers?: MsgHdrs },
  ): Promise<{ seq: number; duplicate?: boolean }>;
}

/** What reading a chain's head needs of a JetStreamManager: the last message under a subject. */
export interface ChainHeadRead {
  streams: {
    getMessage(stream: string, query: { last_by_subj: string } | { seq: number; next_by_subj: string }): Promise<{ seq: number; data: Uint8Array } | null>;
  };
}

/** A message of one chain's subject as stored: its stream sequence and its lines, unchecked. */
export interface ChainMessage {
  streamSeq: number;
  lines: Uint8Array[];
}

/** The last message on `chain`'s subject, whoever wrote it; undefined when there is none. */
export async function readLastChainMessage(jsm: ChainHeadRead, chain: string): Promise<ChainMessage | undefined> {
  const msg = await jsm.streams.getMessage(RECEIPTS_STREAM, { last_by_subj: receiptSubject(chain) });
  return msg ? { streamSeq: msg.seq, lines: splitReceiptMessage(msg.data) } : undefined;
}

/** The first message on `chain`'s subject at stream sequence `seq` or after it; undefined when there is none. */
export async function readChainMessageFrom(jsm: ChainHeadRead, chain: string, seq: number): Promise<ChainMessage | undefined> {
  const msg = await jsm.streams.getMessage(RECEIPTS_STREAM, { seq, next_by_subj: receiptSubject(chain) });
  return msg ? { streamSeq: msg.seq, lines: splitReceiptMessage(msg.data) } : undefined;
}

/**
 * Store consecutive receipts of one chain as one message on the chain's subject (SPEC §5):
 * Nats-Msg-Id = the first receipt's id (a retried publish is dropped as a duplicate), and
 * Nats-Expected-Last-Subject-Sequence = the stream sequence of the message holding the chain's
 * previous receipt (0 for the first), so the server refuses a fork. Resolves with the stream
 * sequence once stored (PubAck).
 */
export async function appendReceipts(
  js: ReceiptPublish,
  chain: string,
  receipts: ReadonlyArray<{ id: string; bytes: Uint8Array }>,
  previousStreamSeq: number,
  timeoutMs: number,
): Promise<number> {
  if (receipts.length === 0 || receipts.length > MAX_RECEIPTS_PER_MESSAGE) throw new ChioError('INTERNAL', `a message holds 1 to ${MAX_RECEIPTS_PER_MESSAGE} receipts, not ${receipts.length}`);
  let headers: MsgHdrs | undefined;
  if (receipts.length > 1) {
    headers = natsHeaders();
    headers.set(RECEIPT_IDS_HEADER, receipts.map((r) => r.id).join(','));
  }
  const data = joinReceiptMessage(receipts.map((r) => r.bytes));
  const ack = await js.publish(receiptSubject(chain), data, { msgID: receipts[0]!.id, expect: { lastSubjectSequence: previousStreamSeq }, timeout: timeoutMs, ...(headers ? { headers } : {}) });
  // A message with this Nats-Msg-Id (its first receipt's id) was stored before, and the server
  // kept that one: whether it holds these receipts, all of them, is not known from the ack.
  if (ack.duplicate === true) throw new ChioError('UNAVAILABLE', `a message starting with receipt ${receipts[0]!.id} was stored before (stream seq ${ack.seq}): what it holds is read back`);
  return ack.seq;
}

/**
 * The receipt at line `line` of the message at stream sequence `seq`, parsed but not
 * verified; undefined when there is none.
 */
export async function readStoredReceipt(jsm: JetStreamManager, seq: number, line = 0): Promise<Receipt | undefined> {
  const msg = await jsm.streams.getMessage(RECEIPTS_STREAM, { seq });
  const bytes = msg ? splitReceiptMessage(msg.data)[line] : undefined;
  return bytes ? (JSON.parse(new TextDecoder().decode(bytes)) as Receipt) : undefined;
}

/** The message at stream sequence `seq`, as stored (one or more receipts, or anything else); undefined when there is none. */
export async function readReceiptMessage(jsm: JetStreamManager, seq: number): Promise<Uint8Array | undefined> {
  return (await jsm.streams.getMessage(RECEIPTS_STREAM, { seq }))?.data;
}

/**
 * The message at stream sequence `seq` (one or more receipts, receipt-message.ts), by a direct
 * get that any replica may answer: raw bytes, no base64 JSON, so a message of many receipts
 * costs little. A stored message never changes, so an answer is right, but a replica behind
 * answers none: only for a reader that checks what it gets and has another way (the
 * verifier's leaf hash).
 */
export async function readReceiptMessageFromAnyReplica(jsm: JetStreamManager, seq: number): Promise<Uint8Array | undefined> {
  return (await jsm.direct.getMessage(RECEIPTS_STREAM, { seq }))?.data;
}

/**
 * The last line of the last message on `chain`, parsed but not verified, and that message's
 * stream sequence, or undefined for an empty chain. For reading back what a test stored; a
 * chain writer verifies what it resumes from (chain/publisher.ts).
 */
export async function readLastStoredReceipt(jsm: ChainHeadRead, chain: string): Promise<{ receipt: Receipt; streamSeq: number } | undefined> {
  const last = await readLastChainMessage(jsm, chain);
  return last && { receipt: JSON.parse(new TextDecoder().decode(last.lines.at(-1)!)) as Receipt, streamSeq: last.streamSeq };
}

/** What the receipts stream says of itself: when it was made, and the sequences it holds. */
export interface StreamShape {
  created: string;
  firstSeq: number;
  lastSeq: number;
}

export async function readStreamShape(jsm: JetStreamManager): Promise<StreamShape> {
  const info = await jsm.streams.info(RECEIPTS_STREAM);
  return { created: info.created, firstSeq: info.state.first_seq, lastSeq: info.state.last_seq };
}

/** The stream sequence of the last stored receipt (0 when none). */
export async function readLastStreamSeq(jsm: JetStreamManager): Promise<number> {
  return (await readStreamShape(jsm)).lastSeq;
}

/**
 * The receipt ids the messages of stream sequences `fromSeq` … `toSeq` name (Nats-Msg-Id and
 * Chio-Receipt-Ids), each with the sequence of the message naming it, read as headers only: no
 * receipt body crosses the wire, and nothing is verified (headers are anyone's to write).
 * Throws UNAVAILABLE when the fetch ended before `toSeq` (a busy server answers a fetch with
 * fewer messages at its expiry): a partial set would make a stored receipt look unknown. So it
 * does when the server has not ended the fetch by TAIL_READ_GIVE_UP_MS, when `guard` stops it
 * (the connection dropped or came back), and when the fetch fails (its consumer gone, say).
 */
export async function readReceiptIds(js: JetStreamClient, fromSeq: number, toSeq: number, guard?: FetchGuard): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  if (toSeq < fromSeq) return ids;
  const consumer = await js.consumers.get(RECEIPTS_STREAM, {
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: fromSeq,
    headers_only: true,
  });
  const messages = await consumer.fetch({ max_messages: toSeq - fromSeq + 1, expires: TAIL_READ_EXPIRES_MS });
  guard?.guardMessages(messages, 'the receipts stream\'s tail');
  const giveUp = setTimeout(() => messages.stop(new ChioError('UNAVAILABLE', `the receipts stream's tail: its fetch not ended ${TAIL_READ_GIVE_UP_MS} ms after it began`)), TAIL_READ_GIVE_UP_MS);
  let lastSeen = fromSeq - 1;
  try {
    for await (const m of messages) {
      const msgId = m.headers?.get('Nats-Msg-Id');
      if (msgId && !ids.has(msgId)) ids.set(msgId, m.seq);
      for (const id of parseReceiptIdsHeader(m.headers?.get(RECEIPT_IDS_HEADER), MAX_RECEIPTS_PER_MESSAGE)) if (!ids.has(id)) ids.set(id, m.seq);
      lastSeen = m.seq;
      if (m.seq >= toSeq) break;
    }
  } catch (err) {
    throw err instanceof ChioError ? err : new ChioError('UNAVAILABLE', `read the receipts stream up to ${lastSeen} of ${toSeq}: the fetch failed`, { cause: err });
  } finally {
    clearTimeout(giveUp);
    messages.stop();
  }
  if (lastSeen < toSeq) throw new ChioError('UNAVAILABLE', `read the receipts stream up to ${lastSeen} of ${toSeq}`);
  return ids;
}

/**
 * How long one pull of consumeReceipts lasts, which sets how soon it recovers from a lost pull:
 * nats.js watches for heartbeats every half of it, and after a reconnect whose first look at the
 * consumer fails (JetStream still recovering its streams) it looks again only this much later,
 * pulling nothing meanwhile. Its default, 30 s, held the ledger still that long after a restart.
 */
export const CONSUME_PULL_EXPIRES_MS = 2_000;

/**
 * Every stored receipt from stream sequence `fromSeq` on, in stream order, then new ones as
 * they are stored, through an ordered consumer (no acks, no redelivery out of order).
 */
export async function consumeReceipts(js: JetStreamClient, fromSeq: number, maxMessages: number): Promise<ConsumerMessages> {
  const consumer = await js.consumers.get(RECEIPTS_STREAM, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: fromSeq });
  return consumer.consume({ max_messages: maxMessages, expires: CONSUME_PULL_EXPIRES_MS });
}
