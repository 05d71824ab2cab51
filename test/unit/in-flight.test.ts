/**
 * Work shared while it runs (src/in-flight.ts): the primary of `chio authz --workers N` asks
 * every worker for /ready and /metrics, the verifier reads checkpoints, tiles and the stream's
 * tail; a flood of requests is so one piece of work at a time per key.
 */
import { describe, expect, it } from 'vitest';
import { InFlight, sharedAnswer } from '../../src/in-flight.js';

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

describe('InFlight', () => {
  it('shares work by key: one run per key while it runs, none kept after', async () => {
    const started: string[] = [];
    const release = new Map<string, (v: string) => void>();
    const inFlight = new InFlight<string, string>();
    const work = (key: string) => () => (started.push(key), new Promise<string>((r) => release.set(key, r)));
    const a = [inFlight.run('a', work('a')), inFlight.run('a', work('a'))];
    const b = inFlight.run('b', work('b'));
    expect(started).toEqual(['a', 'b']);
    release.get('b')!('tile b');
    release.get('a')!('tile a');
    expect(await Promise.all([...a, b])).toEqual(['tile a', 'tile a', 'tile b']);
    const again = inFlight.run('a', work('a'));
    expect(started).toEqual(['a', 'b', 'a']);
    release.get('a')!('tile a, read again');
    expect(await again).toBe('tile a, read again');
  });

  it('starts afresh for a key whose work failed', async () => {
    const inFlight = new InFlight<number, number>();
    await expect(inFlight.run(1, () => Promise.reject(new Error('stream read failed')))).rejects.toThrow('stream read failed');
    expect(await inFlight.run(1, async () => 2)).toBe(2);
  });
});
