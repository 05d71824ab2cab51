/**
 * How long bytes just read may have waited, unread, behind a busy event loop.
 *
 * A client's deadline (grpc-timeout) runs from when it sent its request. The server can only
 * stamp it when its event loop processes the headers, which, after a stall (a long GC, a
 * starved VM, a costly request), can be seconds after they arrived: every Check queued behind
 * the stall would get a fresh budget, be answered and stored as allow, while Envoy had long
 * given up and denied. So the stamp takes off how long the bytes may have waited.
 *
 * A tick every 10 ms sees the loop. A tick that comes late marks a stall, from when it was due
 * to when it came. Bytes that came during a stall are not all read at its end: a connection
 * opened during it is accepted in one turn of the loop and read in a later one, after the
 * backlog the stall left (a later tick, on time or a little late, would tell nothing of the
 * stall before it). So for as long again as the largest recent stall lasted, bytes read may
 * have waited since it began. Checks read then lose that time, and are a deny 503 if too
 * little is left: fail-closed, for about as long as the stall was.
 */

/** How often the loop is seen; also the slack below which no wait is counted. */
export const LOOP_TICK_MS = 10;

export interface LoopClock {
  /** Ms the bytes being handled now may have waited for the loop (0 when it ran lately). */
  waitedMs(): number;
  stop(): void;
}

export function startLoopClock(tickMs = LOOP_TICK_MS): LoopClock {
  let seen = performance.now();
  /** The largest stall whose after-window is still open: [from, to]. */
  let stallFrom = 0;
  let stallTo = 0;
  const windowOpen = (now: number) => now - stallTo <= stallTo - stallFrom;
  const tick = setInterval(() => {
    const now = performance.now();
    const due = seen + tickMs;
    if (now - due > tickMs && (!windowOpen(now) || now - due >= stallTo - stallFrom)) {
      stallFrom = due;
      stallTo = now;
    }
    seen = now;
  }, tickMs);
  tick.unref();
  return {
    waitedMs: () => {
      const now = performance.now();
      return Math.max(0, now - seen - tickMs, windowOpen(now) ? now - stallFrom : 0);
    },
    stop: () => clearInterval(tick),
  };
}
