/**
 * Hash tiles: the tree served as static, immutable blobs (C2SP tlog-tiles; Go's tlog tile.go).
 *
 * A tile of height h at level L, index N, holds the hashes at tree level L·h with indexes
 * N·2^h … N·2^h + W - 1, concatenated (W·32 bytes). A full tile has W = 2^h; it is the bottom
 * row of a complete subtree of height h, whose root is entry N mod 2^h of tile (L+1, N / 2^h).
 * The rightmost tile of a level is partial (1 ≤ W < 2^h) for a tree of size s when
 * ⌊s / 2^(L·h)⌋ mod 2^h ≠ 0, and is never hashed into the level above. Hashes at tree levels
 * between L·h and (L+1)·h are recomputed from the tile. C2SP fixes h = 8 (256 hashes, 8 KiB).
 * Level -1 (ENTRIES_LEVEL) stands for entry bundles (bundle.ts), which have the same N and W.
 *
 * Paths (C2SP, h = 8 only):
 *
 *   tile/<L>/<N>[.p/<W>]          L in 0..63, decimal, no leading zeros
 *   tile/entries/<N>[.p/<W>]      W in 1..255, decimal, no leading zeros; absent when full
 *
 * N is written in groups of three digits, every group but the last prefixed with "x":
 * 1234067 → x001/x234/067, 5 → 005. So the level-1 tile 1234067 of width 8 is
 * tile/1/x001/x234/067.p/8.
 *
 * Reading hashes through tiles (tileHashReader) trusts the store; verifiedTileHashReader also
 * authenticates every tile it reads against a trusted tree root, as Go's TileHashReader does.
 */
import { ChioError, assert } from '../errors/index.js';
import { MAX_TREE_SIZE, isIndex, shl, shr } from './bits.js';
import { type Hash, HASH_SIZE, isHash, nodeHash } from './hash.js';
import { bytesEqual } from '../encoding.js';
import { type HashReader, readExactly, splitStoredHashIndex, storedHashCount, storedHashIndex, subTreeIndex } from './tree.js';

/** A tile: height h, level (ENTRIES_LEVEL for an entry bundle), index n, width 1..2^h. */
export interface Tile {
  readonly h: number;
  readonly level: number;
  readonly n: number;
  readonly width: number;
}

/** Tile height fixed by C2SP tlog-tiles. */
export const TILE_HEIGHT = 8;
/** The level that names entry bundles (`tile/entries/…`). */
export const ENTRIES_LEVEL = -1;

/** Fetches tiles: one blob of exactly tile.width · 32 bytes per tile, in order, or throw. */
export type TileReader = (tiles: Tile[]) => Uint8Array[] | Promise<Uint8Array[]>;

/** A tree size and the root hash a verifier trusts for it (from a verified checkpoint). */
export interface TreeHead {
  readonly size: number;
  readonly root: Hash;
}

/** Paths are at most "tile/entries/" + 6 groups + ".p/255": 48 bytes. */
const MAX_TILE_PATH_LENGTH = 64;
const TILE_PATH = /^tile\/(entries|0|[1-9][0-9]?)\/((?:x[0-9]{3}\/)*[0-9]{3})(?:\.p\/([1-9][0-9]{0,2}))?$/;

function isTile(t: Tile, hashTile: boolean): boolean {
  return (
    Number.isInteger(t.h) && t.h >= 1 && t.h <= 30 &&
    Number.isInteger(t.level) && t.level >= (hashTile ? 0 : ENTRIES_LEVEL) && t.level <= 63 &&
    isIndex(t.n) && Number.isInteger(t.width) && t.width >= 1 && t.width <= 2 ** t.h
  );
}

/**
 * The tile holding stored hash `index`: the hash is the root of the 2^within bottom-row hashes
 * of that tile starting at `first`.
 */
function locateIndex(h: number, index: number): { tile: Tile; within: number; first: number } {
  const { level, n } = splitStoredHashIndex(index);
  const tileLevel = Math.floor(level / h);
  const within = level - tileLevel * h; // height of the hash above the tile's bottom row
  const tileN = shr(shl(n, within), h);
  const first = shl(n, within) - shl(tileN, h); // first bottom-row entry under the hash
  const width = first + 2 ** within;
  return { tile: { h, level: tileLevel, n: tileN, width }, within, first };
}

/** The smallest tile of height h that holds (or can recompute) stored hash `index`. */
export function tileForIndex(h: number, index: number): Tile {
  return locateIndex(h, index).tile;
}

