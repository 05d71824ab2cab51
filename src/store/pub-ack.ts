/**
 * JetStream publishes for the chain writer, each PubAck read off one reply subscription.
 *
 * A JetStream publish is a core NATS publish with a reply subject; the stream answers on it with
 * a PubAck ({"stream", "seq", "duplicate"} or {"error"}). nats.js's js.publish makes a request
 * of each one: a request object, a timer object, and an Error with a stack trace built when the
 * request is done, even when it succeeded. Every receipt message pays that, so here one
 * subscription takes the PubAcks of every publish made here and a plain map finds whom it answers:
 * about half the CPU per publish (`npm run bench`, row "CPU per JetStream publish").
 *
 * What the chain writer relies on is unchanged: Nats-Msg-Id for dedup,
 * Nats-Expected-Last-Subject-Sequence for one writer per chain, a timeout, and a rejection for
 * anything but a PubAck naming a stream sequence.
 */
import { createInbox, headers as natsHeaders, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { ChioError } from '../errors/index.js';
import type { ReceiptPublish } from './receipts.js';

interface Waiting {
  resolve(ack: { seq: number }): void;
  reject(err: ChioError): void;
  timer: ReturnType<typeof setTimeout>;
}

const decoder = new TextDecoder();

export class PubAckPublisher implements ReceiptPublish {
  private readonly nc: NatsConnection;
  private readonly waiting = new Map<string, Waiting>();
  /** The inbox PubAcks come to and its subscription; undefined until the next publish once it ended. */
  private listening: { inbox: string; subscription: Subscription } | undefined;
  private sent = 0;
  private closed = false;

  /** `inboxPrefix`: the connection's own (NATS_INBOX_PREFIX), where its NATS user may subscribe. */
  constructor(nc: NatsConnection, private readonly inboxPrefix?: string) {
    this.nc = nc;
  }

  /** Publishes whose PubAck has not come yet. */
  get inFlight(): number {
    return this.waiting.size;
  }

  publish(
    subject: string,
    data: Uint8Array,
    options: { msgID: string; expect?: { lastSubjectSequence: number }; timeout: number; headers?: MsgHdrs },
  ): Promise<{ seq: number }> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new ChioError('UNAVAILABLE', 'receipt store publisher is closed'));
      // A draining connection still sends publishes after it has dropped its subscriptions: the
      // message could be stored and its PubAck never read.
      if (this.nc.isDraining() || this.nc.isClosed()) return reject(new ChioError('UNAVAILABLE', 'NATS connection is closing'));
      let inbox: string;
      try {
        inbox = this.listen();
      } catch (err) {
        return reject(new ChioError('UNAVAILABLE', `cannot listen for PubAcks: ${String(err)}`, { cause: err }));
      }
      const reply = `${inbox}.${(this.sent += 1)}`;
      const h = options.headers ?? natsHeaders();
      h.set('Nats-Msg-Id', options.msgID);
      if (options.expect) h.set('Nats-Expected-Last-Subject-Sequence', String(options.expect.lastSubjectSequence));
      const timer = setTimeout(() => this.settle(reply, new ChioError('TIMEOUT', `no PubAck within ${options.timeout} ms`)), options.timeout);
      this.waiting.set(reply, { resolve, reject, timer });
      try {
        this.nc.publish(subject, data, { reply, headers: h });
      } catch (err) {
        // Closed connection, payload over max_payload: nothing was sent.
        this.settle(reply, new ChioError('UNAVAILABLE', `publish failed: ${String(err)}`, { cause: err }));
      }
    });
  }

  /** Stop listening for PubAcks; publishes still waiting are rejected (their outcome is unknown). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.listening?.subscription.unsubscribe();
    this.listening = undefined;
    this.failAll(new Error('receipt store publisher closed'));
  }

  /**
   * The inbox to name as reply subject, subscribed. When the subscription ends (the connection
   * closed, a permission error), whatever waits on it is rejected at once, and the next publish
   * subscribes again under a new inbox: an answer can only be read where it was asked for.
   */
  private listen(): string {
    if (this.listening) return this.listening.inbox;
    const inbox = createInbox(this.inboxPrefix);
    const subscription = this.nc.subscribe(`${inbox}.*`, { callback: (err, msg) => (err ? undefined : this.answer(msg)) });
    const listening = { inbox, subscription };
    this.listening = listening;
    void subscription.closed.then((err) => {
      if (this.listening !== listening) return;
      this.listening = undefined;
      this.failAll(err instanceof Error ? err : new Error('PubAck subscription ended'), inbox);
    });
    return inbox;
  }

  private answer(msg: Msg): void {
    if (!this.waiting.has(msg.subject)) return; // its publish timed out already, or not ours
    this.settle(msg.subject, pubAckOf(msg));
  }

  private settle(reply: string, outcome: { seq: number } | ChioError): void {
    const w = this.waiting.get(reply);
    if (!w) return;
    this.waiting.delete(reply);
    clearTimeout(w.timer);
    if (outcome instanceof ChioError) w.reject(outcome);
    else w.resolve(outcome);
  }

  /** Reject every waiting publish (those under `inbox` only, when given): their PubAcks cannot come. */
  private failAll(err: Error, inbox?: string): void {
    for (const reply of [...this.waiting.keys()]) {
      if (inbox === undefined || reply.startsWith(`${inbox}.`)) this.settle(reply, new ChioError('UNAVAILABLE', `PubAck lost: ${err.message}`, { cause: err }));
    }
  }
}

