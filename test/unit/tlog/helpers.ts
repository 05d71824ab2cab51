/** Shared helpers for the tlog tests. */
import { expect } from 'vitest';
import { type ChioErrorCode, isChioError } from '../../../src/errors.js';
import { MemoryHashStore } from '../../../src/tlog/index.js';

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

/** A store holding records "leaf 0" … "leaf n-1". */
export function storeOf(n: number): MemoryHashStore {
  const store = new MemoryHashStore();
  for (let i = 0; i < n; i++) store.append(leafData(i));
  return store;
}

export const leafData = (i: number): Uint8Array => new TextEncoder().encode(`leaf ${i}`);

/** A copy of `bytes` with bit `bit` flipped. */
export function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = bytes.slice();
  out[bit >> 3] = out[bit >> 3]! ^ (1 << (bit & 7));
  return out;
}
