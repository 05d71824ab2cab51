/**
 * Several chains per process (SPEC §5): a chain stores one receipt at a time, because each
 * publish names the stream sequence of the one before it (the server refuses a fork), so one
 * chain is bound by one JetStream round trip per receipt. An authz process therefore writes
 * CHIO_LANES chains at once, `<chain id>-0` … `<chain id>-<n-1>` (just `<chain id>` for one
 * lane). A receipt joins the first lane that has fewer than LANE_FILL waiting, so that it
 * goes out in the same message as the others waiting there (group commit, one PubAck) rather
 * than in a message of its own on an idle lane; only when every lane is that busy does it go
 * to the least busy one.
 *
 * Every rule of a chain holds per lane: seq never reused, prev always stored, one writer, and
 * corrections next on the same chain. The ledger integrates any number of chains; a lane is
 * just one more chain.
 */
import type { ReceiptDraft } from '../receipt/receipt.js';
import type { ReceiptPublisher } from './publisher.js';
import type { ReceiptTicket } from './ticket.js';

/** The chain id of authz worker `index` (authz/workers.ts): its lanes add `-<n>` after it. */
export function workerChainId(chainId: string, index: number): string {
  return `${chainId}-w${index}`;
}

/** The chain id of each of `lanes` lanes of a process whose chain id is `chainId`. */
export function laneChainIds(chainId: string, lanes: number): string[] {
  return lanes === 1 ? [chainId] : Array.from({ length: lanes }, (_, i) => `${chainId}-${i}`);
}

/**
 * Receipts a lane takes before the next lane is used. At 1,000 Checks/s, handing each receipt
 * to an idle lane made a message per receipt; filling a lane to 8 first cut authz's CPU per
 * Check by a quarter, its p50 from 3.1 to 2.1 ms and its p99 from 8–9 to 5–6 ms, and its
 * saturated rate did not drop (npm run bench, issue #8).
 */
export const LANE_FILL = 8;

/**
 * A lane whose message has been in flight this long is stalled (a slow PubAck, a head read
 * after a failed publish): it is not filled, so that receipts do not wait behind it for their
 * deadline while other lanes are idle.
 */
export const LANE_STALL_MS = 20;

export class ReceiptLanes {
  constructor(private readonly lanes: readonly ReceiptPublisher[]) {
    if (lanes.length === 0) throw new Error('chio: ReceiptLanes needs at least one publisher');
  }

  get chains(): string[] {
    return this.lanes.map((l) => l.chain);
  }

  /** Read every lane's head from the stream (resume after a restart); see ReceiptPublisher.open. */
  async open(): Promise<Array<{ chain: string } & ({ seq: number } | { problem: string })>> {
    return Promise.all(this.lanes.map(async (l) => ({ chain: l.chain, ...(await l.open()) })));
  }

  /** Why a lane's chain is not extended, when one is not (the first such): the process is not ready. */
  get problem(): string | undefined {
    return this.lanes.find((l) => l.problem !== undefined)?.problem;
  }

  /**
   * Store on the first lane with fewer than LANE_FILL receipts waiting and not stalled; when
   * there is none, on the least busy (the first of equals). An idle process so uses one lane.
   * A lane whose chain is not extended takes receipts only when every lane is such a one (then
   * they are refused, 503).
   */
  store(draft: ReceiptDraft, deadline: number): ReceiptTicket {
    for (const l of this.lanes) if (l.problem === undefined && l.backlog < LANE_FILL && l.busyForMs < LANE_STALL_MS) return l.store(draft, deadline);
    let lane: ReceiptPublisher | undefined;
    for (const l of this.lanes) if (l.problem === undefined && (!lane || l.backlog < lane.backlog)) lane = l;
    return (lane ?? this.lanes[0]!).store(draft, deadline);
  }

  /** Drain every lane (see ReceiptPublisher.drain). */
  async drain(): Promise<void> {
    await Promise.all(this.lanes.map((l) => l.drain()));
  }
}
