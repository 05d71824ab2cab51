/**
 * Tiles in JetStream: hash tiles in the `chio-tiles` KV bucket, entry bundles in the
 * `chio-entries` object store, both under their C2SP tlog-tiles paths
 * (`tile/<L>/<N>[.p/<W>]`, `tile/entries/<N>[.p/<W>]`).
 *
 * A partial tile of width W is the first W hashes (entries) of the full tile it grows into, so
 * a reader that finds no partial tile reads the full one and cuts it. A tile of a committed
 * tree never changes: a path read for a committed size names fixed content, which is why tiles
 * are cached without expiry. That is also why a partial tile may be deleted once its full tile
 * is stored and committed (deletePartial): every reader here, and C2SP clients, fall back to
 * the full tile.
 *
 * Only tiles of a committed tree are the log's. The ledger writes a batch's tiles before it
 * commits the batch, and a batch that never commits (a crash, a lost lease) leaves them behind,
 * partial and (when it crossed a boundary) full: integrated again later, perhaps differently
 * (another kernel trust set), it may never pass through those widths again. Until the batch
 * that commits them rewrites them, they are not the log's. So a tile is read only as a tree
 * size the ledger committed has it (its state, a checkpoint's size): the partial of that width
 * first, the full tile once that partial is gone. hashReader, readHashTile and readEntries are
 * for such sizes; a tile of any other width is cut from one of them (readTileOfTree). A reader
 * that cached a left-over tile (none of these does) would keep it.
 */
import type { KV } from '@nats-io/kv';
import type { ObjectStore } from '@nats-io/obj';
import { ChioError } from '../errors/index.js';
import { BytesCache } from './bytes-cache.js';
import { InFlight } from '../in-flight.js';
import { HASH_SIZE, TILE_HEIGHT, decodeEntryBundle, encodeEntryBundle, entriesPath, tilePath, tileHashReader, type HashReader, type Tile } from '../tlog/index.js';

/** Hashes in a full tile, entries in a full bundle: 2^TILE_HEIGHT = 256 (C2SP tlog-tiles). */
export const TILE_WIDTH = 2 ** TILE_HEIGHT;
/** Bytes of tiles and bundles kept in memory (least recently used go first). */
export const DEFAULT_TILE_CACHE_BYTES = 64 * 1024 * 1024;

export class TileStore {
  private readonly cache: BytesCache<string>;
  /** Reads in flight by path: a proof and its leaf check ask for the same tile at once. */
  private readonly reading = new InFlight<string, Uint8Array | undefined>();
  /** Entry bundles decoded, by the cached bytes they were decoded from (so they go when those go). */
  private readonly decoded = new WeakMap<Uint8Array, readonly Uint8Array[]>();

  constructor(
    private readonly tiles: KV,
    private readonly entries: ObjectStore,
    cacheBytes = DEFAULT_TILE_CACHE_BYTES,
  ) {
    this.cache = new BytesCache(cacheBytes);
  }

  /**
   * A HashReader over the tiles of a tree of size `treeSize`, which MUST be a size the ledger
   * committed (its state, a checkpoint's): it reads the partial tiles of that size's widths.
   */
  hashReader(treeSize: number): HashReader {
    return tileHashReader(treeSize, TILE_HEIGHT, (tiles) => Promise.all(tiles.map((t) => this.readHashTile(t))));
  }

  async writeHashTile(tile: Tile, data: Uint8Array): Promise<void> {
    const path = tilePath(tile);
    await this.tiles.put(path, data);
    this.cache.set(path, data);
  }

  async readHashTile(tile: Tile): Promise<Uint8Array> {
    const data = await this.readCut(tilePath(tile), tilePath({ ...tile, width: TILE_WIDTH }), tile.width * HASH_SIZE, (p) => this.getKv(p));
    if (!data) throw new ChioError('NOT_FOUND', `tile ${tilePath(tile)} is not stored`);
    return data;
  }

  async writeEntryBundle(path: string, data: Uint8Array): Promise<void> {
    await this.entries.putBlob({ name: path }, data);
    this.cache.set(path, data);
  }

  /** Raw bytes of an entry bundle, or undefined when it is not stored. */
  async readEntryBundle(path: string): Promise<Uint8Array | undefined> {
    return this.readRaw(path, async (p) => (await this.entries.getBlob(p)) ?? undefined);
  }

