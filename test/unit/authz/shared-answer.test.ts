/**
 * The primary of `chio authz --workers N` answers /ready and /metrics by asking every worker
 * (src/authz/workers.ts); sharedAnswer makes a flood of them one round of questions at a time.
 */
import { describe, expect, it } from 'vitest';
import { sharedAnswer } from '../../../src/authz/workers.js';

describe('sharedAnswer', () => {
  it('gives callers while an answer is worked out that answer, and asks again once it came', async () => {
    let asked = 0;
    let release!: (v: number) => void;
    const answer = sharedAnswer(() => (asked++, new Promise<number>((r) => (release = r))));
    const waiting = Array.from({ length: 50 }, () => answer());
    expect(asked).toBe(1);
    release(7);
    expect(await Promise.all(waiting)).toEqual(Array(50).fill(7));
    const next = answer();
    expect(asked).toBe(2);
    release(8);
    expect(await next).toBe(8);
  });

  it('asks again after a failed answer', async () => {
    let asked = 0;
    const answer = sharedAnswer(async () => {
      asked++;
      if (asked === 1) throw new Error('worker gone');
      return 'ready';
    });
    await expect(answer()).rejects.toThrow('worker gone');
    expect(await answer()).toBe('ready');
    expect(asked).toBe(2);
  });
});
