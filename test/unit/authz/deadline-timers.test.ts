import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DeadlineTimers } from '../../../src/authz/deadline-timers.js';

const START = 1_000_000;

beforeEach(() => {
  vi.useFakeTimers({ now: START });
});

afterEach(() => {
  vi.useRealTimers();
});

/** Timers on the fake clock, and the log of `[name, Date.now()]` at each expiry. */
function timersWithLog(): { timers: DeadlineTimers; log: Array<[string, number]>; add(name: string, inMs: number): ReturnType<DeadlineTimers['add']> } {
  const timers = new DeadlineTimers(() => Date.now());
  const log: Array<[string, number]> = [];
  return { timers, log, add: (name, inMs) => timers.add(START + inMs, () => log.push([name, Date.now()])) };
}

describe('DeadlineTimers.add', () => {
  describe('when deadlines are added in order', () => {
    it('calls each at its deadline, not before, in order', async () => {
      const { log, add } = timersWithLog();
      add('a', 10);
      add('b', 20);
      add('c', 30);
      await vi.advanceTimersByTimeAsync(9);
      expect(log).toEqual([]);
      await vi.advanceTimersByTimeAsync(1);
      expect(log).toEqual([['a', START + 10]]);
      await vi.advanceTimersByTimeAsync(30);
      expect(log).toEqual([['a', START + 10], ['b', START + 20], ['c', START + 30]]);
    });

    it('calls entries with one deadline in the order they were added', async () => {
      const { log, add } = timersWithLog();
      for (const name of ['a', 'b', 'c', 'd', 'e']) add(name, 5);
      await vi.advanceTimersByTimeAsync(5);
      expect(log.map(([name]) => name)).toEqual(['a', 'b', 'c', 'd', 'e']);
    });
  });

  describe('when an earlier deadline is added after later ones (a shorter grpc-timeout)', () => {
    it('calls it at its own deadline, re-arming the timer for it', async () => {
      const { log, add } = timersWithLog();
      add('late', 150);
      add('later', 160);
      await vi.advanceTimersByTimeAsync(20);
      add('early', 50);
      await vi.advanceTimersByTimeAsync(29);
      expect(log).toEqual([]);
      await vi.advanceTimersByTimeAsync(1);
      expect(log).toEqual([['early', START + 50]]);
      await vi.advanceTimersByTimeAsync(200);
      expect(log).toEqual([['early', START + 50], ['late', START + 150], ['later', START + 160]]);
    });
  });

  describe('when many deadlines come in any order', () => {
    it('calls every one at its deadline, in deadline order, on one timer', async () => {
      const { timers, log, add } = timersWithLog();
      // A fixed pseudo-random order (LCG), with repeats and some cancelled.
      let x = 12345;
      const next = () => (x = (x * 1103515245 + 12345) % 2 ** 31);
      const expected: Array<[string, number]> = [];
      for (let i = 0; i < 2000; i++) {
        const inMs = 1 + (next() % 500);
        const entry = add(`e${i}`, inMs);
        if (next() % 4 === 0) entry.cancel();
        else expected.push([`e${i}`, START + inMs]);
      }
      expect(timers.size).toBe(expected.length);
      expect(vi.getTimerCount()).toBe(1);
      await vi.advanceTimersByTimeAsync(500);
      // Stable by deadline: ties stay in the order added.
      expected.sort((a, b) => a[1] - b[1]);
      expect(log).toEqual(expected);
      expect(timers.size).toBe(0);
    });
  });

  describe('when the clock stands still (the timer is trusted, as a setTimeout per entry was)', () => {
    it('calls the entry the timer was armed for when the timer fires', async () => {
      const frozen = new DeadlineTimers(() => START);
      const called: string[] = [];
      frozen.add(START + 100, () => called.push('a'));
      frozen.add(START + 100, () => called.push('b'));
      await vi.advanceTimersByTimeAsync(99);
      expect(called).toEqual([]);
      await vi.advanceTimersByTimeAsync(1);
      expect(called).toEqual(['a', 'b']);
      expect(vi.getTimerCount()).toBe(0);
    });
  });

  describe('when the deadline is no finite time (a bug: it would sort nowhere)', () => {
    it('throws, and keeps no timer for it', () => {
      const timers = new DeadlineTimers(() => Date.now());
      expect(() => timers.add(Number.NaN, () => undefined)).toThrow(/internal invariant broken/);
      expect(() => timers.add(Infinity, () => undefined)).toThrow(/internal invariant broken/);
      expect(timers.size).toBe(0);
      expect(vi.getTimerCount()).toBe(0);
    });
  });

  describe('when a callback adds a deadline', () => {
    it('calls that one at its own deadline', async () => {
      const { timers, log, add } = timersWithLog();
      timers.add(START + 10, () => add('added', 25));
      add('b', 20);
      await vi.advanceTimersByTimeAsync(30);
      expect(log).toEqual([['b', START + 20], ['added', START + 25]]);
    });
  });
});

describe('Deadline.cancel', () => {
  describe('when cancelled before its deadline', () => {
    it('is never called, and the others still are', async () => {
      const { log, add } = timersWithLog();
      add('a', 10);
      const b = add('b', 20);
      add('c', 30);
      b.cancel();
      await vi.advanceTimersByTimeAsync(100);
      expect(log).toEqual([['a', START + 10], ['c', START + 30]]);
    });

    it('leaves the timer armed for the rest when the front one goes', async () => {
      const { log, add } = timersWithLog();
      const a = add('a', 10);
      add('b', 20);
      a.cancel();
      expect(vi.getTimerCount()).toBe(1);
      await vi.advanceTimersByTimeAsync(20);
      expect(log).toEqual([['b', START + 20]]);
    });
  });

  describe('when nothing is left waiting', () => {
    it('clears the timer, so that nothing holds the process open', () => {
      const { timers, add } = timersWithLog();
      const entries = [add('a', 10), add('b', 20), add('c', 5)];
      expect(vi.getTimerCount()).toBe(1);
      for (const entry of entries) entry.cancel();
      expect(timers.size).toBe(0);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('leaves no timer once every deadline has passed', async () => {
      const { add } = timersWithLog();
      add('a', 10);
      add('b', 20);
      await vi.advanceTimersByTimeAsync(20);
      expect(vi.getTimerCount()).toBe(0);
    });
  });

  describe('when cancelled after its deadline passed', () => {
    it('does nothing', async () => {
      const { timers, log, add } = timersWithLog();
      const a = add('a', 10);
      add('b', 20);
      await vi.advanceTimersByTimeAsync(10);
      a.cancel();
      a.cancel();
      expect(timers.size).toBe(1);
      await vi.advanceTimersByTimeAsync(10);
      expect(log).toEqual([['a', START + 10], ['b', START + 20]]);
    });
  });
});
