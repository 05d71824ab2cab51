import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { LogThrottle, MAX_TEXTS, type ThrottleClock } from '../../src/log-throttle.js';

/** A clock that moves only when told, running the timers that fall due. */
function fakeClock(): ThrottleClock & { advance(ms: number): void; pending(): number } {
  let now = 0;
  let timers: Array<{ at: number; fn: () => void }> = [];
  return {
    now: () => now,
    after(ms, fn) {
      const timer = { at: now + ms, fn };
      timers.push(timer);
      return () => void (timers = timers.filter((t) => t !== timer));
    },
    advance(ms) {
      const until = now + ms;
      for (;;) {
        const next = timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at)[0];
        if (!next) break;
        timers = timers.filter((t) => t !== next);
        now = next.at;
        next.fn();
      }
      now = until;
    },
    pending: () => timers.length,
  };
}

function throttled(context?: Record<string, unknown>) {
  const lines: Array<Record<string, unknown> & { msg: string; level: number }> = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const clock = fakeClock();
  const throttle = new LogThrottle(log, { clock, ...(context ? { context } : {}) });
  return { lines, clock, throttle, msgs: () => lines.map((l) => l.msg) };
}

describe('LogThrottle', () => {
  it('logs the first warning of a kind at once, with its fields', () => {
    const { throttle, lines } = throttled();
    throttle.warn({ err: 'ChioError: full', seq: 7 }, 'not stored');
    expect(lines).toEqual([expect.objectContaining({ level: 40, msg: 'not stored', err: 'ChioError: full', seq: 7 })]);
  });

  it('counts the same warning within the window and says how many in one summary at its end', () => {
    const { throttle, clock, lines, msgs } = throttled({ chain: 'c-0' });
    throttle.warn({ err: 'ChioError: full', seq: 1 }, 'not stored');
    for (let seq = 2; seq <= 500; seq++) {
      clock.advance(1);
      throttle.warn({ err: 'ChioError: full', seq }, 'not stored');
    }
    expect(msgs()).toEqual(['not stored']);
    clock.advance(1_000);
    expect(msgs()).toEqual(['not stored', 'not stored … and 499 more in the last 1.0 s']);
    expect(lines[1]).toMatchObject({ level: 40, chain: 'c-0', suppressed: 499, last: { err: 'ChioError: full', seq: 500 } });
  });

  it('throttles an error as a warning, and its summary stays an error', () => {
    const { throttle, clock, lines } = throttled();
    for (let i = 0; i < 50; i++) throttle.error({ err: 'Error: broke' }, 'pipeline failed');
    clock.advance(1_000);
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [50, 'pipeline failed'],
      [50, 'pipeline failed … and 49 more in the last 1.0 s'],
    ]);
  });

  it('logs at most one summary a second while it goes on, and nothing once it stopped', () => {
    const { throttle, clock, msgs } = throttled();
    // 10 s at 1,000 a second.
    for (let i = 0; i < 10_000; i++) {
      throttle.warn({ err: 'e' }, 'not stored');
      clock.advance(1);
    }
    clock.advance(5_000);
    expect(msgs()).toHaveLength(1 + 10);
    expect(msgs().slice(1)).toEqual(Array.from({ length: 10 }, (_, i) => `not stored … and ${i === 0 ? 999 : 1000} more in the last 1.0 s`));
  });

  it('logs the first of a new episode at once, once a window passed without one', () => {
    const { throttle, clock, msgs } = throttled();
    throttle.warn({}, 'not stored');
    clock.advance(1_500);
    throttle.warn({}, 'not stored');
    expect(msgs()).toEqual(['not stored', 'not stored']);
    const { throttle: t2, clock: c2, msgs: m2 } = throttled();
    t2.warn({}, 'not stored');
    c2.advance(400);
    t2.warn({}, 'not stored');
    c2.advance(600);
    expect(m2()).toEqual(['not stored', 'not stored … and 1 more in the last 1.0 s']);
    c2.advance(1_000);
    t2.warn({}, 'not stored');
    expect(m2()).toEqual(['not stored', 'not stored … and 1 more in the last 1.0 s', 'not stored']);
  });

  it('throttles each kind on its own', () => {
    const { throttle, clock, msgs } = throttled();
    for (let i = 0; i < 3; i++) {
      throttle.warn({}, 'refused');
      throttle.warn({}, 'not stored');
    }
    expect(msgs()).toEqual(['refused', 'not stored']);
    clock.advance(1_000);
    expect(msgs().slice(2).sort()).toEqual(['not stored … and 2 more in the last 1.0 s', 'refused … and 2 more in the last 1.0 s']);
  });

  it('logs a different error text at once, each once an episode, up to MAX_TEXTS of them', () => {
    const { throttle, clock, msgs, lines } = throttled();
    throttle.warn({ err: 'TIMEOUT' }, 'not stored');
    throttle.warn({ err: 'TIMEOUT' }, 'not stored');
    throttle.warn({ err: 'CONNECTION_REFUSED' }, 'not stored');
    throttle.warn({ err: 'CONNECTION_REFUSED' }, 'not stored');
    expect(lines.map((l) => l.err)).toEqual(['TIMEOUT', 'CONNECTION_REFUSED']);
    clock.advance(1_000);
    throttle.warn({ err: 'TIMEOUT' }, 'not stored');
    clock.advance(1_000);
    expect(msgs().slice(2)).toEqual(['not stored … and 2 more in the last 1.0 s', 'not stored … and 1 more in the last 1.0 s']);
    // A flood of texts all different is bounded all the same.
    for (let i = 0; i < 1_000; i++) throttle.warn({ err: `wrong last sequence: ${i}` }, 'not stored');
    expect(lines.filter((l) => String(l.err).startsWith('wrong last sequence'))).toHaveLength(MAX_TEXTS - 2);
  });

  it('says the counts not yet said when flushed, and leaves no timer behind', () => {
    const { throttle, clock, msgs } = throttled();
    throttle.warn({}, 'not stored');
    clock.advance(300);
    throttle.warn({}, 'not stored');
    throttle.warn({}, 'refused');
    throttle.flush();
    expect(msgs()).toEqual(['not stored', 'refused', 'not stored … and 1 more in the last 0.3 s']);
    expect(clock.pending()).toBe(0);
    throttle.warn({}, 'not stored');
    expect(msgs()).toHaveLength(4);
  });
});
