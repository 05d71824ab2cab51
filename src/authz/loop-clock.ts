/**
 * How long bytes just read may have waited, unread, behind a busy event loop.
 *
 * A client's deadline (grpc-timeout) runs from when it sent its request. The server can only
 * stamp it when its event loop processes the headers, which, after a stall (a long GC, a
 * starved VM, a costly request), can be seconds after they arrived: every Check queued behind
 * the stall would get a fresh budget, be answered and stored as allow, while Envoy had long
 * given up and denied. So the stamp takes off how long the loop may have been away: how late
 * its last tick came, or how long since it, past the tick. Headers that in fact came at the
 * end of a stall (or a tick after it) lose some of their time, and are a deny 503 if too
 * little is left: fail-closed.
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
  // How late the last tick came. Timers run before the loop reads its sockets, so the tick
  // right after a stall comes first; its lateness is how long the bytes read next waited.
  let late = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    late = Math.max(0, now - seen - tickMs);
    seen = now;
  }, tickMs);
  tick.unref();
  return {
    waitedMs: () => Math.max(late, performance.now() - seen - tickMs),
    stop: () => clearInterval(tick),
  };
}
