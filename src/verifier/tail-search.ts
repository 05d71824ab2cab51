/**
 * Is a receipt stored but not yet integrated? The index knows only integrated receipts, so for
 * an id it does not know, the verifier looks through the stream's tail that the ledger has not
 * integrated yet (its committed stream sequence up to the stream's last), collecting each
 * message's Nats-Msg-Id — the receipt id — without reading bodies.
 *
 * One scan serves every lookup for SCAN_REUSE_MS and concurrent lookups share the scan in
 * flight, so a flood of unknown ids costs NATS at most a few scans a second. A tail longer
 * than MAX_PENDING_SCAN is not scanned, and a tail the stream did not hand over completely
 * is not trusted: the answer is then "unknown for now" (503, retry), never "absent" (404).
 *
 * Headers are anyone's to write who may publish on the receipts subjects, so an id found there
 * is "stored" only once the message that names it holds a receipt with that id that verifies
 * (read and checked once per scan): a message of junk whose headers named three ids had all
 * three answered 202.
 */
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { readLedgerState } from '../store/ledger-state.js';
import { readLastStreamSeq, readReceiptIds, readReceiptMessage, type FetchGuard } from '../store/receipts.js';
import { receiptLinesOf } from '../store/receipt-message.js';
import type { Receipt } from '../receipt/receipt.js';
import { isChioError } from '../errors/index.js';
import { sharedAnswer } from '../in-flight.js';

/** Longest un-integrated tail scanned. */
export const MAX_PENDING_SCAN = 1024;
/** How long one scan answers lookups. */
export const SCAN_REUSE_MS = 250;

export type TailSearch = 'stored' | 'absent' | 'unknown';

interface Scan {
  /** When the scan started, by the searcher's clock. */
  at: number;
  /** The stream's last sequence when scanned: a later receipt cannot be in `ids`. */
  lastSeq: number;
  /** Each id the tail's headers name, with the stream sequence of the message that names it. */
  ids: Map<string, number> | 'unknown';
  /** Ids whose message was read and checked in this scan: true when it holds the receipt. */
  checked: Map<string, Promise<boolean>>;
}

export class TailSearcher {
  private last: Scan | undefined;
  /** One scan at a time: lookups while one runs share it. */
  private readonly scan = sharedAnswer(() => this.scanTail().then((scan) => (this.last = scan)));

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    /** The ledger's bucket: its committed state says where the un-integrated tail starts. */
    private readonly ledger: KV,
    /** The receipt `bytes` hold, verified with the trusted kernel keys; throws when they are none. */
    private readonly verifyStored: (bytes: Uint8Array) => Receipt,
    private readonly now: () => number = Date.now,
    /** Stops a scan's fetch when the NATS connection drops or comes back (the verifier's ReconnectGuard). */
    private readonly fetchGuard?: FetchGuard,
  ) {}

  async search(id: string): Promise<TailSearch> {
    const reusable = this.last && this.now() - this.last.at < SCAN_REUSE_MS ? this.last : undefined;
    let scan = reusable ?? (await this.scan());
    // "Absent" from a reused scan holds only if nothing was stored since it.
    if (reusable && scan.ids !== 'unknown' && !scan.ids.has(id)) {
      if ((await readLastStreamSeq(this.jsm)) > scan.lastSeq) scan = await this.scan();
    }
    if (scan.ids === 'unknown') return 'unknown';
    const seq = scan.ids.get(id);
    if (seq === undefined) return 'absent';
    let holds = scan.checked.get(id);
    if (!holds) scan.checked.set(id, (holds = this.holds(seq, id)));
    return (await holds) ? 'stored' : 'absent';
  }

  /** Whether the message at `seq` holds a receipt with id `id` that verifies. */
  private async holds(seq: number, id: string): Promise<boolean> {
    const message = await readReceiptMessage(this.jsm, seq);
    const read = message ? receiptLinesOf(message) : undefined;
    if (!read || !('lines' in read)) return false;
    return read.lines.some((line) => {
      try {
        return this.verifyStored(line).id === id;
      } catch {
        return false;
      }
    });
  }


  private async scanTail(): Promise<Scan> {
    const at = this.now();
    const { streamSeq: integrated } = await readLedgerState(this.ledger);
    const lastSeq = await readLastStreamSeq(this.jsm);
    const tail = lastSeq - integrated;
    if (tail > MAX_PENDING_SCAN) return { at, lastSeq, ids: 'unknown', checked: new Map() };
    try {
      return { at, lastSeq, ids: await readReceiptIds(this.js, integrated + 1, lastSeq, this.fetchGuard), checked: new Map() };
    } catch (err) {
      if (!isChioError(err, 'UNAVAILABLE')) throw err;
      // Not reused: the next lookup reads again.
      return { at: Number.NEGATIVE_INFINITY, lastSeq, ids: 'unknown', checked: new Map() };
    }
  }
}
