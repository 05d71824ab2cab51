/**
 * Tiles against direct storage (Go tlog tile_test.go / tlog_test.go style), and C2SP
 * tlog-tiles path encoding.
 */
import { describe, expect, it } from 'vitest';
import { toHex } from '../../../src/encoding.js';
import {
  type Hash,
  type HashReader,
  type Tile,
  type TileReader,
  MemoryHashStore,
  entriesPath,
  hashFromTile,
  newTiles,
  parseTilePath,
  proveRecord,
  proveTree,
  checkRecord,
  checkTree,
  readTileData,
  splitStoredHashIndex,
  storedHashCount,
  tileForIndex,
  tileHashReader,
  tilePath,
  treeHash,
  verifiedTileHashReader,
  leafHash,
} from '../../../src/tlog/index.js';
import { expectCode, expectRejectCode, leafData } from './helpers.js';

const key = (t: Tile): string => `${t.level}/${t.n}/${t.width}`;
const range = (n: number): number[] => [...Array(n).keys()];
const hexes = (hashes: Hash[]): string[] => hashes.map(toHex);

/** A log that keeps its tiles as the ledger does: it writes newTiles after every append. */
class TiledLog {
  readonly store = new MemoryHashStore();
  readonly tiles = new Map<string, Uint8Array>();
  constructor(readonly h: number) {}

  async append(): Promise<void> {
    const old = this.store.treeSize;
    this.store.append(leafData(old));
    for (const tile of newTiles(this.h, old, old + 1)) {
      const data = await readTileData(tile, this.store.readHashes);
      // A grown tile extends the one it replaces.
      const before = this.tiles.get(key({ ...tile, width: tile.width - 1 }));
      if (before) expect(toHex(data.subarray(0, before.length))).toBe(toHex(before));
      this.tiles.set(key(tile), data);
    }
  }

  readonly readTiles: TileReader = (tiles) =>
    tiles.map((t) => {
      const data = this.tiles.get(key(t));
      if (!data) throw new Error(`tile ${key(t)} not stored`);
      return data;
    });
}

/** A tile reader that zeroes the bytes stored hash `index` is computed from (Go's zeroIndex). */
function zeroIndex(log: TiledLog, index: number): TileReader {
  const t = tileForIndex(log.h, index);
  // The hash sits 2^(level mod h) bottom-row entries wide at the end of the minimal tile.
  const span = 2 ** (splitStoredHashIndex(index).level % log.h);
  return async (tiles) =>
    (await log.readTiles(tiles)).map((data, i) => {
      const tile = tiles[i]!;
      if (tile.level !== t.level || tile.n !== t.n || data.length < t.width * 32) return data;
      const copy = data.slice();
      copy.fill(0, (t.width - span) * 32, t.width * 32);
      return copy;
    });
}

describe('newTiles', () => {
  describe('when the tree grows (Go tlog TestNewTilesForSize, h = 10)', () => {
    it.each([
      [1, 1, 0],
      [100, 101, 1],
      [1023, 1025, 3],
      [1024, 1030, 1],
      [1030, 2000, 1],
      [1030, 10000, 10],
      [49516517, 49516586, 3],
    ])('%i → %i touches %i tiles', (from, to, count) => {
      expect(newTiles(10, from, to)).toHaveLength(count);
    });
  });

  describe('when a tree of size 70,000 is tiled from scratch (C2SP example)', () => {
    it('has 273 full and one partial level-0 tile, one full and one partial level-1 tile, one level-2 tile', () => {
      const tiles = newTiles(8, 0, 70000);
      const at = (level: number) => tiles.filter((t) => t.level === level);
      expect(at(0).filter((t) => t.width === 256)).toHaveLength(273);
      expect(at(0).filter((t) => t.width < 256).map((t) => t.width)).toEqual([112]);
      expect(at(1).map((t) => t.width)).toEqual([256, 17]);
      expect(at(2).map((t) => t.width)).toEqual([1]);
    });
  });
});

