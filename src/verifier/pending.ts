/**
 * Is a receipt stored but not yet integrated? The index knows only integrated receipts, so for
 * an id it does not know, the verifier looks through the stream's tail that the ledger has not
 * integrated yet (its committed stream sequence up to the stream's last), collecting each
 * message's Nats-Msg-Id — the receipt id — without reading bodies.
 *
 * One scan serves every lookup for SCAN_REUSE_MS and concurrent lookups share the scan in
 * flight, so a flood of unknown ids costs NATS at most a few scans a second. A tail longer
 * than MAX_PENDING_SCAN is not scanned: the answer is then "unknown for now" (503, retry).
 */
import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { RECEIPTS_STREAM } from '../store/resources.js';

/** Longest un-integrated tail scanned. */
export const MAX_PENDING_SCAN = 1024;
/** How long one scan answers lookups. */
export const SCAN_REUSE_MS = 250;

export type TailSearch = 'stored' | 'absent' | 'too-far-behind';

interface Scan {
  at: number;
  /** The stream's last sequence when scanned: a later receipt cannot be in `ids`. */
  lastSeq: number;
  ids: Set<string> | 'too-far-behind';
}

export class TailSearcher {
  private last: Scan | undefined;
  private inFlight: Promise<Scan> | undefined;

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly ledger: KV,
  ) {}

  async search(id: string, now = Date.now()): Promise<TailSearch> {
    const reusable = this.last && now - this.last.at < SCAN_REUSE_MS ? this.last : undefined;
    let scan = reusable ?? (await this.scan());
    // "Absent" from a reused scan holds only if nothing was stored since it.
    if (reusable && scan.ids !== 'too-far-behind' && !scan.ids.has(id)) {
      const { state } = await this.jsm.streams.info(RECEIPTS_STREAM);
      if (state.last_seq > scan.lastSeq) scan = await this.scan();
    }
    if (scan.ids === 'too-far-behind') return 'too-far-behind';
    return scan.ids.has(id) ? 'stored' : 'absent';
  }

  private scan(): Promise<Scan> {
    this.inFlight ??= this.scanTail()
      .then((scan) => (this.last = scan))
      .finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private async scanTail(): Promise<Scan> {
    const at = Date.now();
    const state = await this.ledger.get('state');
    const integrated = state && state.operation === 'PUT' ? state.json<{ streamSeq: number }>().streamSeq : 0;
    const info = await this.jsm.streams.info(RECEIPTS_STREAM);
    const lastSeq = info.state.last_seq;
    const tail = lastSeq - integrated;
    const ids = new Set<string>();
    if (tail <= 0) return { at, lastSeq, ids };
    if (tail > MAX_PENDING_SCAN) return { at, lastSeq, ids: 'too-far-behind' };
    const consumer = await this.js.consumers.get(RECEIPTS_STREAM, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: integrated + 1,
      headers_only: true,
    });
    const messages = await consumer.fetch({ max_messages: tail, expires: 2_000 });
    try {
      for await (const m of messages) {
        const msgId = m.headers?.get('Nats-Msg-Id');
        if (msgId) ids.add(msgId);
        if (m.seq >= info.state.last_seq) break;
      }
    } finally {
      messages.stop();
    }
    return { at, lastSeq, ids };
  }
}
