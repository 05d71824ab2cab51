/**
 * Several chains per process (SPEC §5): a chain stores one receipt at a time, because each
 * publish names the stream sequence of the one before it (the server refuses a fork), so one
 * chain is bound by one JetStream round trip per receipt. An authz process therefore writes
 * CHIO_LANES chains at once, `<chain id>-0` … `<chain id>-<n-1>` (just `<chain id>` for one
 * lane), and hands each receipt to the lane with the fewest receipts waiting.
 *
 * Every rule of a chain holds per lane: seq never reused, prev always stored, one writer, and
 * corrections next on the same chain. The ledger integrates any number of chains; a lane is
 * just one more chain.
 */
import type { ReceiptDraft } from '../receipt/receipt.js';
import type { ReceiptPublisher, ReceiptTicket } from './publisher.js';

/** The chain id of each of `lanes` lanes of a process whose chain id is `chainId`. */
export function laneChainIds(chainId: string, lanes: number): string[] {
  return lanes === 1 ? [chainId] : Array.from({ length: lanes }, (_, i) => `${chainId}-${i}`);
}

export class ReceiptLanes {
  constructor(private readonly lanes: readonly ReceiptPublisher[]) {
    if (lanes.length === 0) throw new Error('chio: ReceiptLanes needs at least one publisher');
  }

  get chains(): string[] {
    return this.lanes.map((l) => l.chain);
  }

  /** Read every lane's head from the stream (resume after a restart). */
  async open(): Promise<Array<{ chain: string; seq: number }>> {
    return Promise.all(this.lanes.map(async (l) => ({ chain: l.chain, ...(await l.open()) })));
  }

  /** Store on the least busy lane; the first of equals, so an idle process uses one lane. */
  store(draft: ReceiptDraft, deadline: number): ReceiptTicket {
    let lane = this.lanes[0]!;
    for (const l of this.lanes) if (l.backlog < lane.backlog) lane = l;
    return lane.store(draft, deadline);
  }

  /** Drain every lane (see ReceiptPublisher.drain). */
  async drain(): Promise<void> {
    await Promise.all(this.lanes.map((l) => l.drain()));
  }
}
