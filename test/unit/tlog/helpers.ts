/** Shared helpers for the tlog tests. */
import { MemoryHashStore } from '../../../src/tlog/index.js';

export { expectCode, expectRejectCode, thrownCode } from '../../support/errors.js';

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
