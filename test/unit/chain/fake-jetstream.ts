/**
 * An in-memory JetStream stream with just what ReceiptPublisher uses: publish (with
 * Nats-Msg-Id deduplication and Nats-Expected-Last-Subject-Sequence, checked as the server
 * checks them: duplicates first) and streams.getMessage({ last_by_subj } or { seq, next_by_subj }).
 *
 * Faults are queued per call: the next publish can fail before storing, fail after storing
 * (the PubAck is lost), hang until its timeout, or store at once and ack `ackAfterMs` later (a
 * late PubAck; at or past the publish timeout it is lost, as nats.js reports it: a timeout for
 * a message that was stored); the next head read can fail or hang.
 */
import type { ChainHeadRead, ReceiptPublish } from '../../../src/store/receipts.js';
import { StoreFull } from '../../../src/store/pub-ack.js';

export interface StoredMessage {
  stream: string;
  subject: string;
  /** Stream sequence, 1, 2, 3 … over every subject. */
  seq: number;
  msgID: string;
  data: Uint8Array;
}

export interface PublishCall {
  subject: string;
  msgID: string;
  lastSubjectSequence: number;
  timeout: number;
  data: Uint8Array;
}

/**
 * 'store-after-read': the publish fails at the client, and the server stores the message only
 * after the next head read has answered (a write still in flight when the head was read).
 * 'store-full': the stream refuses the message for want of room and stores nothing.
 * 'store-full-committed': the same refusal, from a replicated stream's leader that could not
 * apply a message its raft group had committed: a follower stored it, and serves it as leader.
 */
export type PublishFault = 'reject' | 'lose-ack' | 'hang' | 'store-after-read' | 'store-full' | 'store-full-committed' | { ackAfterMs: number };
export type ReadFault = 'reject' | 'hang';

export class FakeJetStream {
  readonly stream: string;
  readonly messages: StoredMessage[] = [];
  readonly publishes: PublishCall[] = [];
  headReads = 0;
  readonly publishFaults: PublishFault[] = [];
  readonly readFaults: ReadFault[] = [];
  /** Writes the server finishes after the next head read ('store-after-read'). */
  readonly #afterRead: Array<() => void> = [];

  constructor(stream: string) {
    this.stream = stream;
  }

  /** The client half (js). */
  get js(): ReceiptPublish {
    return { publish: (subject, data, options) => this.#publish(subject, data, options) };
  }

  /** The manager half (jsm). */
  get jsm(): ChainHeadRead {
    return { streams: { getMessage: (stream, query) => ('last_by_subj' in query ? this.#lastBySubject(stream, query.last_by_subj) : this.#nextBySubject(stream, query.seq, query.next_by_subj)) } };
  }

  /** Store a message directly, as another writer would. */
  append(subject: string, data: Uint8Array, msgID = `other-${this.messages.length + 1}`): StoredMessage {
    const message = { stream: this.stream, subject, seq: this.messages.length + 1, msgID, data };
    this.messages.push(message);
    return message;
  }

  on(subject: string): StoredMessage[] {
    return this.messages.filter((m) => m.subject === subject);
  }

  async #publish(subject: string, data: Uint8Array, options: { msgID: string; expect: { lastSubjectSequence: number }; timeout: number }): Promise<{ seq: number; duplicate?: boolean }> {
    this.publishes.push({ subject, msgID: options.msgID, lastSubjectSequence: options.expect.lastSubjectSequence, timeout: options.timeout, data });
    const fault = this.publishFaults.shift();
    if (fault === 'reject') throw new Error('fake: no responders');
    if (fault === 'store-full') throw new StoreFull('stream refused the message: insufficient resources (10023)');
    if (fault === 'store-after-read') {
      const expected = options.expect.lastSubjectSequence;
      // As the server would: stored only if the subject's last sequence is still the expected one.
      this.#afterRead.push(() => {
        if ((this.on(subject).at(-1)?.seq ?? 0) === expected) this.append(subject, data, options.msgID);
      });
      throw new Error('fake: timeout waiting for the PubAck');
    }
    if (fault === 'hang') return new Promise((_, reject) => setTimeout(() => reject(new Error('fake: publish timed out')), options.timeout));
    const duplicate = this.messages.find((m) => m.msgID === options.msgID);
    if (duplicate) return { seq: duplicate.seq, duplicate: true };
    const last = this.on(subject).at(-1)?.seq ?? 0;
    if (last !== options.expect.lastSubjectSequence) throw new Error(`fake: wrong last sequence: ${last}`);
    const stored = this.append(subject, data, options.msgID);
    if (fault === 'lose-ack') throw new Error('fake: timeout waiting for the PubAck');
    if (fault === 'store-full-committed') throw new StoreFull('stream refused the message: insufficient resources (10023)');
    if (typeof fault === 'object') {
      await new Promise((resolve) => setTimeout(resolve, Math.min(fault.ackAfterMs, options.timeout)));
      if (fault.ackAfterMs >= options.timeout) throw new Error('fake: timeout waiting for the PubAck');
    }
    return { seq: stored.seq };
  }

  async #nextBySubject(stream: string, seq: number, subject: string): Promise<{ seq: number; data: Uint8Array } | null> {
    if (stream !== this.stream) throw new Error(`fake: no stream ${stream}`);
    const next = this.on(subject).find((m) => m.seq >= seq);
    return next ? { seq: next.seq, data: next.data } : null;
  }

  async #lastBySubject(stream: string, subject: string): Promise<{ seq: number; data: Uint8Array } | null> {
    this.headReads += 1;
    const fault = this.readFaults.shift();
    if (fault === 'reject') throw new Error('fake: stream unavailable');
    if (fault === 'hang') return new Promise(() => {});
    if (stream !== this.stream) throw new Error(`fake: no stream ${stream}`);
    const last = this.on(subject).at(-1);
    for (const write of this.#afterRead.splice(0)) write();
    if (!last) return null;
    return { seq: last.seq, data: last.data };
  }
}
