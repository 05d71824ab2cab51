import { afterEach, describe, expect, it, vi } from 'vitest';
import { LOOP_TICK_MS, MAX_STALL_WINDOW_MS, startLoopClock, type LoopClock } from '../../../src/authz/loop-clock.js';

let clock: LoopClock | undefined;
afterEach(() => {
  clock?.stop();
  vi.useRealTimers();
});

/**
 * A loop whose time the test moves, so that every stall is the one the test makes: on the real
 * loop, a busy machine adds stalls of its own (a starved VM held the process 50 ms once, and the
 * window it opened read as 108 ms waited where under 100 was expected). `run` lets the ticks
 * come on time; `stall` holds the loop, no tick coming, as a blocked loop does.
 */
function fakeLoop() {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
  let t = 5_000;
  clock = startLoopClock(LOOP_TICK_MS, () => t);
  const loop = clock;
  return {
    waitedMs: () => loop.waitedMs(),
    run(ms: number) {
      for (let i = 0; i < ms; i++) {
        t += 1;
        vi.advanceTimersByTime(1);
      }
    },
    stall(ms: number) {
      t += ms;
    },
  };
}

describe('startLoopClock', () => {
  it('counts nothing while the loop runs', () => {
    const loop = fakeLoop();
    loop.run(55);
    expect(loop.waitedMs()).toBe(0);
  });

  it('takes bytes read after a stall to have waited since it began, for as long again, at most MAX_STALL_WINDOW_MS', () => {
    const loop = fakeLoop();
    loop.run(30);
    loop.stall(300);
    loop.run(20); // the late tick has come; the stall is taken from when that tick was due
    expect(loop.waitedMs()).toBe(310);
    loop.run(280);
    expect(loop.waitedMs(), 'the after-window lasts as long as the stall').toBe(590);
    loop.run(20);
    expect(loop.waitedMs(), 'the after-window has closed').toBe(0);
    loop.stall(MAX_STALL_WINDOW_MS + 300);
    loop.run(MAX_STALL_WINDOW_MS);
    expect(loop.waitedMs(), 'a longer stall is still counted at its bound').toBeGreaterThan(MAX_STALL_WINDOW_MS + 300);
    loop.run(20);
    expect(loop.waitedMs(), 'a longer stall keeps its window to the bound').toBe(0);
  });

  it("does not forget a smaller stall inside a larger one's window", () => {
    const loop = fakeLoop();
    loop.run(30);
    loop.stall(300);
    loop.run(100);
    loop.stall(150); // ends about 250 ms after the first, inside its 300 ms window
    loop.run(10);
    expect(loop.waitedMs(), 'nor the larger one while its window is open').toBe(550);
    loop.run(60);
    // The first window has closed (about 320 ms since it ended); the second is open.
    expect(loop.waitedMs()).toBe(210);
  });

  it('on the real loop, counts the time the loop is blocked', async () => {
    clock = startLoopClock();
    await new Promise((r) => setTimeout(r, 30));
    const started = performance.now();
    for (const until = started + 300; performance.now() < until; );
    // Read at once, in the turn that blocked: no tick has come since before `started`, so a
    // busy machine can only make this more.
    expect(clock.waitedMs()).toBeGreaterThanOrEqual(300 - LOOP_TICK_MS);
  });
});
