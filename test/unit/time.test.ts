import { describe, expect, it } from 'vitest';
import { isoTime } from '../../src/time.js';

describe('isoTime', () => {
  it('is Date#toISOString, the kept second reused or not', () => {
    const base = Date.UTC(2026, 11, 2, 23, 59, 59, 0);
    const times = [base, base + 1, base + 9, base + 10, base + 99, base + 100, base + 999, base + 1000, base + 1001, base - 1, base + 5, 0, -0, -1, -999, -1000, -1001, 1e12 + 7];
    // Years past 9999 and before 0 are written with six digits and a sign; the ends of the Date range.
    times.push(Date.UTC(10000, 0, 1, 0, 0, 0, 42), Date.UTC(-1, 11, 31, 23, 59, 59, 1), 8.64e15, -8.64e15);
    for (let i = 0; i < 1000; i++) times.push(Math.floor((Math.random() - 0.5) * 2 * 8.64e15), base + Math.floor(Math.random() * 5000));
    for (const ms of times) expect(isoTime(ms)).toBe(new Date(ms).toISOString());
  });

  it('throws where toISOString throws, and truncates a fraction as a Date does', () => {
    for (const ms of [NaN, Infinity, 8.64e15 + 1, -8.64e15 - 1]) expect(() => isoTime(ms)).toThrow(RangeError);
    const base = Date.UTC(2026, 0, 1);
    for (const ms of [base + 0.5, base - 0.5, base + 999.9]) expect(isoTime(ms)).toBe(new Date(ms).toISOString());
  });
});
