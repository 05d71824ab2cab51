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
 * stall before it). So for as long again as each recent stall lasted (at most a second),
 * bytes read may have waited since it began. Checks read then lose that time, and are a deny
 * 503 if too little is left: fail-closed, for about as long as the stall was, at most 1 s.
 */

/** How often the loop is seen; also the slack below which no wait is counted. */
export const LOOP_TICK_MS = 10;

/**
 * Longest a stall's after-window lasts: what it left queued is read within some turns of the
 * loop, not for as long as it lasted. Without a bound, a 3 s pause (SIGSTOP, a VM migration)
 * would be 3 s more of deny 503 for every Check.
 */
export const MAX_STALL_WINDOW_MS = 1_000;

/** Recent stalls kept: a smaller one inside a larger one's window is not forgotten. */
const STALLS_KEPT = 8;

export interface LoopClock {
  /** Ms the bytes being handled now may have waited for the loop (0 when it ran lately). */
  waitedMs(): number;
  stop(): void;
}

interface Stall {
  from: number;
  to: number;
}

/** `now` is the clock read (performance.now's ms); a test passes its own to make stalls exactly. */
export function startLoopClock(tickMs = LOOP_TICK_MS, now: () => number = () => performance.now()): LoopClock {
  let seen = now();
  /** The last STALLS_KEPT stalls, oldest overwritten first. */
  const stalls: Stall[] = [];
  let next = 0;
  const tick = setInterval(() => {
    const at = now();
    const due = seen + tickMs;
    if (at - due > tickMs) {
      stalls[next] = { from: due, to: at };
      next = (next + 1) % STALLS_KEPT;
    }
    seen = at;
  }, tickMs);
  tick.unref();
  return {
    waitedMs: () => {
      const at = now();
      let waited = at - seen - tickMs;
      for (const { from, to } of stalls) {
        // Within its after-window, bytes read may have come when the stall began.
        if (at - to <= Math.min(to - from, MAX_STALL_WINDOW_MS)) waited = Math.max(waited, at - from);
      }
      return Math.max(0, waited);
    },
    stop: () => clearInterval(tick),
  };
}
