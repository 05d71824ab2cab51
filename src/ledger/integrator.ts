/**
 * Integration: stored receipts → leaves (SPEC §6). The tree is a function of the receipts
 * stream that anyone can recompute: leaves are the stream's receipts in stream order, skipping
 * the ones that fail a check (quarantined with the reason) and duplicates (same id).
 *
 * Per batch, in this order, so that a crash at any point is repaired by integrating the same
 * messages again (they are acked only at the end):
 *   1. index   id → {index, seq}      (an entry at index ≥ state.size is from an unfinished batch)
 *   2. chains  chain → head
 *   3. tiles   hash tiles and entry bundles for the new leaves
 *   4. state   {size, streamSeq}       (the commit point: the tree now has `size` leaves)
 * Re-integration is deterministic, so it writes the same bytes to the same paths.
 */
import type { KV } from '@nats-io/kv';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { ChioError, isChioError } from '../errors/index.js';
import { verifyReceiptBytes, checkChainLink, type ChainHead } from '../receipt/verify.js';
import { createNodeSignatureCheck } from '../crypto/ed25519.js';
import type { Receipt } from '../receipt/receipt.js';
import { TILE_HEIGHT, storedHashes, storedHashIndex, treeHash, newTiles, readTileData, type Hash, type HashReader } from '../tlog/index.js';
import { quarantineReceipt } from '../store/quarantine.js';
import { readLedgerState, writeLedgerState, type LedgerState } from '../store/ledger-state.js';
import { readIndexEntry, writeIndexEntry, type IndexEntry } from '../store/receipt-index.js';
import { readChainHead, writeChainHead } from '../store/chain-heads.js';
import type { StoredMessage } from '../store/receipts.js';
import { receiptsDuplicateTotal, receiptsIntegratedTotal, receiptsQuarantinedTotal, treeSize } from '../metrics.js';
import type { TileStore } from '../store/tile-store.js';
import { EntryBundles } from './entry-bundles.js';

interface Leaf {
  receipt: Receipt;
  bytes: Uint8Array;
  index: number;
  seq: number;
}

export interface IntegratorOptions {
  js: JetStreamClient;
  index: KV;
  chains: KV;
  ledger: KV;
  tiles: TileStore;
  kernelKeys: readonly string[];
  log: Logger;
}

export class Integrator {
  private readonly opts: IntegratorOptions;
  private state: LedgerState = { size: 0, streamSeq: 0 };
  private readonly heads = new Map<string, ChainHead & { index: number }>();
  private bundles!: EntryBundles;
  private rootHash: Hash | undefined;
  /** Set when a batch failed: memory may be ahead of the committed state until open() again. */
  private dirty = true;
  // A Node service: node:crypto verifies ten times faster than the portable @noble default.
  private readonly checkSignature = createNodeSignatureCheck();

  constructor(opts: IntegratorOptions) {
    this.opts = opts;
  }

  /** Load the committed state; call once before integrating. */
  async open(): Promise<LedgerState> {
    this.heads.clear();
    const state = await readLedgerState(this.opts.ledger);
    this.bundles = await EntryBundles.open(this.opts.tiles, state.size);
    const root = await treeHash(state.size, this.opts.tiles.hashReader(state.size));
    this.state = state;
    this.rootHash = root;
    this.dirty = false;
    treeSize.set(state.size);
    return { ...this.state };
  }

  get size(): number {
    return this.state.size;
  }

  get streamSeq(): number {
    return this.state.streamSeq;
  }

  /** Root hash of the committed tree. */
  get root(): Hash {
    if (!this.rootHash) throw new ChioError('INTERNAL', 'integrator is not open');
    return this.rootHash;
  }

  /**
   * Integrate a batch of stored messages in stream order; returns the new tree size. After a
   * failure the integrator refuses to go on until open() has re-read the committed state.
   */
  async integrate(batch: readonly StoredMessage[]): Promise<number> {
    if (this.dirty) throw new ChioError('INTERNAL', 'integrator must be opened (again) before integrating');
    try {
      return await this.integrateBatch(batch);
    } catch (err) {
      this.dirty = true;
      throw err;
    }
  }

