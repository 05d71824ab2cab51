/**
 * The ledger's rule for a correction (SPEC §5): a receipt with `corrects` passes every check a
 * receipt passes, and in addition `corrects` MUST name a receipt that is already a leaf, and
 * the rule a bundle's verifier holds it to as well (receipt/correction.ts,
 * correctionTargetMismatch) MUST hold: on the correction's own chain (so before it, since the
 * chain link holds), not itself a correction, of the same Check, and not corrected by another
 * receipt. Otherwise the correction is quarantined as
 * CORRECTION_INVALID: a correction that names nothing the log holds would make the log say an
 * answer was refused that it never recorded.
 *
 * The link is recorded on the corrected receipt's index entry (`corrected_by`), where the
 * verifier finds it. The corrected receipt is a leaf of this batch or of the committed tree;
 * in the committed tree its chain is read from its entry bundle.
 */
import { ChioError } from '../errors/index.js';
import type { Receipt } from '../receipt/receipt.js';
import { checkOf, correctionTargetMismatch } from '../receipt/correction.js';
import type { IndexEntry } from '../store/receipt-index.js';
import { TILE_WIDTH } from '../store/tile-store.js';
import type { IntegrationReader, Leaf } from './integrate.js';

/** What linking a correction sees of the tree: the committed size, this batch so far. */
export interface CorrectionContext {
  /** Leaves of the committed tree. */
  size: number;
  /** The leaves admitted so far in this batch, by receipt id. */
  batch: ReadonlyMap<string, Leaf>;
  /** Index entries this batch already changes, by receipt id. */
  entries: ReadonlyMap<string, IndexEntry>;
  reader: IntegrationReader;
}

/**
 * The index entry of the receipt `correction` corrects, now naming the correction. Throws
 * CORRECTION_INVALID when the rule above does not hold; other errors are failed reads.
 */
export async function linkCorrection(correction: Receipt & { corrects: string }, ctx: CorrectionContext): Promise<IndexEntry> {
  const target = correction.corrects;
  const invalid = (why: string) => new ChioError('CORRECTION_INVALID', `correction ${correction.id.slice(0, 12)}… ${why}`);
  const inBatch = ctx.batch.get(target);
  // An entry at or past the committed size is from a batch that did not commit: not a leaf yet.
  const committed = inBatch ? undefined : await ctx.reader.readIndexEntry(target);
  if (!inBatch && (!committed || committed.index >= ctx.size)) throw invalid(`corrects ${target.slice(0, 12)}…, which is not in the log`);
  const entry = ctx.entries.get(target) ?? (inBatch ? { index: inBatch.index, seq: inBatch.seq, ...(inBatch.line > 0 ? { line: inBatch.line } : {}) } : committed!);
  const corrected = inBatch ? inBatch.receipt : await readLeaf(ctx, entry.index, target);
  // A stale entry (committed-leaf.ts): a batch that never committed wrote it, and its receipt
  // was refused when that batch was integrated again; the leaf it names is another's.
  if (!corrected) throw invalid(`corrects ${target.slice(0, 12)}…, which is not in the log`);
  const why = correctionTargetMismatch(correction, { id: target, chain: corrected.chain, corrects: corrected.corrects, check: checkOf(corrected), corrected_by: entry.corrected_by });
  if (why !== undefined) throw invalid(why);
  return { ...entry, corrected_by: correction.id };
}

/** The committed leaf at `index`, which the index says is receipt `id`; undefined when it is another receipt (a stale entry). */
async function readLeaf(ctx: CorrectionContext, index: number, id: string): Promise<(Partial<Receipt> & { chain: string }) | undefined> {
  const leaf = await readCommittedLeaf(ctx.reader.readEntries, index, ctx.size);
  if (typeof leaf?.id === 'string' && leaf.id !== id) return undefined;
  // Leaves passed every receipt check when they were integrated; anything else is a damaged store.
  if (leaf?.id !== id || typeof leaf.chain !== 'string') throw new ChioError('INTERNAL', `leaf ${index} is not receipt ${id}, as the index says`);
  return { ...leaf, chain: leaf.chain };
}

/** Committed leaf `index` of a tree of `size` leaves, as its entry bundle holds it (not checked). */
export async function readCommittedLeaf(readEntries: IntegrationReader['readEntries'], index: number, size: number): Promise<Partial<Receipt> | undefined> {
  const n = Math.floor(index / TILE_WIDTH);
  const bytes = (await readEntries(n, Math.min(TILE_WIDTH, size - n * TILE_WIDTH)))[index % TILE_WIDTH];
  return bytes && (JSON.parse(new TextDecoder().decode(bytes)) as Partial<Receipt>);
}
