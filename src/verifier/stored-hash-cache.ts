/**
 * Stored hashes (Go tlog's storage order: every complete subtree's hash) kept in memory. A
 * stored hash names a complete subtree, so it never changes once written; but reading one
 * from a tile above level 0 means hashing up to 2^TILE_HEIGHT - 1 nodes (with the portable
 * SHA-256), which a hot proof path cannot pay on every request. Bounded; oldest go first.
 */
import { ChioError } from '../errors/index.js';
import type { Hash, HashReader } from '../tlog/index.js';

/** Stored hashes kept: 64 Ki × 32 bytes plus map overhead, about 8 MiB. */
export const DEFAULT_STORED_HASHES_KEPT = 1 << 16;

export class StoredHashCache {
  private readonly hashes = new Map<number, Hash>();

  constructor(private readonly kept = DEFAULT_STORED_HASHES_KEPT) {}

  /**
   * `reader`, answering from memory what it already read. The answer is gathered here, not
   * looked up again after the read: while this request waits, others may evict what it found.
   */
  wrap(reader: HashReader): HashReader {
    return async (indexes) => {
      const found = new Map<number, Hash>();
      const missing: number[] = [];
      for (const x of indexes) {
        const hash = this.hashes.get(x);
        if (hash) found.set(x, hash);
        else missing.push(x);
      }
      if (missing.length > 0) {
        const read = await reader(missing);
        // A reader that broke its contract fails this caller, and nothing it said is kept.
        if (read.length !== missing.length || !read.every((h) => h instanceof Uint8Array && h.length === 32)) {
          throw new ChioError('INTERNAL', `hash reader returned ${read.length} values for ${missing.length} indexes`);
        }
        missing.forEach((x, i) => {
          found.set(x, read[i]!);
          this.remember(x, read[i]!);
        });
      }
      return indexes.map((x) => found.get(x)!);
    };
  }

  private remember(index: number, hash: Hash): void {
    if (this.hashes.size >= this.kept) this.hashes.delete(this.hashes.keys().next().value!);
    this.hashes.set(index, hash);
  }
}
