/**
 * The integrator: plans each batch with the pure `integrate` (integrate.ts) and applies the
 * plan to JetStream, per batch in this order, so that a crash at any point is repaired by
 * integrating the same messages again (the ledger resumes from the committed state):
 *   1. quarantine   refused receipts, with the reason: one write per refused message, once (the quarantine mark)
 *   2. index        id → {index, seq}, and corrected_by on a receipt a correction names
 *                   (an entry at index ≥ state.size is from an unfinished batch)
 *   3. chains       chain → head, with the committed head it extends (its base)
 *   4. tiles        hash tiles and entry bundles for the new leaves, all at once
 *   5. state        {size, streamSeq}    (the commit point: the tree now has `size` leaves)
 *   6. partials     partial tiles and bundles whose full one step 4 stored are deleted (partial-tiles.ts)
 * Re-integration is deterministic for one trust set, so it writes the same bytes to the same
 * paths. The trust set may change in between (kernels.yaml), and then the same messages give
 * other leaves: so a head counts only when the leaf at its index is its receipt, else the base
 * it records (committedHead); an index entry at or past the committed size is rewritten by the
 * batch that integrates its receipt (one of a receipt refused this time stays, and the verifier
 * answers 404 for it: the leaf at its index is another's); and the verifier reads tiles only as
 * a committed size has them (tile-store.ts). A receipt
 * refused for its chain link is quarantined only once fresh reads confirm it (confirmRefusals).
 *
 * Fencing (one writer at a time, src/store/ledger-lease.ts): the commit is a revision-checked
 * write of the lease record, and so is every write that changes a record a later batch may
 * have changed already — index entries and chain heads at the revision the plan read them at,
 * new index entries created only where none is, quarantine at the stream's last sequence (and
 * only once the lease, read again, is still its own: see apply). A
 * revision read after the new holder wrote passes that check, so a record written past this
 * ledger's committed state (an index entry, a chain head) is replaced only once the lease, read
 * again, is still its own. Tiles and bundles, written over whatever their paths hold, are
 * written only once the lease, read again, is still its own: under another trust set than the
 * new holder's, a paused ledger's leaves differ from the new holder's committed ones, and a
 * receipt the new holder refused leaves no record above to fence on. What is left is the
 * moment between that read and the writes.
 */
import type { KV } from '@nats-io/kv';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { ChioError } from '../errors/index.js';
import { createNodeSignatureCheck } from '../crypto/ed25519.js';
import { SignatureCheckPool, type SignatureToCheck } from '../crypto/ed25519-pool.js';
import { claimedSignedBody } from '../receipt/verify.js';
import { receiptLinesOf } from '../store/receipt-message.js';
import { sha256Hex, sha256Node } from '../crypto/sha256.js';
import { tilePath, treeHash, type Hash } from '../tlog/index.js';
import { integrationBatchDuration, receiptsDuplicateTotal, receiptsIntegratedTotal, receiptsQuarantinedTotal, treeSize } from '../metrics.js';
import { TILE_WIDTH, type TileStore } from '../store/tile-store.js';
import { isWrongLastSequence, type LedgerState } from '../store/ledger-state.js';
import type { LedgerLease } from '../store/ledger-lease.js';
import { readIndexRecord, writeIndexEntry, type IndexEntry } from '../store/receipt-index.js';
import { readChainHeadRecord, writeChainHead, type ChainHeadRecord, type IntegratedChainHead } from '../store/chain-heads.js';
import { byMessage, isBeforeMark, quarantineMessage, readQuarantineMark, type QuarantineMark, type QuarantinedReceipt } from '../store/quarantine.js';
import type { StoredMessage } from '../store/receipts.js';
import { readCommittedLeaf } from './correction-link.js';
import { RefusedLinks } from './refused-links.js';
import { PartialTiles } from './partial-tiles.js';
import { integrate, sameSignedBody, type IntegrationChecks, type IntegrationPlan, type IntegrationReader, type TreeState } from './integrate.js';

export interface IntegratorOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  index: KV;
  chains: KV;
  /** The writer lease; its record is the commit point. */
  lease: LedgerLease;
  tiles: TileStore;
  /** The trust in force; a function when it changes (a kernel key rotation), read once per batch. */
  kernelKeys: IntegrationChecks['kernelKeys'] | (() => IntegrationChecks['kernelKeys']);
  log: Logger;
  /** How long a chain-link refusal must hold on fresh reads before it quarantines; default DEFAULT_BREAK_CONFIRM_MS. */
  breakConfirmMs?: number;
  /** Monotonic milliseconds (performance.now by default). */
  now?: () => number;
  /** Worker threads that check signatures beside this one (ed25519-pool.ts); 0 or absent: this thread only. */
  verifyThreads?: number;
}

