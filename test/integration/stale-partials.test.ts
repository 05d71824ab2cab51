/**
 * Partial tiles a batch left without committing are not the log's. The ledger writes a batch's
 * tiles and bundles (`.p/W`) before it commits the batch; after a crash the batch may be
 * integrated again differently (the kernel trust changed in between), and the leftover partials
 * are never deleted. The verifier must not serve them, nor build a proof from them: it cuts a
 * partial tile from the full one or from the partial of the published size's width, and answers
 * /v1/consistency only to a checkpoint's size. Real nats-server; tiles written as the ledger
 * writes them (test/unit/store/log-fixture.ts), the leftovers written straight into the store.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { canonicalBytes } from '../../src/receipt/jcs.js';
import { TILE_WIDTH, TileStore } from '../../src/store/tile-store.js';
import {
  HASH_SIZE, MemoryHashStore, TILE_HEIGHT, checkTree, decodeEntryBundle, encodeEntryBundle, entriesPath, openCheckpoint, readTileData, tilePath, treeHash,
  type Checkpoint, type Tile,
} from '../../src/tlog/index.js';
import { fromBase64, toHex } from '../../src/encoding.js';
import { chainOf, kernelOf, signReceipt, draftOf } from '../unit/receipt/helpers.js';
import { GENESIS_PREV } from '../../src/receipt/receipt.js';
import { useTestStore } from '../unit/store/nats.js';
import { LogFixture } from '../unit/store/log-fixture.js';
import { ORIGIN, kernel, logKey, useVerifier } from '../unit/verifier/use-verifier.js';

const store = useTestStore();
const verifier = useVerifier(store);
// Empty tile caches: a verifier that reads the store after the tiles below are changed.
const lateVerifier = useVerifier(store);
const receipts = chainOf(7, kernel, 'a');
// A receipt of another kernel: admitted by the batch that crashed, refused when integrated again.
const foreign = signReceipt(draftOf(100), { chain: 'b', seq: 1, prev: GENESIS_PREV }, kernelOf(22, 'chio-kernel-b'));
const tile0 = (width: number): Tile => ({ h: TILE_HEIGHT, level: 0, n: 0, width });
const hex = (b: Uint8Array) => toHex(b);
const ids = (bundle: Uint8Array) => decodeEntryBundle(bundle).map((e) => (JSON.parse(new TextDecoder().decode(e)) as { id: string }).id);
const bytesOf = async (res: Response) => new Uint8Array(await res.arrayBuffer());

let real: MemoryHashStore;
let cp3: Checkpoint;
let cp7: Checkpoint;
let tiles: TileStore;

beforeAll(async () => {
  const log = new LogFixture(store);
  tiles = new TileStore(store.resources.tiles, store.resources.entries);
  await log.store(receipts);
  await log.integrate(3);
  cp3 = openCheckpoint(await log.publishCheckpoint(ORIGIN, logKey.signerKey), logKey.verifierKey);

  // The batch that crashed before its commit: leaves r0 r1 r2 | foreign r3 r4 r5, its partials
  // written at every width it passed (4, 5, 6), and one past the size committed later (8).
  const stale = [...receipts.slice(0, 3), foreign, ...receipts.slice(3, 7)].map((r) => canonicalBytes(r));
  const staleTree = new MemoryHashStore();
  for (const e of stale) staleTree.append(e);
  for (const width of [4, 5, 6, 8]) {
    await tiles.writeHashTile(tile0(width), await readTileData(tile0(width), staleTree.readHashes));
    await tiles.writeEntryBundle(entriesPath(0, width), encodeEntryBundle(stale.slice(0, width)));
  }

  // Integrated again without the foreign receipt: one batch 3 → 7 (it writes .p/7 only).
  await log.integrate(4);
  cp7 = openCheckpoint(await log.publishCheckpoint(ORIGIN, logKey.signerKey), logKey.verifierKey);
  real = new MemoryHashStore();
  for (const r of receipts) real.append(canonicalBytes(r));
  expect(hex(cp7.root)).toBe(hex(await treeHash(7, real.readHashes)));
});

describe('partial tiles left by a batch that never committed', () => {
  it('are in the store, wrong (the precondition)', async () => {
    expect(ids((await store.resources.entries.getBlob('tile/entries/000.p/6'))!)).toContain(foreign.id);
  });

  it('are not served: every width of the published tree is cut from the log\'s own tile', async () => {
    for (const width of [6, 5, 4, 7, 3, 1]) {
      const tile = await verifier.get(`/${tilePath(tile0(width))}`);
      expect(tile.status, `tile width ${width}`).toBe(200);
      expect(hex(await bytesOf(tile)), `tile width ${width}`).toBe(hex(await readTileData(tile0(width), real.readHashes)));
      const bundle = await verifier.get(`/${entriesPath(0, width)}`);
      expect(bundle.status, `bundle width ${width}`).toBe(200);
      expect(ids(await bytesOf(bundle)), `bundle width ${width}`).toEqual(receipts.slice(0, width).map((r) => r.id));
    }
    // Past the published tree: not served at all.
    expect((await verifier.get('/tile/0/000.p/8')).status).toBe(404);
    expect((await verifier.get('/tile/entries/000.p/8')).status).toBe(404);
  });

  it('/v1/consistency answers only to a checkpoint\'s size: 404 for 6, a proof that holds for 7', async () => {
    const to6 = await verifier.get('/v1/consistency?old=3&new=6');
    expect(to6.status).toBe(404);
    expect(to6.headers.get('cache-control')).toBe('no-store');
    expect(((await to6.json()) as { code: string }).code).toBe('NOT_FOUND');
    for (const old of [cp3.size, 4, 6]) {
      const res = await verifier.get(`/v1/consistency?old=${old}&new=${cp7.size}`);
      expect(res.status, `old=${old}`).toBe(200);
      expect(res.headers.get('cache-control'), `old=${old}`).toContain('immutable');
      const proof = ((await res.json()) as { proof: string[] }).proof.map(fromBase64);
      const oldRoot = old === cp3.size ? cp3.root : await treeHash(old, real.readHashes);
      expect(() => checkTree(proof, cp7.size, cp7.root, old, oldRoot), `old=${old}`).not.toThrow();
    }
  });

  it('when the published size\'s partial is gone too: 503 until the full tile is there, then cut from it', async () => {
    // The ledger completed the tile and deleted .p/7 between a verifier's reads; here the full
    // tile comes after the delete, so a verifier sees neither for a moment, and only the stale
    // partials of other widths.
    const saved = { tile: (await store.resources.tiles.get(tilePath(tile0(7))))!.value, bundle: (await store.resources.entries.getBlob(entriesPath(0, 7)))! };
    await tiles.deletePartial(tilePath(tile0(7)));
    await tiles.deletePartial(entriesPath(0, 7));
    for (const path of ['/tile/0/000.p/6', '/tile/entries/000.p/6', '/tile/0/000.p/7']) {
      const res = await lateVerifier.get(path);
      expect(res.status, path).toBe(503);
      expect(res.headers.get('retry-after'), path).toBe('1');
      expect(res.headers.get('cache-control'), path).toBe('no-store');
    }
    // The full tile and bundle (only their first 7 entries matter here).
    const full = new Uint8Array(TILE_WIDTH * HASH_SIZE).fill(9);
    full.set(saved.tile);
    await store.resources.tiles.put(tilePath(tile0(TILE_WIDTH)), full);
    const fullBundle = [...decodeEntryBundle(saved.bundle), ...Array.from({ length: TILE_WIDTH - 7 }, (_, i) => new TextEncoder().encode(`later ${i}`))];
    await store.resources.entries.putBlob({ name: entriesPath(0, TILE_WIDTH) }, encodeEntryBundle(fullBundle));
    const tile = await lateVerifier.get('/tile/0/000.p/6');
    expect(tile.status).toBe(200);
    expect(hex(await bytesOf(tile))).toBe(hex(await readTileData(tile0(6), real.readHashes)));
    const bundle = await lateVerifier.get('/tile/entries/000.p/6');
    expect(bundle.status).toBe(200);
    expect(ids(await bytesOf(bundle))).toEqual(receipts.slice(0, 6).map((r) => r.id));
  });
});
