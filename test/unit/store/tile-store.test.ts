import { describe, expect, it } from 'vitest';
import { TILE_WIDTH, TileStore } from '../../../src/store/tile-store.js';
import {
  HASH_SIZE, MemoryHashStore, TILE_HEIGHT, encodeEntryBundle, entriesPath, newTiles, readTileData, tilePath, treeHash, type Tile,
} from '../../../src/tlog/index.js';
import { toHex } from '../../../src/encoding.js';
import { expectRejectCode } from '../../support/errors.js';
import { useTestStore } from './nats.js';

const store = useTestStore();
const tiles = () => new TileStore(store.resources.tiles, store.resources.entries);
const hex = (bytes: Uint8Array) => toHex(bytes);
const entry = (i: number) => new TextEncoder().encode(`entry ${i}`);

/** Write the hash tiles of a tree of `n` leaves, as the ledger does after each batch. */
async function writeTree(ts: TileStore, n: number): Promise<MemoryHashStore> {
  const reference = new MemoryHashStore();
  for (let i = 0; i < n; i++) reference.append(entry(i));
  for (const tile of newTiles(TILE_HEIGHT, 0, n)) await ts.writeHashTile(tile, await readTileData(tile, reference.readHashes));
  return reference;
}

describe('TileStore', () => {
  it('has C2SP tiles of 256 hashes', () => {
    expect(TILE_WIDTH).toBe(256);
  });

  describe('hash tiles', () => {
    it('stores a tile under its tlog-tiles path', async () => {
      const tile: Tile = { h: TILE_HEIGHT, level: 3, n: 1234067, width: 2 };
      const data = new Uint8Array(2 * HASH_SIZE).fill(5);
      await tiles().writeHashTile(tile, data);
      expect(hex((await store.resources.tiles.get('tile/3/x001/x234/067.p/2'))!.value)).toBe(hex(data));
    });

    it('cuts a partial tile from the full tile it grew into when the partial one is not stored', async () => {
      const full = Uint8Array.from({ length: TILE_WIDTH * HASH_SIZE }, (_, i) => i % 251);
      await tiles().writeHashTile({ h: TILE_HEIGHT, level: 2, n: 0, width: TILE_WIDTH }, full);
      // A fresh store: nothing cached, every read goes to the bucket.
      expect(hex(await tiles().readHashTile({ h: TILE_HEIGHT, level: 2, n: 0, width: 3 }))).toBe(hex(full.subarray(0, 3 * HASH_SIZE)));
    });

    it('throws NOT_FOUND for a tile that is not stored', async () => {
      await expectRejectCode(tiles().readHashTile({ h: TILE_HEIGHT, level: 4, n: 9, width: 1 }), 'NOT_FOUND');
    });

    it('reads the hashes of a stored tree through its tiles', async () => {
      const reference = await writeTree(tiles(), 300);
      // Sizes inside the first full tile read cut tiles; 300 reads its own partial tiles.
      for (const size of [1, 255, 256, 300]) {
        expect(toHex(await treeHash(size, tiles().hashReader(size))), `size ${size}`).toBe(toHex(await treeHash(size, reference.readHashes)));
      }
    });

    it('keeps the most recently used tiles in memory, up to its cache size', async () => {
      const tileBytes = 4 * HASH_SIZE;
      const cached = new TileStore(store.resources.tiles, store.resources.entries, 2 * tileBytes);
      const tile = (n: number): Tile => ({ h: TILE_HEIGHT, level: 5, n, width: 4 });
      const written = [1, 2, 3].map((n) => new Uint8Array(tileBytes).fill(n));
      await cached.writeHashTile(tile(0), written[0]!);
      await cached.writeHashTile(tile(1), written[1]!);
      await cached.readHashTile(tile(0)); // now tile 1 is the least recently used
      await cached.writeHashTile(tile(2), written[2]!);
      // Tiles never change in a real log; changing them under the cache shows where a read came from.
      const changed = new Uint8Array(tileBytes).fill(9);
      for (const i of [0, 1, 2]) await store.resources.tiles.put(tilePath(tile(i)), changed);
      expect(hex(await cached.readHashTile(tile(0)))).toBe(hex(written[0]!));
      expect(hex(await cached.readHashTile(tile(2)))).toBe(hex(written[2]!));
      expect(hex(await cached.readHashTile(tile(1)))).toBe(hex(changed));
    });

    it('reads a tile asked for twice at once from the bucket once', async () => {
      const tile: Tile = { h: TILE_HEIGHT, level: 4, n: 7, width: 2 };
      await tiles().writeHashTile(tile, new Uint8Array(2 * HASH_SIZE).fill(9));
      let gets = 0;
      const counted = new Proxy(store.resources.tiles, {
        get(target, prop, receiver) {
          if (prop === 'get') return (...args: Parameters<typeof target.get>) => (gets++, target.get(...args));
          const value = Reflect.get(target, prop, receiver);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      const fresh = new TileStore(counted, store.resources.entries);
      const [a, b] = await Promise.all([fresh.readHashTile(tile), fresh.readHashTile(tile)]);
      expect(hex(a)).toBe(hex(b));
      expect(gets).toBe(1);
    });

    it('keeps serving tiles from the bucket when they no longer fit its cache', async () => {
      const small = new TileStore(store.resources.tiles, store.resources.entries, HASH_SIZE);
      const reference = await writeTree(small, 300);
      expect(toHex(await treeHash(300, small.hashReader(300)))).toBe(toHex(await treeHash(300, reference.readHashes)));
    });
  });

  describe('entry bundles', () => {
    const entries = Array.from({ length: TILE_WIDTH }, (_, i) => entry(i));

    it('stores a bundle under its tlog-tiles path and reads it back', async () => {
      const data = encodeEntryBundle(entries.slice(0, 5));
      await tiles().writeEntryBundle(entriesPath(7, 5), data);
      expect(hex((await tiles().readEntryBundle('tile/entries/007.p/5'))!)).toBe(hex(data));
      expect(await tiles().readEntryBundle('tile/entries/008')).toBeUndefined();
    });

    it('reads the first entries of a bundle from its partial bundle, or cut from the full one', async () => {
      await tiles().writeEntryBundle(entriesPath(1, 10), encodeEntryBundle(entries.slice(0, 10)));
      expect((await tiles().readEntries(1, 10)).map(hex)).toEqual(entries.slice(0, 10).map(hex));
      await tiles().writeEntryBundle(entriesPath(2), encodeEntryBundle(entries));
      expect((await tiles().readEntries(2, 17)).map(hex)).toEqual(entries.slice(0, 17).map(hex));
      await expectRejectCode(tiles().readEntries(3, 1), 'NOT_FOUND');
    });

    it('hands out a bundle\'s entries without a read only while it is in memory', async () => {
      await tiles().writeEntryBundle(entriesPath(4), encodeEntryBundle(entries));
      const oneBundle = new TileStore(store.resources.tiles, store.resources.entries, encodeEntryBundle(entries).length);
      expect(oneBundle.cachedEntries(4, 20)).toBeUndefined();
      await oneBundle.readEntries(4, TILE_WIDTH);
      expect(oneBundle.cachedEntries(4, 20)!.map(hex)).toEqual(entries.slice(0, 20).map(hex));
      // Another bundle read pushes it out of a cache the size of one.
      await tiles().writeEntryBundle(entriesPath(5), encodeEntryBundle(entries));
      await oneBundle.readEntries(5, TILE_WIDTH);
      expect(oneBundle.cachedEntries(4, 20)).toBeUndefined();
      expect(oneBundle.cachedEntries(5, TILE_WIDTH)).toHaveLength(TILE_WIDTH);
    });
  });
});
