/**
 * Is a receipt stored but not yet integrated? The index knows only integrated receipts, so for
 * an id it does not know, the verifier looks through the stream's tail that the ledger has not
 * integrated yet (its committed stream sequence up to the stream's last), comparing each
 * message's Nats-Msg-Id — the receipt id — without reading bodies.
 *
 * Bounded: a tail longer than MAX_PENDING_SCAN is not searched; the answer is then "unknown
 * for now" (503, retry), never a guess.
 */
import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { RECEIPTS_STREAM } from '../nats/resources.js';

/** Longest un-integrated tail the verifier searches for one lookup. */
export const MAX_PENDING_SCAN = 1024;

export type TailSearch = 'stored' | 'absent' | 'too-far-behind';

export async function searchUnintegratedTail(js: JetStreamClient, jsm: JetStreamManager, ledger: KV, id: string): Promise<TailSearch> {
  const state = await ledger.get('state');
  const integrated = state && state.operation === 'PUT' ? state.json<{ streamSeq: number }>().streamSeq : 0;
  const info = await jsm.streams.info(RECEIPTS_STREAM);
  const tail = info.state.last_seq - integrated;
  if (tail <= 0) return 'absent';
  if (tail > MAX_PENDING_SCAN) return 'too-far-behind';
  const consumer = await js.consumers.get(RECEIPTS_STREAM, {
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: integrated + 1,
    headers_only: true,
  });
  const messages = await consumer.fetch({ max_messages: tail, expires: 2_000 });
  try {
    for await (const m of messages) {
      if (m.headers?.get('Nats-Msg-Id') === id) return 'stored';
      if (m.seq >= info.state.last_seq) break;
    }
  } finally {
    messages.stop();
  }
  return 'absent';
}
