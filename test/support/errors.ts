/** Asserting ChioError codes (STYLE §6: tests branch on codes, never on messages). */
import { expect } from 'vitest';
import { type ChioErrorCode, isChioError } from '../../src/errors/index.js';

/** The code of the ChioError `fn` throws; fails the test when it throws nothing or something else. */
export function thrownCode(fn: () => unknown): ChioErrorCode {
  try {
    fn();
  } catch (err) {
    if (isChioError(err)) return err.code;
    throw new Error(`expected a ChioError, got ${String(err)}`);
  }
  throw new Error('expected a ChioError, nothing was thrown');
}

export function expectCode(fn: () => unknown, code: ChioErrorCode): void {
  expect(thrownCode(fn)).toBe(code);
}

export async function expectRejectCode(p: Promise<unknown>, code: ChioErrorCode): Promise<void> {
  await expect(p).rejects.toSatisfy((err: unknown) => isChioError(err, code));
}
