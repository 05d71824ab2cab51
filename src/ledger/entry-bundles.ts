/**
 * Entry bundles (C2SP tlog-tiles `tile/entries/<N>[.p/<W>]`): the leaves' receipt bytes, 256
 * to a full bundle. The integrator appends leaves; this keeps the one bundle still growing in
 * memory and writes every bundle the append touched, full or partial.
 */
import { encodeEntryBundle, decodeEntryBundle, entriesPath } from '../tlog/index.js';
import { ChioError } from '../errors/index.js';
import { TILE_WIDTH, type TileStore } from '../store/tile-store.js';

export class EntryBundles {
  private constructor(
    private readonly store: TileStore,
    private size: number,
    /** Entries of the bundle that is not yet full (size % 256 of them). */
    private open: Uint8Array[],
  ) {}

  /** Resume at tree size `size`, reading the partial bundle back when there is one. */
  static async open(store: TileStore, size: number): Promise<EntryBundles> {
    const width = size % TILE_WIDTH;
    if (width === 0) return new EntryBundles(store, size, []);
    const n = Math.floor(size / TILE_WIDTH);
    const data = (await store.readEntryBundle(entriesPath(n, width))) ?? (await store.readEntryBundle(entriesPath(n, TILE_WIDTH)));
    if (!data) throw new ChioError('NOT_FOUND', `entry bundle ${entriesPath(n, width)} is not stored`);
    return new EntryBundles(store, size, decodeEntryBundle(data).slice(0, width));
  }

  async append(entries: readonly Uint8Array[]): Promise<void> {
    for (let i = 0; i < entries.length; ) {
      const take = Math.min(TILE_WIDTH - this.open.length, entries.length - i);
      this.open.push(...entries.slice(i, i + take));
      i += take;
      this.size += take;
      const n = Math.floor((this.size - 1) / TILE_WIDTH);
      await this.store.writeEntryBundle(entriesPath(n, this.open.length), encodeEntryBundle(this.open));
      if (this.open.length === TILE_WIDTH) this.open = [];
    }
  }
}