/** Stored hash `index`, read from (or recomputed within) `tile`, whose bytes are `data`. */
export function hashFromTile(tile: Tile, data: Uint8Array, index: number): Hash {
  // Attacker-controlled when tiles come from a remote store: check shape before use.
  if (!isTile(tile, true)) throw new ChioError('MALFORMED', 'invalid hash tile');
  if (data.length !== tile.width * HASH_SIZE) throw new ChioError('MALFORMED', `tile data is ${data.length} bytes, want ${tile.width * HASH_SIZE}`);
  const { tile: want, within, first } = locateIndex(tile.h, index);
  if (want.level !== tile.level || want.n !== tile.n || want.width > tile.width) {
    throw new ChioError('MALFORMED', `stored hash ${index} is not in tile ${tile.level}/${tile.n}`);
  }
  return levelsOf(data)[within]![first >> within]!.slice();
}

/**
 * A tile's bottom row hashed up level by level (level k holds the roots of its complete runs
 * of 2^k hashes), kept per tile bytes. A proof needs a tile's upper hashes, and each costs up
 * to 2^h − 1 SHA-256s from the bottom row: a reader that hands out the same bytes for a tile
 * again (a cache) pays that once per tile instead of once per proof. Keyed weakly by the bytes
 * object, so it goes when they do; tile bytes are never changed in place.
 */
const tileLevels = new WeakMap<Uint8Array, Hash[][]>();

function levelsOf(data: Uint8Array): Hash[][] {
  const known = tileLevels.get(data);
  if (known) return known;
  const levels: Hash[][] = [[]];
  for (let i = 0; i < data.length; i += HASH_SIZE) levels[0]!.push(data.subarray(i, i + HASH_SIZE));
  for (let below = levels[0]!; below.length > 1; ) {
    const up: Hash[] = [];
    for (let i = 0; i + 1 < below.length; i += 2) up.push(nodeHash(below[i]!, below[i + 1]!));
    levels.push(up);
    below = up;
  }
  tileLevels.set(data, levels);
  return levels;
}

/** Root of the complete subtree whose bottom row is `row` (a power-of-two count of hashes). */
function subtreeHash(row: Uint8Array): Hash {
  const levels = levelsOf(row);
  assert(row.length === HASH_SIZE * 2 ** (levels.length - 1), 'subtreeHash of a row that is not a power of two hashes');
  return levels[levels.length - 1]![0]!.slice();
}

/** The hash tiles that change when the tree grows from oldTreeSize to newTreeSize, bottom up. */
export function newTiles(h: number, oldTreeSize: number, newTreeSize: number): Tile[] {
  assert(h >= 1 && h <= 30 && isIndex(oldTreeSize) && isIndex(newTreeSize) && oldTreeSize <= newTreeSize, 'newTiles');
  const full = 2 ** h;
  const tiles: Tile[] = [];
  for (let level = 0; shr(newTreeSize, h * level) > 0; level++) {
    const oldN = shr(oldTreeSize, h * level); // hashes at tree level h·level before and after
    const newN = shr(newTreeSize, h * level);
    if (oldN === newN) continue;
    for (let n = shr(oldN, h); n < shr(newN, h); n++) tiles.push({ h, level, n, width: full });
    const n = shr(newN, h);
    const width = newN - shl(n, h);
    if (width > 0) tiles.push({ h, level, n, width });
  }
  return tiles;
}

/** The bytes of hash tile `tile`, from stored hashes. */
export async function readTileData(tile: Tile, readHashes: HashReader): Promise<Uint8Array> {
  assert(isTile(tile, true), 'readTileData of an invalid or entries tile');
  const first = shl(tile.n, tile.h);
  const indexes: number[] = [];
  for (let i = 0; i < tile.width; i++) indexes.push(storedHashIndex(tile.h * tile.level, first + i));
  const hashes = await readExactly(readHashes, indexes);
  const data = new Uint8Array(tile.width * HASH_SIZE);
  hashes.forEach((hash, i) => data.set(hash, i * HASH_SIZE));
  return data;
}

/**
 * Tile t moved k levels up, sized for a tree of treeSize records; undefined when that tile is
 * empty. With k = 0 it resizes t to its width in that tree.
 */
