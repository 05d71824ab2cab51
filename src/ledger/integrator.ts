/**
 * The integrator: plans each batch with the pure `integrate` (integrate.ts) and applies the
 * plan to JetStream, per batch in this order, so that a crash at any point is repaired by
 * integrating the same messages again (the ledger resumes from the committed state):
 *   1. quarantine   refused receipts, with the reason (once per message: Nats-Msg-Id)
 *   2. index        id → {index, seq}, and corrected_by on a receipt a correction names
 *                   (an entry at index ≥ state.size is from an unfinished batch)
 *   3. chains       chain → head
 *   4. tiles        hash tiles, then entry bundles, for the new leaves
 *   5. state        {size, streamSeq}    (the commit point: the tree now has `size` leaves)
 * Re-integration is deterministic, so it writes the same bytes to the same paths.
 */
import type { KV } from '@nats-io/kv';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { ChioError } from '../errors/index.js';
import { createNodeSignatureCheck } from '../crypto/ed25519.js';
import { treeHash, type Hash } from '../tlog/index.js';
import { integrationBatchDuration, receiptsDuplicateTotal, receiptsIntegratedTotal, receiptsQuarantinedTotal, treeSize } from '../metrics.js';
import { TILE_WIDTH, type TileStore } from '../store/tile-store.js';
import { readLedgerState, writeLedgerState, type LedgerState } from '../store/ledger-state.js';
import { readIndexEntry, writeIndexEntry } from '../store/receipt-index.js';
import { readChainHead, writeChainHead, type IntegratedChainHead } from '../store/chain-heads.js';
import { quarantineReceipt } from '../store/quarantine.js';
import type { StoredMessage } from '../store/receipts.js';
import { integrate, type IntegrationChecks, type IntegrationPlan, type IntegrationReader, type TreeState } from './integrate.js';

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
  private readonly checks: IntegrationChecks;
  private tree: TreeState | undefined;
  /** Heads of committed batches, so each batch does not read every chain's head again. */
  private readonly heads = new Map<string, IntegratedChainHead>();
  /** Set when a batch failed: memory may be ahead of the committed state until open() again. */
  private dirty = true;

  constructor(opts: IntegratorOptions) {
    this.opts = opts;
    // A Node service: node:crypto verifies ten times faster than the portable @noble default.
    this.checks = { kernelKeys: opts.kernelKeys, checkSignature: createNodeSignatureCheck() };
  }

  /** Load the committed state; call once before integrating. */
  async open(): Promise<LedgerState> {
    this.heads.clear();
    const state = await readLedgerState(this.opts.ledger);
    const { tiles } = this.opts;
    const root = await treeHash(state.size, tiles.hashReader(state.size));
    // The next batch extends the partial entry bundle: refuse to start without it.
    if (state.size % TILE_WIDTH !== 0) await tiles.readEntries(Math.floor(state.size / TILE_WIDTH), state.size % TILE_WIDTH);
    this.tree = { ...state, root };
    this.dirty = false;
    treeSize.set(state.size);
    return state;
  }

  get size(): number {
    return this.tree?.size ?? 0;
  }

  get streamSeq(): number {
    return this.tree?.streamSeq ?? 0;
  }

  /** Root hash of the committed tree. */
  get root(): Hash {
    if (!this.tree) throw new ChioError('INTERNAL', 'integrator is not open');
    return this.tree.root;
  }

  /**
   * Integrate a batch of stored messages in stream order; returns the new tree size. After a
   * failure the integrator refuses to go on until open() has re-read the committed state.
   */
  async integrate(batch: readonly StoredMessage[]): Promise<number> {
    if (this.dirty || !this.tree) throw new ChioError('INTERNAL', 'integrator must be opened (again) before integrating');
    const endTimer = integrationBatchDuration.startTimer();
    try {
      const plan = await integrate(this.tree, batch, this.reader(this.tree.size), this.checks);
      await this.apply(plan);
      // Size and root change together, so a checkpoint never pairs one with the other's past.
      this.tree = plan.next;
      for (const { chain, head } of plan.chainHeads) this.heads.set(chain, head);
      receiptsIntegratedTotal.inc(plan.leaves.length);
      treeSize.set(plan.next.size);
      endTimer();
      return plan.next.size;
    } catch (err) {
      this.dirty = true;
      throw err;
    }
  }

  private reader(size: number): IntegrationReader {
    const { index, chains, tiles } = this.opts;
    return {
      readHashes: tiles.hashReader(size),
      readEntries: (n, width) => tiles.readEntries(n, width),
      readIndexEntry: (id) => readIndexEntry(index, id),
      readChainHead: async (chain) => this.heads.get(chain) ?? (await readChainHead(chains, chain)),
    };
  }

  /** Write the plan in the crash-safe order of the file comment; the state write commits it. */
  private async apply(plan: IntegrationPlan): Promise<void> {
    const { js, index, chains, ledger, tiles, log } = this.opts;
    receiptsDuplicateTotal.inc(plan.duplicates.length);
    for (const q of plan.quarantined) {
      receiptsQuarantinedTotal.inc({ code: q.code });
      log.warn({ stream_seq: q.seq, code: q.code, reason: q.reason }, 'receipt quarantined');
      await quarantineReceipt(js, q);
    }
    await Promise.all(plan.indexEntries.map(({ id, entry }) => writeIndexEntry(index, id, entry)));
    await Promise.all(plan.chainHeads.map(({ chain, head }) => writeChainHead(chains, chain, head)));
    for (const { tile, data } of plan.tiles) await tiles.writeHashTile(tile, data);
    for (const { path, data } of plan.bundles) await tiles.writeEntryBundle(path, data);
    if (plan.next.streamSeq !== this.tree?.streamSeq) await writeLedgerState(ledger, plan.next);
  }
}
