/**
 * The log's leaves read in tile-sized pages: entry bundle N holds leaves N·256 … N·256+255
 * (C2SP tlog-tiles), so a page is one object-store read and memory holds one page (and the
 * next, read ahead while this one is written) however long the log.
 */
import { TILE_WIDTH, type TileStore } from '../store/tile-store.js';
import type { Hash, HashReader } from '../tlog/index.js';

/** One leaf: its index and its entry bytes (a receipt's JCS bytes). */
export interface Leaf {
  index: number;
  bytes: Uint8Array;
}

/** The entries of bundle `n` of a tree of `size` leaves (full, or the partial last one). */
function readPage(tiles: TileStore, size: number, n: number): Promise<readonly Uint8Array[]> {
  return tiles.readEntries(n, Math.min(TILE_WIDTH, size - n * TILE_WIDTH));
}

/** Every leaf of the tree of `size` leaves, in index order, one page read ahead. */
export async function* readLeafPages(tiles: TileStore, size: number): AsyncGenerator<Leaf[]> {
  const pages = Math.ceil(size / TILE_WIDTH);
  let next = pages > 0 ? readPage(tiles, size, 0) : undefined;
  for (let n = 0; n < pages; n++) {
    const entries = await next!;
    next = n + 1 < pages ? readPage(tiles, size, n + 1) : undefined;
    // A rejected read-ahead must not go unhandled when the consumer stops early.
    next?.catch(() => undefined);
    yield entries.map((bytes, i) => ({ index: n * TILE_WIDTH + i, bytes }));
  }
}

/** The entry bytes of leaf `index` of the tree of `size` leaves. */
export async function readLeaf(tiles: TileStore, size: number, index: number): Promise<Uint8Array> {
  const n = Math.floor(index / TILE_WIDTH);
  return (await readPage(tiles, size, n))[index - n * TILE_WIDTH]!;
}

/**
 * A HashReader that keeps the stored hashes it has read until clear(): the proofs of the 256
 * leaves of one page share their upper hashes and each other's lower siblings, which the tile
 * reader would otherwise recompute from the tile for every proof. Cleared after each page, so
 * it holds one page's worth (about 2 × 256 hashes plus the path to the root).
 */
export function pageHashReader(read: HashReader): HashReader & { clear(): void } {
  const known = new Map<number, Hash>();
  const reader = async (indexes: readonly number[]) => {
    const missing = [...new Set(indexes.filter((x) => !known.has(x)))];
    if (missing.length > 0) (await read(missing)).forEach((h, i) => known.set(missing[i]!, h));
    return indexes.map((x) => known.get(x)!);
  };
  return Object.assign(reader, { clear: () => known.clear() });
}
