/**
 * An in-memory log for the pure integrate(): the committed tree, the index, chain heads, hash
 * tiles and entry bundles in maps, read the way src/store reads JetStream (a partial tile or
 * bundle that is not stored is cut from the full one), and a writer that applies a plan in the
 * integrator's order and can stop after any number of writes, as a crash would.
 */
import type { IntegrationPlan, IntegrationReader, TreeState } from '../../../src/ledger/integrate.js';
import type { IndexEntry } from '../../../src/store/receipt-index.js';
import type { IntegratedChainHead } from '../../../src/store/chain-heads.js';
import type { QuarantinedReceipt } from '../../../src/store/quarantine.js';
import { TILE_WIDTH } from '../../../src/store/tile-store.js';
import { HASH_SIZE, TILE_HEIGHT, decodeEntryBundle, emptyHash, entriesPath, tileHashReader, tilePath, type Tile } from '../../../src/tlog/index.js';

/** Thrown by MemoryLog.apply when its write budget runs out. */
export class Crash extends Error {}

export class MemoryLog {
  state: TreeState = { size: 0, streamSeq: 0, root: emptyHash() };
  readonly index = new Map<string, IndexEntry>();
  readonly heads = new Map<string, IntegratedChainHead>();
  readonly tiles = new Map<string, Uint8Array>();
  readonly bundles = new Map<string, Uint8Array>();
  /** Quarantined messages by stream seq (a re-publish of the same seq replaces it, as Nats-Msg-Id dedups). */
  readonly quarantine = new Map<number, QuarantinedReceipt>();

  /** An independent copy, to crash one copy and keep the other. */
  clone(): MemoryLog {
    const copy = new MemoryLog();
    copy.state = this.state;
    this.index.forEach((v, k) => copy.index.set(k, v));
    this.heads.forEach((v, k) => copy.heads.set(k, v));
    this.tiles.forEach((v, k) => copy.tiles.set(k, v));
    this.bundles.forEach((v, k) => copy.bundles.set(k, v));
    this.quarantine.forEach((v, k) => copy.quarantine.set(k, v));
    return copy;
  }

  reader(): IntegrationReader {
    return {
      readHashes: tileHashReader(this.state.size, TILE_HEIGHT, (tiles) => tiles.map((t) => this.readTile(t))),
      readEntries: async (n, width) => {
        const data = this.bundles.get(entriesPath(n, width)) ?? this.bundles.get(entriesPath(n, TILE_WIDTH));
        if (!data) throw new Error(`no bundle ${entriesPath(n, width)}`);
        return decodeEntryBundle(data).slice(0, width);
      },
      readIndexEntry: async (id) => this.index.get(id),
      readChainHead: async (chain) => this.heads.get(chain),
    };
  }

  /**
   * Apply `plan` in the integrator's order (quarantine, index, chain heads, tiles, bundles,
   * state); with `budget`, throw Crash before write number budget + 1.
   */
  apply(plan: IntegrationPlan, budget = Infinity): void {
    let writes = 0;
    const write = (fn: () => void) => {
      if (writes === budget) throw new Crash(`crash after ${budget} writes`);
      writes += 1;
      fn();
    };
    for (const q of plan.quarantined) write(() => this.quarantine.set(q.seq, q));
    for (const { id, entry } of plan.indexEntries) write(() => this.index.set(id, entry));
    for (const { chain, head } of plan.chainHeads) write(() => this.heads.set(chain, head));
    for (const { tile, data } of plan.tiles) write(() => this.tiles.set(tilePath(tile), data));
    for (const { path, data } of plan.bundles) write(() => this.bundles.set(path, data));
    write(() => (this.state = plan.next));
  }

  private readTile(tile: Tile): Uint8Array {
    const data = this.tiles.get(tilePath(tile)) ?? this.tiles.get(tilePath({ ...tile, width: TILE_WIDTH }))?.subarray(0, tile.width * HASH_SIZE);
    if (!data) throw new Error(`no tile ${tilePath(tile)}`);
    return data;
  }
}

/** The number of writes apply() makes for `plan`. */
export function writesOf(plan: IntegrationPlan): number {
  return plan.quarantined.length + plan.indexEntries.length + plan.chainHeads.length + plan.tiles.length + plan.bundles.length + 1;
}

/** A plan as one string, bytes in hex: comparing two plans deeply byte by byte is slow. */
export function planText(plan: IntegrationPlan): string {
  return JSON.stringify(plan, (_key, value: unknown) => (value instanceof Uint8Array ? Buffer.from(value).toString('hex') : value), 1);
}