describe('tileHashReader and verifiedTileHashReader', () => {
  describe.each([2, 8])('when reading every tree of size 1..300 through tiles of height %i', (h) => {
    it('returns the same hashes, roots and proofs as direct storage', async () => {
      const log = new TiledLog(h);
      for (let size = 1; size <= 300; size++) {
        await log.append();
        const root = await treeHash(size, log.store.readHashes);
        const all = range(storedHashCount(size));
        const want = hexes(log.store.readHashes(all));
        const trusting = tileHashReader(size, h, log.readTiles);
        const verified = verifiedTileHashReader({ size, root }, h, log.readTiles);
        expect(hexes(await trusting(all))).toEqual(want);
        expect(hexes(await verified(all))).toEqual(want);
        const sample = h === 2 && size <= 100 ? all : all.filter((i) => i % 61 === size % 61 || i === all.length - 1);
        for (const i of sample) expect(toHex((await verified([i]))[0]!)).toBe(want[i]);
        expect(toHex(await treeHash(size, verified))).toBe(toHex(root));
        await checkProofsThroughTiles(log.store.readHashes, verified, size, root);
      }
      // Exhaustive over 300 tree sizes with the portable SHA-256: seconds alone, more on a busy machine.
    }, 180_000);
  });

  describe('when a tile is tampered with', () => {
    it('the verified reader throws PROOF_INVALID for every stored hash (h = 2, sizes 1..40)', async () => {
      const log = new TiledLog(2);
      for (let size = 1; size <= 40; size++) {
        await log.append();
        const root = await treeHash(size, log.store.readHashes);
        const all = range(storedHashCount(size));
        for (const i of all) {
          const reader = verifiedTileHashReader({ size, root }, 2, zeroIndex(log, i));
          await expectRejectCode(Promise.resolve(reader([i])), 'PROOF_INVALID');
          await expectRejectCode(Promise.resolve(reader(all)), 'PROOF_INVALID');
        }
      }
    });

    it('the verified reader throws PROOF_INVALID for a wrong root', async () => {
      const log = new TiledLog(8);
      for (let i = 0; i < 5; i++) await log.append();
      const reader = verifiedTileHashReader({ size: 5, root: leafHash(new Uint8Array(0)) }, 8, log.readTiles);
      await expectRejectCode(Promise.resolve(reader([0])), 'PROOF_INVALID');
    });
  });

  describe('when the store misbehaves or the index is outside the tree', () => {
    it('throws MALFORMED or NOT_FOUND', async () => {
      const log = new TiledLog(8);
      for (let i = 0; i < 5; i++) await log.append();
      const short: TileReader = (tiles) => tiles.map(() => new Uint8Array(31));
      const few: TileReader = () => [];
      await expectRejectCode(Promise.resolve(tileHashReader(5, 8, short)([0])), 'MALFORMED');
      await expectRejectCode(Promise.resolve(tileHashReader(5, 8, few)([0])), 'MALFORMED');
      await expectRejectCode(Promise.resolve(tileHashReader(5, 8, log.readTiles)([storedHashCount(5)])), 'NOT_FOUND');
      await expectRejectCode(Promise.resolve(tileHashReader(0, 8, log.readTiles)([0])), 'NOT_FOUND');
      expect(await tileHashReader(0, 8, log.readTiles)([])).toEqual([]);
    });
  });
});

async function checkProofsThroughTiles(direct: HashReader, tiles: HashReader, size: number, root: Hash): Promise<void> {
  for (const n of new Set([0, size >> 1, size - 1])) {
    const proof = await proveRecord(size, n, tiles);
    expect(hexes(proof)).toEqual(hexes(await proveRecord(size, n, direct)));
    checkRecord(proof, size, root, n, leafHash(leafData(n)));
    const old = n + 1;
    const consistency = await proveTree(size, old, tiles);
    checkTree(consistency, size, root, old, await treeHash(old, direct));
  }
}