/**
 * A receipt that passed every check but its chain link (or its correction's target) is
 * quarantined only when fresh reads of the chain heads and index still refuse it this long
 * after the first refusal. Quarantine is for good, and those checks are the only ones that read
 * the store: on a JetStream cluster a bucket's new leader can answer from behind for a moment
 * after a failover, and a valid receipt must not be lost to that.
 */
export const DEFAULT_BREAK_CONFIRM_MS = 5_000;

/** Refusals that read the store (chain heads, index) and are confirmed before they quarantine. */
const READ_DEPENDENT_CODES: ReadonlySet<string> = new Set(['CHAIN_BROKEN', 'CORRECTION_INVALID']);

export class Integrator {
  private readonly opts: IntegratorOptions;
  private readonly checks: IntegrationChecks;
  private readonly pool: SignatureCheckPool | undefined;
  private tree: TreeState | undefined;
  /** Heads of committed batches and their KV revisions, so each batch does not read every chain's head again. */
  /** `ahead`: the stored record was written past this ledger's committed state (see apply). */
  private readonly heads = new Map<string, ChainHeadRecord & { ahead?: boolean }>();
  /** Revisions of the index entries the batch being planned read. */
  private indexRevisions = new Map<string, number>();
  private quarantineMark: QuarantineMark = { lastSeq: 0, receiptSeq: 0, receiptLine: 0 };
  /** Partial tiles and bundles stored (as far as this process knows). */
  private readonly partials = new PartialTiles();
  /** Set when a batch failed: memory may be ahead of the committed state until open() again. */
  private dirty = true;
  /** Chain-link refusals not yet confirmed, by "seq:line", with when each was first seen. */
  private readonly unconfirmed = new Map<string, number>();
  /** Receipts committed batches refused for their chain link: the ones chained after them need no confirmation. */
  private readonly refused = new RefusedLinks();

  constructor(opts: IntegratorOptions) {
    this.opts = opts;
    // A Node service: node:crypto verifies ten times faster than the portable @noble default.
    const pause = yieldEvery(PAUSE_AFTER_MS);
    this.checks = { kernelKeys: trustNow(opts.kernelKeys), checkSignature: createNodeSignatureCheck(), receiptId: sha256Hex, sha256: sha256Node, pause, refusedLink: (id) => this.refused.has(id) };
    if (opts.verifyThreads) {
      const pool = new SignatureCheckPool(opts.verifyThreads, pause);
      this.pool = pool;
      this.checks.checkSignatures = (batch) => pool.check(batch);
    }
  }

  /**
   * Start checking the signatures of `batch` on the worker threads (when there are any), so
   * that they are checked while the batch before it is written; integrate(batch) then uses
   * those answers. Nothing is decided here.
   */
  async checkAhead(batch: readonly StoredMessage[]): Promise<void> {
    const pool = this.pool;
    if (!pool) return;
    // Read in slices, between pauses: in `chio up` this event loop also answers Checks.
    let slice: SignatureToCheck[] = [];
    let last: SignatureToCheck | undefined;
    for (const m of batch) {
      const read = receiptLinesOf(m.data);
      for (const data of 'lines' in read ? read.lines : []) {
        const paused = this.checks.pause?.();
        if (paused) await paused;
        const claimed = claimedSignedBody(data, this.checks.kernelKeys, this.checks.sha256);
        // The receipts of a batch follow one another and share one check: asked once.
        if (claimed && !(last && sameSignedBody(last, claimed))) slice.push(claimed);
        last = claimed ?? last;
        if (slice.length >= TILE_WIDTH) {
          pool.checkAhead(slice);
          slice = [];
        }
      }
    }
    pool.checkAhead(slice);
  }

  /** Stop the signature check threads, if any. */
  async close(): Promise<void> {
    await this.pool?.close();
  }

