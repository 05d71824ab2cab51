/**
 * How long this process's event loop was held, over a span of wall-clock time: for the suites
 * that bound how long an answer took (nats-dies, store-full) in a process that is client, authz,
 * ledger and NATS client at once. On a loaded machine the process waits for a core, or works
 * off its own backlog, and every answer in flight waits with it: that time says nothing of
 * Chio's deadline, and is taken off the answer's time. What Chio itself waited for (a NATS
 * timeout, say) is not: the loop is free meanwhile, and its ticks come on time.
 *
 * A tick every TICK_MS. One that comes L ms after it was due marks the loop held for the L ms
 * before it; the hold within a span is the sum of those stretches' overlaps with it. Each
 * answer is timed in this same loop, so a stretch that held it is seen by the next tick (which
 * runs in the timers phase of the following turn) even when that tick comes after the answer.
 */

import type { TimedCheck } from './timed-checks.js';

/** How often the loop is seen. */
const TICK_MS = 10;

export interface LoopStalls {
  /** Ms the loop was held between `from` and `to` (both Date.now() ms). */
  heldMs(from: number, to: number): number;
  /** The longest single hold seen, in ms: for a test's summary line. */
  longestMs(): number;
  stop(): void;
}

export function watchLoopStalls(): LoopStalls {
  /** Every late tick's stretch [from, to]: a few thousand over a suite, at most. */
  const held: Array<{ from: number; to: number }> = [];
  let due = Date.now() + TICK_MS;
  let timer: ReturnType<typeof setTimeout>;
  const tick = () => {
    const at = Date.now();
    if (at > due) held.push({ from: due, to: at });
    due = at + TICK_MS;
    timer = setTimeout(tick, TICK_MS);
  };
  timer = setTimeout(tick, TICK_MS);
  return {
    heldMs(from, to) {
      let sum = 0;
      for (const h of held) sum += Math.max(0, Math.min(to, h.to) - Math.max(from, h.from));
      return sum;
    },
    longestMs: () => held.reduce((most, h) => Math.max(most, h.to - h.from), 0),
    stop: () => clearTimeout(timer),
  };
}

/**
 * The Checks of `checks` whose answer took `boundMs` or more once the loop's holds over it are
 * taken off, each described (for an assertion's message; empty when none); and the slowest
 * answer's time, as taken and less the holds, for a test's summary line.
 */
export function answersPastBound(checks: TimedCheck[], boundMs: number, stalls: LoopStalls): { late: string[]; slowestMs: number; slowestOwnMs: number } {
  const late: string[] = [];
  let [slowestMs, slowestOwnMs] = [0, 0];
  for (const c of checks) {
    const took = c.answeredAt - c.sentAt;
    const held = stalls.heldMs(c.sentAt, c.answeredAt);
    [slowestMs, slowestOwnMs] = [Math.max(slowestMs, took), Math.max(slowestOwnMs, took - held)];
    if (took - held >= boundMs) late.push(`${c.requestId}: answered in ${took} ms, the loop held ${held} ms of it`);
  }
  return { late, slowestMs, slowestOwnMs };
}