describe('hashFromTile', () => {
  describe('when the index is not in the tile or the data is the wrong size', () => {
    it('throws MALFORMED', async () => {
      const log = new TiledLog(2);
      for (let i = 0; i < 8; i++) await log.append();
      const tile: Tile = { h: 2, level: 0, n: 0, width: 4 };
      const data = await readTileData(tile, log.store.readHashes);
      expect(toHex(hashFromTile(tile, data, 2))).toBe(toHex(log.store.readHashes([2])[0]!));
      expectCode(() => hashFromTile(tile, data, 7), 'MALFORMED');
      expectCode(() => hashFromTile(tile, data.subarray(0, 96), 0), 'MALFORMED');
      expectCode(() => hashFromTile({ ...tile, width: 5 }, data, 0), 'MALFORMED');
      expectCode(() => hashFromTile({ ...tile, level: -1 }, data, 0), 'MALFORMED');
    });
  });
});

describe('tilePath', () => {
  describe('when formatting the C2SP examples', () => {
    it('splits N into x-prefixed groups of three digits', () => {
      expect(tilePath({ h: 8, level: 1, n: 1234067, width: 8 })).toBe('tile/1/x001/x234/067.p/8');
      expect(tilePath({ h: 8, level: 0, n: 5, width: 256 })).toBe('tile/0/005');
      expect(tilePath({ h: 8, level: -1, n: 1234067, width: 256 })).toBe('tile/entries/x001/x234/067');
      expect(entriesPath(1000, 17)).toBe('tile/entries/x001/000.p/17');
      expect(entriesPath(0)).toBe('tile/entries/000');
    });
  });

  describe('when the tile is not a C2SP tile', () => {
    it('fails an internal assertion', () => {
      expect(() => tilePath({ h: 2, level: 0, n: 0, width: 4 })).toThrow(/invariant/);
      expect(() => tilePath({ h: 8, level: 0, n: 0, width: 0 })).toThrow(/invariant/);
    });
  });
});

describe('parseTilePath', () => {
  describe('when given well-formed paths', () => {
    it('parses the C2SP examples', () => {
      expect(parseTilePath('tile/1/x001/x234/067.p/8')).toEqual({ h: 8, level: 1, n: 1234067, width: 8 });
      expect(parseTilePath('tile/entries/x001/x234/067')).toEqual({ h: 8, level: -1, n: 1234067, width: 256 });
      expect(parseTilePath('tile/0/000.p/255')).toEqual({ h: 8, level: 0, n: 0, width: 255 });
    });

    it('round-trips every level, a range of indexes and every width', () => {
      for (const level of [-1, 0, 1, 2, 3]) {
        for (const n of [0, 1, 999, 1000, 1001, 999999, 1000000, 2 ** (44 - 8 * Math.max(level, 0)) - 1]) {
          for (const width of [1, 2, 100, 255, 256]) {
            const tile = { h: 8, level, n, width };
            expect(parseTilePath(tilePath(tile))).toEqual(tile);
          }
        }
      }
    });
  });

  describe('when given malformed paths', () => {
    it.each([
      '',
      'tile/0/5',
      'tile/0/0005',
      'tile/0/x005',
      'tile/0/001/002',
      'tile/0/x000/001',
      'tile/0/x001/x000',
      'tile/00/001',
      'tile/01/001',
      'tile/64/000',
      'tile/99/000',
      'tile/-1/001',
      'tile/data/001',
      'tile/0/001.p/0',
      'tile/0/001.p/256',
      'tile/0/001.p/01',
      'tile/0/001.p/',
      'tile/0/001.p',
      'tile/0/001.q/5',
      '/tile/0/001',
      'tile/0/001/',
      'Tile/0/001',
      ' tile/0/001',
      'tile/0/001\n',
      'tile/0/00a',
      'tile/entries/001.p/8/9',
      'tile/4/0/001',
      'tile/3/5/x123/x456/078',
      'tile/0/x017/x592/x186/x044/416',
      'tile/1/x068/x719/476/736',
      'tile/7/001',
      'tile/0/x999/x999/x999/x999/x999/x999/x999/999',
      `tile/0/${'x000/'.repeat(20)}001`,
    ])('rejects %j with MALFORMED', (path) => {
      expectCode(() => parseTilePath(path), 'MALFORMED');
    });
  });

  describe('when N is at the edge of the largest tree', () => {
    it('accepts the last level-0 tile below 2^52 entries', () => {
      expect(parseTilePath('tile/0/x017/x592/x186/x044/415').n).toBe(2 ** 44 - 1);
    });
  });
});
