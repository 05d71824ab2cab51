/**
 * Stored hashes (Go tlog's storage order: every complete subtree's hash) kept in memory. A
 * stored hash names a complete subtree, so it never changes once written; but reading one
 * from a tile above level 0 means hashing up to 2^TILE_HEIGHT - 1 nodes (with the portable
 * SHA-256), which a hot proof path cannot pay on every request. Bounded; oldest go first.
 */
import type { Hash, HashReader } from '../tlog/index.js';

/** Stored hashes kept: 64 Ki × 32 bytes plus map overhead, about 8 MiB. */
export const DEFAULT_STORED_HASHES_KEPT = 1 << 16;

export class StoredHashCache {
  private readonly hashes = new Map<number, Hash>();

  constructor(private readonly kept = DEFAULT_STORED_HASHES_KEPT) {}

  /** `reader`, answering from memory what it already read. */
  wrap(reader: HashReader): HashReader {
    return async (indexes) => {
      const missing = indexes.filter((x) => !this.hashes.has(x));
      if (missing.length > 0) {
        const read = await reader(missing);
        missing.forEach((x, i) => this.remember(x, read[i]!));
      }
      return indexes.map((x) => this.hashes.get(x)!);
    };
  }

  private remember(index: number, hash: Hash): void {
    if (this.hashes.size >= this.kept) this.hashes.delete(this.hashes.keys().next().value!);
    this.hashes.set(index, hash);
  }
}
