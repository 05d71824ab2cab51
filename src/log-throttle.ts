/**
 * Warnings that come once per Check or per receipt message while NATS or JetStream is down
 * (a receipt not stored, a message the stream refused) would otherwise be logged thousands of
 * times a second for as long as the outage lasts: CPU spent in the very process that is
 * struggling, log pipelines filled, and the one line that says what is wrong buried.
 *
 * A LogThrottle logs each kind of warning (its message) at once the first time, then at most
 * one summary a window (1 s) while it goes on: the same message with "… and N more in the last
 * 1.0 s", the count in `suppressed` and the fields of the last one left out in `last`. A window
 * in which none came ends the episode: the next one is logged at once again. A warning whose
 * `err` text was not seen yet in the episode is logged at once too (up to MAX_TEXTS of them),
 * so a different failure is never hidden behind a count. When the throttle is flushed (at a
 * stop) the counts not yet said are said.
 *
 * Warnings go through it, and one error: the decision pipeline's failure, which a request that
 * reaches a bug, or a dependency that throws, repeats on every Check (authz/service.ts); its
 * summaries are errors too. Other errors, and every line about a correction or a chain that
 * lost receipts, are logged as before, each one.
 */
import type { Logger } from 'pino';

export const LOG_THROTTLE_WINDOW_MS = 1_000;

/** Distinct `err` texts logged at once per kind and episode; past it, they are counted. */
export const MAX_TEXTS = 16;

/** When now is, and a timer. A fake one in tests. */
export interface ThrottleClock {
  now(): number;
  /** Call `fn` in `ms`; returns what cancels it. */
  after(ms: number, fn: () => void): () => void;
}

export const realClock: ThrottleClock = {
  now: Date.now,
  after(ms, fn) {
    const timer = setTimeout(fn, ms);
    // A pending summary never keeps a process alive; a stop flushes it.
    timer.unref?.();
    return () => clearTimeout(timer);
  },
};

export interface LogThrottleOptions {
  /** Fields every summary line carries (the chain, say), as the lines it stands for do. */
  context?: Record<string, unknown>;
  windowMs?: number;
  clock?: ThrottleClock;
}

interface Episode {
  /** Start of the current window. */
  since: number;
  /** Left out in the current window, and the fields of the last of them. */
  left: number;
  last?: Record<string, unknown>;
  /** `err` texts already logged in this episode. */
  texts: Set<string>;
  /** Of the lines it stands for, and so of its summaries. */
  level: ThrottledLevel;
  cancel: () => void;
}

type ThrottledLevel = 'warn' | 'error';

export class LogThrottle {
  private readonly log: Logger;
  private readonly context: Record<string, unknown>;
  private readonly windowMs: number;
  private readonly clock: ThrottleClock;
  private readonly episodes = new Map<string, Episode>();

  constructor(log: Logger, options: LogThrottleOptions = {}) {
    this.log = log;
    this.context = options.context ?? {};
    this.windowMs = options.windowMs ?? LOG_THROTTLE_WINDOW_MS;
    this.clock = options.clock ?? realClock;
  }

  /** log.warn(fields, msg), unless a warning with this message was logged less than a window ago (see above). */
  warn(fields: Record<string, unknown>, msg: string): void {
    this.note('warn', fields, msg);
  }

  /** log.error(fields, msg), throttled as warn() is: only for an error a request can repeat on every Check. */
  error(fields: Record<string, unknown>, msg: string): void {
    this.note('error', fields, msg);
  }

  private note(level: ThrottledLevel, fields: Record<string, unknown>, msg: string): void {
    const text = typeof fields.err === 'string' ? fields.err : undefined;
    const episode = this.episodes.get(msg);
    if (!episode) {
      this.log[level](fields, msg);
      this.episodes.set(msg, { since: this.clock.now(), left: 0, texts: new Set(text === undefined ? [] : [text]), level, cancel: this.schedule(msg) });
      return;
    }
    if (text !== undefined && !episode.texts.has(text) && episode.texts.size < MAX_TEXTS) {
      episode.texts.add(text);
      this.log[level](fields, msg);
      return;
    }
    episode.left += 1;
    episode.last = fields;
  }

  /** Say every count not yet said, and end every episode: at a stop. */
  flush(): void {
    for (const [msg, episode] of this.episodes) {
      episode.cancel();
      this.summarise(msg, episode);
    }
    this.episodes.clear();
  }

  private schedule(msg: string): () => void {
    return this.clock.after(this.windowMs, () => {
      const episode = this.episodes.get(msg);
      if (!episode) return;
      if (episode.left === 0) {
        this.episodes.delete(msg);
        return;
      }
      this.summarise(msg, episode);
      episode.since = this.clock.now();
      episode.left = 0;
      episode.last = undefined;
      episode.cancel = this.schedule(msg);
    });
  }

  private summarise(msg: string, episode: Episode): void {
    if (episode.left === 0) return;
    const seconds = ((this.clock.now() - episode.since) / 1000).toFixed(1);
    this.log[episode.level]({ ...this.context, suppressed: episode.left, last: episode.last }, `${msg} … and ${episode.left} more in the last ${seconds} s`);
  }
}
