import { afterEach, describe, expect, it } from 'vitest';
import { MAX_STALL_WINDOW_MS, startLoopClock, type LoopClock } from '../../../src/authz/loop-clock.js';

let clock: LoopClock | undefined;
afterEach(() => clock?.stop());

const block = (ms: number) => {
  for (const until = performance.now() + ms; performance.now() < until; );
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('startLoopClock', () => {
  it('counts nothing while the loop runs', async () => {
    clock = startLoopClock();
    await sleep(50);
    expect(clock.waitedMs()).toBeLessThan(100);
  });

  it('takes bytes read after a stall to have waited since it began, for as long again, at most MAX_STALL_WINDOW_MS', async () => {
    clock = startLoopClock();
    await sleep(30);
    block(300);
    await sleep(20); // the late tick has come
    expect(clock.waitedMs()).toBeGreaterThan(290);
    await sleep(400); // the after-window has closed
    expect(clock.waitedMs()).toBeLessThan(100);
    block(MAX_STALL_WINDOW_MS + 300);
    await sleep(MAX_STALL_WINDOW_MS + 50);
    expect(clock.waitedMs(), 'a longer stall keeps its window to the bound').toBeLessThan(100);
  });

  it("does not forget a smaller stall inside a larger one's window", async () => {
    clock = startLoopClock();
    await sleep(30);
    block(300);
    await sleep(100);
    block(150); // ends about 250 ms after the first, inside its 300 ms window
    await sleep(70);
    // The first window has closed (about 320 ms since it ended); the second is open.
    expect(clock.waitedMs()).toBeGreaterThan(150);
  });
});