function tileParent(t: Tile, k: number, treeSize: number): Tile | undefined {
  const level = t.level + k;
  const n = shr(t.n, k * t.h);
  const available = shr(treeSize, level * t.h); // hashes at the tile's bottom row in this tree
  const first = shl(n, t.h);
  if (first >= available) return undefined;
  return { h: t.h, level, n, width: Math.min(2 ** t.h, available - first) };
}

/** Tiles to fetch, each once, in the order added. */
class TilePlan {
  readonly tiles: Tile[] = [];
  private readonly order = new Map<string, number>();

  indexOf(t: Tile): number | undefined {
    return this.order.get(`${t.level}/${t.n}/${t.width}`);
  }

  add(t: Tile): number {
    const have = this.indexOf(t);
    if (have !== undefined) return have;
    this.order.set(`${t.level}/${t.n}/${t.width}`, this.tiles.length);
    this.tiles.push(t);
    return this.tiles.length - 1;
  }
}

async function fetchTiles(readTiles: TileReader, tiles: Tile[]): Promise<Uint8Array[]> {
  const data = await readTiles(tiles);
  if (data.length !== tiles.length) throw new ChioError('MALFORMED', `read ${data.length} tiles, want ${tiles.length}`);
  tiles.forEach((t, i) => {
    if (data[i]!.length !== t.width * HASH_SIZE) throw new ChioError('MALFORMED', `tile ${t.level}/${t.n} is ${data[i]!.length} bytes, want ${t.width * HASH_SIZE}`);
  });
  return data;
}

function checkInTree(indexes: number[], treeSize: number): void {
  const count = storedHashCount(treeSize);
  for (const x of indexes) {
    if (!isIndex(x) || x >= count) throw new ChioError('NOT_FOUND', `stored hash ${String(x)} is not in the tree of size ${treeSize}`);
  }
}

/**
 * A HashReader over the hash tiles of the tree of size treeSize (tiles of height h), fetching
 * all tiles it needs in one readTiles call. It trusts the tile store: use it on the log's own
 * storage. A client holding only a checkpoint uses verifiedTileHashReader.
 */
export function tileHashReader(treeSize: number, h: number, readTiles: TileReader): HashReader {
  assert(isIndex(treeSize) && h >= 1 && h <= 30, 'tileHashReader');
  return async (indexes) => {
    checkInTree(indexes, treeSize);
    const plan = new TilePlan();
    const where = indexes.map((x) => plan.add(tileParent(tileForIndex(h, x), 0, treeSize)!));
    if (plan.tiles.length === 0) return [];
    const data = await fetchTiles(readTiles, plan.tiles);
    return indexes.map((x, i) => hashFromTile(plan.tiles[where[i]!]!, data[where[i]!]!, x));
  };
}

/**
 * Like tileHashReader, but every tile read is authenticated against `tree.root`: the tiles on
 * the right edge by recomputing the root, every other tile through the chain of full parent
 * tiles up to one of those. Tampered tiles throw ChioError('PROOF_INVALID').
 */
export function verifiedTileHashReader(tree: TreeHead, h: number, readTiles: TileReader): HashReader {
  assert(isIndex(tree.size) && isHash(tree.root) && h >= 1 && h <= 30, 'verifiedTileHashReader');
  return async (indexes) => {
    checkInTree(indexes, tree.size);
    if (indexes.length === 0) return [];
    const plan = new TilePlan();
    // First the tiles holding the root's subtree hashes: they are checked against the root.
    const rootIndexes = subTreeIndex(0, tree.size, []);
    const rootTiles = rootIndexes.map((x) => plan.add(tileParent(tileForIndex(h, x), 0, tree.size)!));
    const rootTileCount = plan.tiles.length;
    const where = indexes.map((x) => planAuthenticatedTile(plan, tileForIndex(h, x), tree.size));
    const data = await fetchTiles(readTiles, plan.tiles);
    checkRootTiles(plan, data, rootIndexes, rootTiles, tree.root);
    checkChildTiles(plan, data, rootTileCount, tree.size);
    return indexes.map((x, i) => hashFromTile(plan.tiles[where[i]!]!, data[where[i]!]!, x));
  };
}

/**
 * Adds `tile` and the full parent tiles above it, up to the first ancestor already planned,
 * parents before children. Returns the plan position of `tile`.
 */
