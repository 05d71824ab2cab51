/**
 * A batch that did not commit may have crossed a tile boundary and stored a full tile and entry
 * bundle of leaves that integrating it again (under another trust set) does not give. The
 * verifier serves a tile not full in the published tree from the partial that tree's commit
 * wrote, never from such a full tile (found by a review; the first version read the full tile
 * first).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { canonicalBytes } from '../../../src/receipt/jcs.js';
import { TILE_WIDTH, TileStore } from '../../../src/store/tile-store.js';
import { MemoryHashStore, TILE_HEIGHT, encodeEntryBundle, entriesPath, readTileData, type Tile } from '../../../src/tlog/index.js';
import { toHex } from '../../../src/encoding.js';
import { chainOf, kernelOf, signReceipt, draftOf } from '../receipt/helpers.js';
import { GENESIS_PREV } from '../../../src/receipt/receipt.js';
import { useTestStore } from '../store/nats.js';
import { LogFixture } from '../store/log-fixture.js';
import { ORIGIN, kernel, logKey, useVerifier } from './use-verifier.js';

const store = useTestStore();
const verifier = useVerifier(store);
const receipts = chainOf(7, kernel, 'a');
const foreign = signReceipt(draftOf(100), { chain: 'b', seq: 1, prev: GENESIS_PREV }, kernelOf(22, 'chio-kernel-b'));
const tile0 = (width: number): Tile => ({ h: TILE_HEIGHT, level: 0, n: 0, width });
const real = new MemoryHashStore();

beforeAll(async () => {
  const log = new LogFixture(store);
  const tiles = new TileStore(store.resources.tiles, store.resources.entries);
  await log.store(receipts);
  // The uncommitted batch: foreign first, then 255 more leaves, so it wrote the full tile 0.
  const stale = [foreign, ...receipts].map((r) => canonicalBytes(r));
  while (stale.length < TILE_WIDTH) stale.push(new TextEncoder().encode(`filler ${stale.length}`));
  const staleTree = new MemoryHashStore();
  for (const e of stale) staleTree.append(e);
  await tiles.writeHashTile(tile0(TILE_WIDTH), await readTileData(tile0(TILE_WIDTH), staleTree.readHashes));
  await tiles.writeEntryBundle(entriesPath(0, TILE_WIDTH), encodeEntryBundle(stale));
  // Integrated again without the foreign receipt: 7 leaves, .p/7 written, checkpoint 7.
  await log.integrate(7);
  await log.publishCheckpoint(ORIGIN, logKey.signerKey);
  for (const r of receipts) real.append(canonicalBytes(r));
});

describe('a full tile left by a batch that did not commit', () => {
  it('is not served for the published size\'s width (its .p/7 is the log\'s)', async () => {
    const res = await verifier.get('/tile/0/000.p/7');
    expect(res.status).toBe(200);
    expect(toHex(new Uint8Array(await res.arrayBuffer()))).toBe(toHex(await readTileData(tile0(7), real.readHashes)));
  });
  it('nor its entry bundle', async () => {
    const res = await verifier.get('/tile/entries/000.p/7');
    expect(res.status).toBe(200);
    expect(new TextDecoder().decode(new Uint8Array(await res.arrayBuffer()))).not.toContain(foreign.id);
  });
});
