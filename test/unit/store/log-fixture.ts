/**
 * A log written straight through the src/store functions, laid out as the ledger lays it out
 * but computed with src/tlog alone, so that tests of the checkpointer and the verifier do not
 * depend on the ledger's integrator: store receipts, integrate some of them (index, tiles,
 * bundles, state), publish a signed checkpoint of the integrated tree.
 */
import type { Receipt } from '../../../src/receipt/receipt.js';
import { canonicalBytes } from '../../../src/receipt/jcs.js';
import { receiptSubject } from '../../../src/store/resources.js';
import { writeIndexEntry } from '../../../src/store/receipt-index.js';
import { writeLedgerState } from '../../../src/store/ledger-state.js';
import { appendCheckpoint, readLatestCheckpoint } from '../../../src/store/checkpoints.js';
import { TILE_WIDTH, TileStore } from '../../../src/store/tile-store.js';
import {
  MemoryHashStore, TILE_HEIGHT, encodeEntryBundle, entriesPath, newTiles, readTileData, signCheckpoint, treeHash, type Hash,
} from '../../../src/tlog/index.js';
import type { StoreContext } from './nats.js';

export class LogFixture {
  readonly tiles: TileStore;
  private readonly hashes = new MemoryHashStore();
  private readonly entries: Uint8Array[] = [];
  /** Stored receipts with their stream sequences, in stream order. */
  readonly stored: Array<{ receipt: Receipt; seq: number }> = [];

  constructor(private readonly ctx: StoreContext) {
    this.tiles = new TileStore(ctx.resources.tiles, ctx.resources.entries);
  }

  get size(): number {
    return this.entries.length;
  }

  /** Store receipts in the receipts stream, as a chain writer does. */
  async store(receipts: readonly Receipt[]): Promise<void> {
    for (const receipt of receipts) {
      const ack = await this.ctx.js.publish(receiptSubject(receipt.chain), canonicalBytes(receipt), { msgID: receipt.id });
      this.stored.push({ receipt, seq: ack.seq });
    }
  }

  /**
   * Integrate the next `count` stored receipts: index entries (a correction's target gains
   * corrected_by, unchecked), tiles, bundles, then the state.
   */
  async integrate(count: number): Promise<void> {
    const oldSize = this.size;
    for (const { receipt, seq } of this.stored.slice(oldSize, oldSize + count)) {
      const bytes = canonicalBytes(receipt);
      await writeIndexEntry(this.ctx.resources.index, receipt.id, { index: this.size, seq });
      const target = receipt.corrects !== undefined ? this.stored.findIndex((s) => s.receipt.id === receipt.corrects) : -1;
      if (target >= 0) await writeIndexEntry(this.ctx.resources.index, receipt.corrects!, { index: target, seq: this.stored[target]!.seq, corrected_by: receipt.id });
      this.hashes.append(bytes);
      this.entries.push(bytes);
    }
    await this.writeTiles(oldSize, this.size);
    await writeLedgerState(this.ctx.resources.ledger, { size: this.size, streamSeq: this.stored[this.size - 1]?.seq ?? 0 });
  }

  /** Append raw entries as leaves, writing only tiles and bundles: a tree without receipts. */
  async writeEntries(entries: readonly Uint8Array[]): Promise<void> {
    const oldSize = this.size;
    for (const e of entries) {
      this.hashes.append(e);
      this.entries.push(e);
    }
    await this.writeTiles(oldSize, this.size);
  }

  async root(size = this.size): Promise<Hash> {
    return treeHash(size, this.hashes.readHashes);
  }

  /** Sign and append a checkpoint of the tree (of `size` leaves, `root` unless given). */
  async publishCheckpoint(origin: string, signerKey: string, size = this.size, root?: Hash): Promise<string> {
    const note = signCheckpoint({ origin, size, root: root ?? (await this.root(size)) }, signerKey);
    await appendCheckpoint(this.ctx.js, note, (await readLatestCheckpoint(this.ctx.jsm))?.streamSeq ?? 0);
    return note;
  }

  private async writeTiles(oldSize: number, newSize: number): Promise<void> {
    for (const tile of newTiles(TILE_HEIGHT, oldSize, newSize)) await this.tiles.writeHashTile(tile, await readTileData(tile, this.hashes.readHashes));
    for (let n = Math.floor(oldSize / TILE_WIDTH); n * TILE_WIDTH < newSize; n++) {
      const bundle = this.entries.slice(n * TILE_WIDTH, (n + 1) * TILE_WIDTH);
      await this.tiles.writeEntryBundle(entriesPath(n, bundle.length), encodeEntryBundle(bundle));
    }
  }
}
