/**
 * The timeline of each Check through an in-process `chio authz` (bench/check-timeline.ts), taken
 * by wrapping the prototypes of the classes a Check crosses, so that src/ carries no probe:
 *
 *   arrived    CheckHandler.check called (the request read and decoded)
 *   decided    DecisionPipeline.decide resolved
 *   queued     ReceiptPublisher.store: the draft handed to its lane
 *   batched    ReceiptPublisher.storeBatch began on the message holding it (its lane free)
 *   published  PubAckPublisher.publish called (signed; bytes go out in a microtask)
 *   acked      that publish's promise resolved: its PubAck read off the socket
 *   answered   CheckHandler.check resolved: the answer is handed to the gRPC edge
 *
 * Links: a Check's request object becomes its draft's `request` (decision.ts toReceiptDraft),
 * which the queued item keeps; a lane's batch is known by its subject when it is published.
 */
import { CheckHandler } from '../../src/authz/check-handler.js';
import { DecisionPipeline } from '../../src/decision/pipeline.js';
import { ReceiptPublisher } from '../../src/chain/publisher.js';
import { PubAckPublisher } from '../../src/store/pub-ack.js';
import { receiptSubject } from '../../src/store/resources.js';
import type { Pending } from '../../src/chain/ticket.js';

export interface Stamp {
  arrived: number;
  /** Since the first arrival of its burst (set by the bench from the arrivals). */
  burstQueue?: number;
  decided?: number;
  queued?: number;
  /** The lane's message was in flight when this draft was queued. */
  behindInFlight?: boolean;
  lane?: string;
  batched?: number;
  /** When it waited behind a message in flight: that message's PubAck read, on its lane. */
  previousAcked?: number;
  /** Receipts in the message that held this one. */
  batchSize?: number;
  published?: number;
  acked?: number;
  answered?: number;
}

const now = () => performance.now();
let installed = false;
let recording = false;
let taken: Stamp[] = [];
/** The Check whose handler is running synchronously (check → decide happen in one turn). */
let current: Stamp | undefined;
const byRequest = new WeakMap<object, Stamp>();
/** The stamps of the batch each lane is signing, by its subject, until it is published. */
const signing = new Map<string, Stamp[]>();
/** When each lane's last PubAck was read, by subject. */
const laneAcked = new Map<string, number>();

type Loose = Record<string, (...args: any[]) => any>;
/** The members of a ReceiptPublisher read here (private to it, public at run time). */
interface LaneInternals {
  chain: string;
  busy: number;
  queue: Pending[];
}

/** Wrap the prototypes once; nothing is recorded until `record` is called. */
export function installTimeline(): void {
  if (installed) return;
  installed = true;
  const handler = CheckHandler.prototype as unknown as Loose;
  const check = handler.check!;
  handler.check = function (this: unknown, ...args: unknown[]) {
    const stamp: Stamp = { arrived: now() };
    current = stamp;
    const answer = check.apply(this, args) as Promise<unknown>;
    current = undefined;
    return answer.then((res) => {
      stamp.answered = now();
      if (recording) taken.push(stamp);
      return res;
    });
  };
  const pipeline = DecisionPipeline.prototype as unknown as Loose;
  const decide = pipeline.decide!;
  pipeline.decide = function (this: unknown, ...args: unknown[]) {
    const stamp = current;
    return (decide.apply(this, args) as Promise<{ request: object }>).then((decision) => {
      if (stamp) {
        stamp.decided = now();
        byRequest.set(decision.request, stamp);
      }
      return decision;
    });
  };
  const publisher = ReceiptPublisher.prototype as unknown as Loose;
  const store = publisher.store!;
  publisher.store = function (this: LaneInternals, draft: { request: object }, ...rest: unknown[]) {
    const stamp = byRequest.get(draft.request);
    if (stamp) Object.assign(stamp, { queued: now(), lane: this.chain, behindInFlight: this.busy > 0 });
    return store.call(this, draft, ...rest);
  };
  const storeBatch = publisher.storeBatch!;
  publisher.storeBatch = function (this: LaneInternals) {
    const t = now();
    const subject = receiptSubject(this.chain);
    const stamps = this.queue.slice(0, 128).flatMap((item) => (item.outcome ? [] : (byRequest.get(item.draft.request) ?? [])));
    for (const s of stamps) Object.assign(s, { batched: t, batchSize: stamps.length }, s.behindInFlight ? { previousAcked: laneAcked.get(subject) } : {});
    signing.set(subject, stamps);
    return storeBatch.call(this);
  };
  const pubAck = PubAckPublisher.prototype as unknown as Loose;
  const publish = pubAck.publish!;
  pubAck.publish = function (this: unknown, subject: string, ...rest: unknown[]) {
    const stamps = signing.get(subject) ?? [];
    signing.delete(subject);
    const t = now();
    for (const s of stamps) s.published = t;
    const acked = publish.call(this, subject, ...rest) as Promise<unknown>;
    acked.then(() => {
      const a = now();
      laneAcked.set(subject, a);
      for (const s of stamps) s.acked = a;
    }, () => undefined);
    return acked;
  };
}

/** Record the Checks answered from now until the returned function is called, which returns them. */
export function record(): () => Stamp[] {
  taken = [];
  recording = true;
  return () => {
    recording = false;
    const out = taken;
    taken = [];
    return out;
  };
}