function planAuthenticatedTile(plan: TilePlan, tile: Tile, treeSize: number): number {
  let k = 0;
  for (; ; k++) {
    const parent = tileParent(tile, k, treeSize);
    assert(parent !== undefined, 'tile chain left the tree before reaching the root tiles');
    if (plan.indexOf(parent) !== undefined) break;
  }
  // Walk back down: every tile below the planned ancestor has a parent, so it is full.
  for (k--; k >= 0; k--) {
    const t = tileParent(tile, k, treeSize)!;
    assert(t.width === 2 ** t.h, 'only full tiles have parents');
    plan.add(t);
  }
  return plan.indexOf(tileParent(tile, 0, treeSize)!)!;
}

function checkRootTiles(plan: TilePlan, data: Uint8Array[], rootIndexes: number[], rootTiles: number[], root: Hash): void {
  let h: Hash | undefined;
  for (let i = rootIndexes.length - 1; i >= 0; i--) {
    const t = rootTiles[i]!;
    const sub = hashFromTile(plan.tiles[t]!, data[t]!, rootIndexes[i]!);
    h = h === undefined ? sub : nodeHash(sub, h);
  }
  if (h === undefined || !bytesEqual(h, root)) throw new ChioError('PROOF_INVALID', 'tiles do not match the tree root');
}

/** Checks every tile from position `from` on against the entry for it in its parent tile. */
function checkChildTiles(plan: TilePlan, data: Uint8Array[], from: number, treeSize: number): void {
  for (let i = from; i < plan.tiles.length; i++) {
    const tile = plan.tiles[i]!;
    const parent = tileParent(tile, 1, treeSize);
    const j = parent && plan.indexOf(parent);
    assert(parent !== undefined && j !== undefined && j < i, 'lost the parent of a tile');
    const want = hashFromTile(parent, data[j]!, storedHashIndex(parent.level * parent.h, tile.n));
    if (!bytesEqual(subtreeHash(data[i]!), want)) throw new ChioError('PROOF_INVALID', 'tile does not match its parent tile');
  }
}

function formatTileIndex(n: number): string {
  let path = String(n % 1000).padStart(3, '0');
  for (n = Math.floor(n / 1000); n > 0; n = Math.floor(n / 1000)) path = `x${String(n % 1000).padStart(3, '0')}/${path}`;
  return path;
}

/** The C2SP path of a hash tile or (level ENTRIES_LEVEL) an entry bundle. */
export function tilePath(tile: Tile): string {
  assert(tile.h === TILE_HEIGHT && isTile(tile, false), 'tilePath: C2SP paths are for valid tiles of height 8');
  const level = tile.level === ENTRIES_LEVEL ? 'entries' : String(tile.level);
  const partial = tile.width === 2 ** TILE_HEIGHT ? '' : `.p/${tile.width}`;
  return `tile/${level}/${formatTileIndex(tile.n)}${partial}`;
}

/** The C2SP path of entry bundle n of the given width (256 = full). */
export function entriesPath(n: number, width: number = 2 ** TILE_HEIGHT): string {
  return tilePath({ h: TILE_HEIGHT, level: ENTRIES_LEVEL, n, width });
}

/** Parse a C2SP tile or entry-bundle path; throws ChioError('MALFORMED') unless canonical. */
export function parseTilePath(path: string): Tile {
  // Attacker-controlled (an HTTP path): bounded, then matched by a linear regular expression.
  if (typeof path !== 'string' || path.length > MAX_TILE_PATH_LENGTH) throw new ChioError('MALFORMED', 'tile path is too long');
  const m = TILE_PATH.exec(path);
  if (!m) throw new ChioError('MALFORMED', 'not a tile path');
  const level = m[1] === 'entries' ? ENTRIES_LEVEL : Number(m[1]);
  const width = m[3] === undefined ? 2 ** TILE_HEIGHT : Number(m[3]);
  const n = m[2]!.split('/').reduce((acc, group) => acc * 1000 + Number(group.replace('x', '')), 0);
  if (level > 63 || (m[3] !== undefined && width >= 2 ** TILE_HEIGHT)) throw new ChioError('MALFORMED', 'tile level or width out of range');
  // The tile's first entry, n · 256^(L+1), must lie inside the largest tree we handle.
  if (n * 2 ** (TILE_HEIGHT * (Math.max(level, 0) + 1)) >= MAX_TREE_SIZE) throw new ChioError('MALFORMED', 'tile index out of range');
  if (formatTileIndex(n) !== m[2]) throw new ChioError('MALFORMED', 'tile index is not canonical');
  return { h: TILE_HEIGHT, level, n, width };
}