/**
 * The stream refused the message for want of room (nats-server's max_file_store or the
 * account's limit reached, a stream limit with discard "new"): it stored nothing. Unlike a
 * timeout or a lost PubAck, the outcome of such a publish is known, and it can never land later.
 */
export class StoreFull extends ChioError {
  constructor(message: string) {
    super('UNAVAILABLE', message);
  }
}

/**
 * JetStream's error codes for a message refused for want of room: 10002 account resource limits
 * exceeded, 10023 insufficient resources, 10028 insufficient memory, 10047 insufficient storage;
 * and 10077 (store failed) when the store says a stream limit is reached.
 */
const NO_ROOM_CODES: ReadonlySet<number> = new Set([10002, 10023, 10028, 10047]);
const STREAM_LIMIT_REACHED = /^maximum (bytes|messages|messages per subject) exceeded$/;

function isNoRoom(code: unknown, description: unknown): boolean {
  return (typeof code === 'number' && NO_ROOM_CODES.has(code)) || (code === 10077 && typeof description === 'string' && STREAM_LIMIT_REACHED.test(description));
}

/** The stream sequence a PubAck names, or why there is none. */
export function pubAckOf(msg: Pick<Msg, 'data' | 'headers'>): { seq: number; duplicate?: true } | ChioError {
  // No stream listens on the subject: the server answers "503 No Responders" in a header.
  if (msg.headers?.hasError) return new ChioError('UNAVAILABLE', `no stream stored the message (${msg.headers.code} ${msg.headers.description})`);
  let ack: unknown;
  try {
    ack = JSON.parse(decoder.decode(msg.data));
  } catch {
    return new ChioError('UNAVAILABLE', 'PubAck is not JSON');
  }
  const a = ack as { seq?: unknown; stream?: unknown; error?: { err_code?: unknown; description?: unknown } } | null;
  if (a?.error) {
    const why = `stream refused the message: ${String(a.error.description)} (${String(a.error.err_code)})`;
    return isNoRoom(a.error.err_code, a.error.description) ? new StoreFull(why) : new ChioError('UNAVAILABLE', why);
  }
  if (typeof a?.stream !== 'string' || a.stream === '' || typeof a.seq !== 'number' || !Number.isSafeInteger(a.seq) || a.seq < 1) return new ChioError('UNAVAILABLE', 'PubAck names no stream sequence');
  return (a as { duplicate?: unknown }).duplicate === true ? { seq: a.seq, duplicate: true } : { seq: a.seq };
}