  /** Load the committed state of the lease this ledger holds; call before integrating. */
  async open(): Promise<LedgerState> {
    const { lease, tiles, jsm } = this.opts;
    if (!lease.isHeld) throw new ChioError('LEDGER_FENCED', 'this ledger does not hold the writer lease');
    this.heads.clear();
    // Tiles in memory may be a failed batch's, since replaced by another writer's committed ones.
    tiles.forgetCached();
    const state = lease.state;
    // Another ledger wrote since this one's last commit: it may have made a receipt this one
    // refused a leaf (stored again), so what this one remembers as refused no longer holds.
    if (this.tree === undefined || this.tree.size !== state.size || this.tree.streamSeq !== state.streamSeq) this.refused.clear();
    const root = await treeHash(state.size, tiles.hashReader(state.size));
    // The next batch extends the partial entry bundle: refuse to start without it.
    if (state.size % TILE_WIDTH !== 0) await tiles.readEntries(Math.floor(state.size / TILE_WIDTH), state.size % TILE_WIDTH);
    this.quarantineMark = await readQuarantineMark(jsm);
    this.partials.reset(state.size);
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
      this.indexRevisions = new Map();
      this.checks.kernelKeys = trustNow(this.opts.kernelKeys);
      const plan = await integrate(this.tree, batch, this.reader(this.tree.size), this.checks);
      this.confirmRefusals(plan);
      await this.apply(plan, lastMessageOf(batch, plan.next.streamSeq));
      this.refused.integrated(plan.leaves.map((leaf) => leaf.receipt.id));
      this.refused.refused(plan.refusedLinks);
      // Size and root change together, so a checkpoint never pairs one with the other's past.
      this.tree = plan.next;
      receiptsIntegratedTotal.inc(plan.leaves.length);
      treeSize.set(plan.next.size);
      await this.partials.committed([...plan.tiles.map(({ tile }) => tilePath(tile)), ...plan.bundles.map(({ path }) => path)], this.opts.tiles, this.opts.log);
      endTimer();
      return plan.next.size;
    } catch (err) {
      this.dirty = true;
      throw isWrongLastSequence(err) ? new ChioError('LEDGER_FENCED', 'a revision-checked write found a newer revision: another ledger writes', { cause: err }) : err;
    }
  }

  /**
   * Throw PENDING (the batch is integrated again after open() has dropped every cached head)
   * while a chain-link refusal in `plan` was first seen less than breakConfirmMs ago; forget
   * the refusals `plan` settles.
   */
  private confirmRefusals(plan: IntegrationPlan): void {
    const confirmMs = this.opts.breakConfirmMs ?? DEFAULT_BREAK_CONFIRM_MS;
    const now = (this.opts.now ?? (() => performance.now()))();
    const pending = plan.quarantined.filter((q) => READ_DEPENDENT_CODES.has(q.code) && !q.unlinkable && !isBeforeMark(q, this.quarantineMark)).filter((q) => {
      const key = `${q.seq}:${q.line ?? 0}`;
      const since = this.unconfirmed.get(key) ?? now;
      this.unconfirmed.set(key, since);
      return now - since < confirmMs;
    });
    if (pending.length > 0) {
      const q = pending[0]!;
      throw new ChioError('PENDING', `receipt at stream seq ${q.seq} line ${q.line ?? 0} fails its chain link (${q.reason}); reading the chain again before quarantining it (${pending.length} in this batch)`);
    }
    for (const key of this.unconfirmed.keys()) if (Number(key.split(':')[0]) <= plan.next.streamSeq) this.unconfirmed.delete(key);
  }

  private reader(size: number): IntegrationReader {
    const { index, chains, tiles } = this.opts;
    return {
      readHashes: tiles.hashReader(size),
      readEntries: (n, width) => tiles.readEntries(n, width),
      readIndexEntry: async (id) => {
        const { entry, revision } = await readIndexRecord(index, id);
        this.indexRevisions.set(id, revision);
        return entry;
      },
      readChainHead: async (chain) => {
        const cached = this.heads.get(chain);
        if (cached) return cached.head;
        const stored = await readChainHeadRecord(chains, chain);
        // Held as the committed head; the write that replaces it is checked at the stored revision.
        const ahead = stored.head !== undefined && stored.head.index >= size;
        const known = { head: await this.committedHead(stored, size, chain), revision: stored.revision, ahead };
        this.heads.set(chain, known);
        return known.head;
      },
    };
  }

  /**
   * The chain's committed head, from its stored record, in a tree of `size` leaves. A batch that
   * did not commit (a crash, a failed write, a commit whose answer was lost) may have left a
   * head of a receipt that is no leaf; integrated again, perhaps under another trust set, the
   * same messages may give other leaves. So a head counts only when the leaf at its index is its
   * receipt, else its base (the committed head that batch extended) does. Nothing is written
   * here: a ledger that lost its lease must not move a head. A head written before bases were
   * kept is taken as it is (integrate.ts's replay rule covers its crash).
   */
  private async committedHead(stored: ChainHeadRecord, size: number, chain: string): Promise<IntegratedChainHead | undefined> {
    const { head, base } = stored;
    // A ledger's own records name a base below the size it started from: one past this one's
    // committed size was written by a ledger further on, which holds the lease now.
    if (base !== undefined && base !== null && base >= size) throw new ChioError('LEDGER_FENCED', `chain ${chain}'s head extends leaf ${base}, past this ledger's committed size ${size}: another ledger writes`);
    if (!head || base === undefined) return head;
    const readEntries = (n: number, width: number) => this.opts.tiles.readEntries(n, width);
    if (head.index < size && (await readCommittedLeaf(readEntries, head.index, size))?.id === head.id) return head;
    if (base === null) return undefined;
    const leaf = await readCommittedLeaf(readEntries, base, size);
    // Leaves passed every check when integrated; another chain here is a damaged store.
    if (leaf?.chain !== chain || typeof leaf.id !== 'string' || typeof leaf.seq !== 'number') throw new ChioError('INTERNAL', `leaf ${base}, the base of chain ${chain}'s head, is not a receipt of that chain`);
    return { seq: leaf.seq, id: leaf.id, index: base };
  }

  /** Write the plan in the crash-safe order of the file comment; the lease commit commits it. */
  private async apply(plan: IntegrationPlan, lastMessage: string | undefined): Promise<void> {
    const { js, index, chains, lease, tiles, log } = this.opts;
    const startSize = plan.next.size - plan.leaves.length;
    receiptsDuplicateTotal.inc(plan.duplicates.length);
    // Quarantine is fenced only by the quarantine stream's last sequence, which a new writer that
    // has quarantined nothing yet has not moved: under another trust, a paused writer would
    // quarantine a receipt the new writer made a leaf, and move the mark past receipts the new
    // writer has not reached (it then skips them). Ask the lease first, as for tiles.
    const toQuarantine = plan.quarantined.filter((q) => !isBeforeMark(q, this.quarantineMark)); // others: quarantined before a crash
    if (toQuarantine.length > 0 && !(await lease.stillHeld())) throw new ChioError('LEDGER_FENCED', 'another ledger took the writer lease; not quarantining');
    // One write per refused message, whatever its refused lines: junk costs the ledger what it cost its writer.
    for (const lines of byMessage(toQuarantine)) {
      this.quarantineMark = await quarantineMessage(js, lines, this.quarantineMark);
      for (const q of lines) receiptsQuarantinedTotal.inc({ code: q.code });
      const [first] = lines as [QuarantinedReceipt];
      log.warn({ stream_seq: first.seq, line: first.line ?? 0, refused_lines: lines.length, code: first.code, reason: first.reason }, 'receipts quarantined');
    }
    await Promise.all(plan.indexEntries.map(({ id, entry }) => {
      const revision = this.indexRevisions.get(id);
      return revision === undefined ? this.writeFreshIndexEntry(id, entry, startSize) : writeIndexEntry(index, id, entry, revision);
    }));
    // A head written past this ledger's committed state is a dead batch's of its own, or the
    // work of a ledger that took the lease while this one was paused. Its revision was read just
    // now, so the revision check would let this ledger move it back: ask the lease first.
    if (plan.chainHeads.some(({ chain }) => this.heads.get(chain)?.ahead) && !(await lease.stillHeld())) {
      throw new ChioError('LEDGER_FENCED', 'a chain head was written past this ledger\'s committed state, and the writer lease is another\'s: not moving it');
    }
    const heads = await Promise.all(plan.chainHeads.map(async ({ chain, head }) => {
      // A chain whose new receipts were all replayed (crash rule) had no head read: read it now.
      const known = this.heads.get(chain) ?? (await readChainHeadRecord(chains, chain));
      // The committed head this batch extends (committedHead), kept so that a batch integrating
      // again after this one died reads it; a head written before bases were kept has none.
      const base = !known.head || known.head.index < startSize ? (known.head?.index ?? null) : undefined;
      const revision = await writeChainHead(chains, chain, head, known.revision, base);
      return [chain, { head, revision }] as const;
    }));
    // Tiles and bundles are written unconditionally, over whatever a path holds: a writer paused
    // past its lease would write its batch's over the committed tree of the ledger that took over
    // (whose leaves differ when its trust does: a receipt it refused left no entry or head above
    // to fence on), and that tree would no longer hash to the checkpoint it signed. Ask first.
    if (plan.tiles.length + plan.bundles.length > 0 && !(await lease.stillHeld())) throw new ChioError('LEDGER_FENCED', 'another ledger took the writer lease; not writing tiles');
    // Tiles and bundles at once: none is read before the commit, and a crash before it rewrites them all.
    await Promise.all([
      ...plan.tiles.map(({ tile, data }) => tiles.writeHashTile(tile, data)),
      ...plan.bundles.map(({ path, data }) => tiles.writeEntryBundle(path, data)),
    ]);
    if (plan.next.streamSeq !== this.tree?.streamSeq) await lease.commit({ ...plan.next, lastMessage });
    for (const [chain, known] of heads) this.heads.set(chain, known);
  }

  /**
   * The entry of a receipt integrate() planned without reading the index (it extends its chain's
   * head, so it is not a leaf): created where there is none. An entry already there at or past
   * the committed size, or below it naming another receipt's leaf, is from a batch that did not commit (the crash rule): the same leaf is
   * kept (given the corrected_by this plan adds; one it has is never taken away), another one
   * is replaced, revision-checked, and only while the lease, read again, is still this
   * ledger's: a writer paused past its lease rewrote an entry the new writer had just given
   * its corrected_by, and the receipt's correction was lost to the verifier. An entry inside
   * the committed tree whose leaf is this receipt would make it a duplicate, which it cannot be:
   * the store is not what this ledger wrote, so it stops (LEDGER_FENCED).
   */
  private async writeFreshIndexEntry(id: string, entry: IndexEntry, committedSize: number): Promise<void> {
    const { index } = this.opts;
    try {
      await writeIndexEntry(index, id, entry, 0);
      return;
    } catch (err) {
      if (!isWrongLastSequence(err)) throw err;
    }
    const { entry: stored, revision } = await readIndexRecord(index, id);
    // One whose leaf is another receipt is stale (committed-leaf.ts): replaced, as below.
    if (stored && stored.index < committedSize && (await readCommittedLeaf((n, width) => this.opts.tiles.readEntries(n, width), stored.index, committedSize))?.id === id) {
      throw new ChioError('LEDGER_FENCED', `index entry of ${id} is ${JSON.stringify(stored)}, a committed leaf, where ${JSON.stringify(entry)} was planned: another ledger writes`);
    }
    const sameLeaf = stored && stored.index === entry.index && stored.seq === entry.seq && (stored.line ?? 0) === (entry.line ?? 0);
    if (sameLeaf && (entry.corrected_by === undefined || entry.corrected_by === stored.corrected_by)) return;
    if (sameLeaf && stored.corrected_by !== undefined) {
      throw new ChioError('LEDGER_FENCED', `index entry of ${id} is corrected by ${stored.corrected_by}, where a correction by ${entry.corrected_by} was planned: another ledger writes`);
    }
    if (!(await this.opts.lease.stillHeld())) throw new ChioError('LEDGER_FENCED', `another ledger took the writer lease; not rewriting the index entry of ${id}`);
    await writeIndexEntry(index, id, entry, revision);
  }
}

/** The longest the checks of a batch hold the event loop before letting other work run. */
export const PAUSE_AFTER_MS = 20;

/** A pause hook (IntegrationChecks.pause) that yields to the event loop once `ms` have passed since its last yield. */
function yieldEvery(ms: number): () => Promise<void> | undefined {
  let last = performance.now();
  return () => {
    if (performance.now() - last < ms) return undefined;
    return new Promise((resolve) => setImmediate(() => {
      last = performance.now();
      resolve();
    }));
  };
}

function trustNow(keys: IntegratorOptions['kernelKeys']): IntegrationChecks['kernelKeys'] {
  return typeof keys === 'function' ? keys() : keys;
}

/** Hex SHA-256 of the batch's message at `streamSeq` (the new cursor), what the state records of it. */
function lastMessageOf(batch: readonly StoredMessage[], streamSeq: number): string | undefined {
  const message = batch.findLast((m) => m.seq === streamSeq);
  return message && sha256Hex(message.data);
}