  /**
   * Hash tile or (level < 0) entry bundle `tile` as the tree of `treeSize` leaves has it, for any
   * width it has there; `treeSize` MUST be a committed size (a published checkpoint's). Read only
   * from what is the log's: the partial of the width the tile has at `treeSize` (written before
   * that size was committed), else the full tile (stored and committed before the ledger
   * deletes that partial), cut to `tile.width`. Never from a partial of another width, nor
   * from a full tile while the tile is not full in that tree: either may be left over from a
   * batch that did not commit. Undefined when the tile is not in that tree or neither is stored.
   */
  async readTileOfTree(tile: Tile, treeSize: number): Promise<Uint8Array | undefined> {
    const entries = tile.level < 0;
    const atLevel = Math.floor(treeSize / TILE_WIDTH ** Math.max(0, tile.level));
    const edge = Math.min(TILE_WIDTH, atLevel - tile.n * TILE_WIDTH);
    if (tile.width < 1 || tile.width > edge) return undefined;
    const path = (width: number) => (entries ? entriesPath(tile.n, width) : tilePath({ ...tile, width }));
    const read = (width: number) => (entries ? this.readEntryBundle(path(width)) : this.readRaw(path(width), (p) => this.getKv(p)));
    // A tile not full in that tree: its partial first. A full tile may be left over from a
    // batch that crossed the boundary and did not commit; the full one counts only once the
    // partial is gone, which the ledger does after committing the full tile.
    const data = edge < TILE_WIDTH ? ((await read(edge)) ?? (await read(TILE_WIDTH))) : await read(TILE_WIDTH);
    if (!data) return undefined;
    if (entries) {
      const all = this.entriesOf(data, TILE_WIDTH);
      if (all.length < tile.width) return undefined;
      return all.length === tile.width ? data : encodeEntryBundle(all.slice(0, tile.width));
    }
    return data.length >= tile.width * HASH_SIZE ? data.subarray(0, tile.width * HASH_SIZE) : undefined;
  }

  /**
   * Forget every tile and bundle kept in memory. A writer caches what it writes, and a batch that
   * did not commit leaves its tiles there; another writer may since have committed others at
   * those paths (under another kernel trust), so a ledger starting a term reads them again.
   */
  forgetCached(): void {
    this.cache.clear();
  }

  /**
   * Delete a partial hash tile or entry bundle (`…/<N>.p/<W>`). The caller MUST have stored
   * the full one first: readers then find it instead.
   */
  async deletePartial(path: string): Promise<void> {
    if (!/\.p\/\d+$/.test(path)) throw new ChioError('INTERNAL', `${path} is not a partial tile`);
    this.cache.delete(path);
    if (path.startsWith('tile/entries/')) await this.entries.delete(path);
    else await this.tiles.purge(path);
  }

  /**
   * The first `width` entries of entry bundle `n`: from its partial bundle of that width, or
   * cut from the full bundle it grew into. Throws NOT_FOUND when neither is stored. `width`
   * MUST be the bundle's width at a committed tree size (see the file comment).
   */
  async readEntries(n: number, width: number): Promise<readonly Uint8Array[]> {
    const data = (await this.readEntryBundle(entriesPath(n, width))) ?? (await this.readEntryBundle(entriesPath(n, TILE_WIDTH)));
    if (!data) throw new ChioError('NOT_FOUND', `entry bundle ${entriesPath(n, width)} is not stored`);
    return this.entriesOf(data, width);
  }

  /** The first `width` entries of bundle `n` when they are in memory already (no read); else undefined. */
  cachedEntries(n: number, width: number): readonly Uint8Array[] | undefined {
    const data = this.cache.peek(entriesPath(n, width)) ?? this.cache.peek(entriesPath(n, TILE_WIDTH));
    return data && this.entriesOf(data, width);
  }

  private entriesOf(data: Uint8Array, width: number): readonly Uint8Array[] {
    let entries = this.decoded.get(data);
    if (!entries) {
      entries = decodeEntryBundle(data);
      this.decoded.set(data, entries);
    }
    return entries.length === width ? entries : entries.slice(0, width);
  }

  /** Read `path`; when it is missing, read `fullPath` and keep its first `bytes` bytes. */
  private async readCut(path: string, fullPath: string, bytes: number, get: (p: string) => Promise<Uint8Array | undefined>) {
    const data = await this.readRaw(path, get);
    if (data || path === fullPath) return data;
    const full = await this.readRaw(fullPath, get);
    return full && full.length >= bytes ? full.subarray(0, bytes) : undefined;
  }

  private async readRaw(path: string, get: (p: string) => Promise<Uint8Array | undefined>): Promise<Uint8Array | undefined> {
    const cached = this.cache.get(path);
    if (cached) return cached;
    return this.reading.run(path, () =>
      get(path).then((data) => {
        if (data) this.cache.set(path, data);
        return data;
      }),
    );
  }

  private async getKv(path: string): Promise<Uint8Array | undefined> {
    const entry = await this.tiles.get(path);
    return entry && entry.operation === 'PUT' ? entry.value : undefined;
  }
}