  private async integrateBatch(batch: readonly StoredMessage[]): Promise<number> {
    const fresh = batch.filter((m) => m.seq > this.state.streamSeq);
    if (fresh.length === 0) return this.state.size;
    // Stream sequences have no gaps (no deletes, no limits): a gap means we would build
    // another tree than the stream's, so refuse and let the caller resume from the state.
    fresh.forEach((m, i) => {
      const expected = this.state.streamSeq + 1 + i;
      if (m.seq !== expected) throw new ChioError('INTERNAL', `stream sequence ${m.seq} where ${expected} was expected`);
    });
    const leaves = await this.admit(fresh);
    await Promise.all(leaves.map((l) => writeIndexEntry(this.opts.index, l.receipt.id, { index: l.index, seq: l.seq })));
    await this.saveHeads(leaves);
    const newSize = this.state.size + leaves.length;
    let root = this.root;
    if (leaves.length > 0) {
      await this.writeTiles(leaves, newSize);
      root = await treeHash(newSize, this.opts.tiles.hashReader(newSize));
    }
    const next: LedgerState = { size: newSize, streamSeq: fresh[fresh.length - 1]!.seq };
    await writeLedgerState(this.opts.ledger, next);
    // Size and root change together, so a checkpoint never pairs one with the other's past.
    this.state = next;
    this.rootHash = root;
    receiptsIntegratedTotal.inc(leaves.length);
    treeSize.set(newSize);
    return newSize;
  }

  /** Check each message; returns the ones that become leaves, with their indexes. */
  private async admit(messages: readonly StoredMessage[]): Promise<Leaf[]> {
    const leaves: Leaf[] = [];
    const seenInBatch = new Set<string>();
    for (const m of messages) {
      const index = this.state.size + leaves.length;
      let receipt: Receipt;
      try {
        receipt = verifyReceiptBytes(m.data, this.opts.kernelKeys, this.checkSignature);
      } catch (err) {
        await this.quarantine(m, undefined, err);
        continue;
      }
      const known = seenInBatch.has(receipt.id) ? { index: -1, seq: 0 } : await this.lookup(receipt.id);
      if (known && known.index < this.state.size) {
        receiptsDuplicateTotal.inc();
        continue;
      }
      // An index entry at or past the committed size comes from a batch that did not finish:
      // this receipt passed every check then, at this very index, so its chain link holds.
      const replayed = known !== undefined && known.index === index;
      try {
        if (!replayed) checkChainLink(await this.headOf(receipt.chain), receipt);
      } catch (err) {
        await this.quarantine(m, receipt.chain, err);
        continue;
      }
      seenInBatch.add(receipt.id);
      this.heads.set(receipt.chain, { seq: receipt.seq, id: receipt.id, index });
      leaves.push({ receipt, bytes: m.data, index, seq: m.seq });
    }
    return leaves;
  }

  private async lookup(id: string): Promise<IndexEntry | undefined> {
    return readIndexEntry(this.opts.index, id);
  }

  private async headOf(chain: string): Promise<ChainHead | undefined> {
    const cached = this.heads.get(chain);
    if (cached) return cached;
    const head = await readChainHead(this.opts.chains, chain);
    if (!head) return undefined;
    this.heads.set(chain, head);
    return head;
  }

  private async saveHeads(leaves: readonly Leaf[]): Promise<void> {
    const chains = new Set(leaves.map((l) => l.receipt.chain));
    await Promise.all([...chains].map((c) => writeChainHead(this.opts.chains, c, this.heads.get(c)!)));
  }

  private async writeTiles(leaves: readonly Leaf[], newSize: number): Promise<void> {
    const oldSize = this.state.size;
    // Hashes made in this batch, by stored-hash index; older ones come from the tiles.
    const made = new Map<number, Hash>();
    const fromTiles = this.opts.tiles.hashReader(oldSize);
    const reader: HashReader = async (indexes) => {
      const missing = indexes.filter((i) => !made.has(i));
      const read = missing.length > 0 ? await fromTiles(missing) : [];
      const byIndex = new Map(missing.map((i, k) => [i, read[k]!]));
      return indexes.map((i) => made.get(i) ?? byIndex.get(i)!);
    };
    for (const leaf of leaves) {
      const hashes = await storedHashes(leaf.index, leaf.bytes, reader);
      const first = storedHashIndex(0, leaf.index);
      hashes.forEach((h, k) => made.set(first + k, h));
    }
    for (const tile of newTiles(TILE_HEIGHT, oldSize, newSize)) {
      await this.opts.tiles.writeHashTile(tile, await readTileData(tile, reader));
    }
    await this.bundles.append(leaves.map((l) => l.bytes));
  }

  private async quarantine(m: StoredMessage, chain: string | undefined, err: unknown): Promise<void> {
    const code = isChioError(err) ? err.code : 'INTERNAL';
    const reason = err instanceof Error ? err.message : String(err);
    receiptsQuarantinedTotal.inc({ code });
    this.opts.log.warn({ stream_seq: m.seq, code, reason }, 'receipt quarantined');
    await quarantineReceipt(this.opts.js, { seq: m.seq, data: m.data, chain, code, reason });
  }
}
