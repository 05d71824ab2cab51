/**
 * The corrections of a compliance bundle held to the receipts they correct (SPEC §5), by the
 * rule the ledger holds them to (receipt/correction.ts, correctionTargetMismatch): a bundle
 * does not ask its auditor to trust that the ledger checked them. Pure.
 *
 * A correction names an earlier leaf, so its target is an earlier line of receipts.jsonl when
 * the bundle holds it. Keeping every line a later one might name would take memory per receipt;
 * this keeps, per chain, what the rule reads of the lines of the last CORRECTION_REACH seqs.
 * A chain writer corrects a receipt in the message right after its own, or after the one then
 * in flight (a receipt whose answer reached no one may be found once that one was signed): past
 * the rest of its message, that one, and the corrections of both, each message at most
 * MAX_BATCH_SIZE receipts, 4 × MAX_BATCH_SIZE seqs on at most.
 *
 * A correction whose target is not kept is refused when the bundle must hold that target and
 * every earlier line of its chain is still kept: the bundle is complete, or the correction is
 * outside the filter (the exporter writes it only for its target). Otherwise the target is
 * outside a filtered bundle, or further back than the reach: the correction is counted as
 * checked on its own only (its signature, inclusion and answer), and the OK line says so.
 */
import { ChioError } from '../errors/index.js';
import { MAX_BATCH_SIZE } from '../receipt/batch.js';
import { checkOf, correctionTargetMismatch, type CorrectionTarget } from '../receipt/correction.js';
import type { Receipt } from '../receipt/receipt.js';

/** Seqs back along its chain within which a correction's target is kept, when the bundle holds it. */
export const CORRECTION_REACH = 4 * MAX_BATCH_SIZE;

interface Kept extends CorrectionTarget {
  seq: number;
}

interface ChainWindow {
  /** The chain's lines of the last CORRECTION_REACH seqs, in seq order. */
  kept: Kept[];
  /** A line of the chain was let go: one not kept may still be in the bundle. */
  evicted: boolean;
}

export class BundleCorrections {
  /** Corrections whose target is not in the bundle (or not kept): checked on their own only. */
  unchecked = 0;
  private readonly byId = new Map<string, Kept>();
  private readonly chains = new Map<string, ChainWindow>();

  constructor(private readonly complete: boolean) {}

  /**
   * The next line's receipt (verified, linked on its chain, included): checked against its
   * target when it is a correction, then kept for the corrections after it. `inFilter`: it
   * passes the bundle's whole filter. Throws CORRECTION_INVALID.
   */
  take(receipt: Receipt, inFilter: boolean): void {
    const window = this.windowOf(receipt.chain, receipt.seq);
    if (receipt.corrects !== undefined) this.check({ ...receipt, corrects: receipt.corrects }, window, inFilter);
    const kept: Kept = { id: receipt.id, chain: receipt.chain, seq: receipt.seq, corrects: receipt.corrects, check: checkOf(receipt) };
    window.kept.push(kept);
    this.byId.set(kept.id, kept);
  }

  private check(correction: Receipt & { corrects: string }, window: ChainWindow, inFilter: boolean): void {
    const invalid = (why: string) => new ChioError('CORRECTION_INVALID', why);
    const named = `corrects ${correction.corrects.slice(0, 12)}…`;
    const target = this.byId.get(correction.corrects);
    if (target) {
      const why = correctionTargetMismatch(correction, target);
      if (why !== undefined) throw invalid(why);
      target.corrected_by = correction.id;
      return;
    }
    if (!window.evicted && this.complete) throw invalid(`${named}, which is no earlier receipt of its chain`);
    if (!window.evicted && !inFilter) throw invalid(`${named}, which is not in the bundle, though the correction is outside its filter: it is there only for the receipt it corrects`);
    this.unchecked++;
  }

  /** The window of `chain`, rid of the lines more than CORRECTION_REACH seqs before `seq`. */
  private windowOf(chain: string, seq: number): ChainWindow {
    let window = this.chains.get(chain);
    if (!window) this.chains.set(chain, (window = { kept: [], evicted: false }));
    let drop = 0;
    while (drop < window.kept.length && window.kept[drop]!.seq < seq - CORRECTION_REACH) this.byId.delete(window.kept[drop++]!.id);
    if (drop > 0) {
      window.kept.splice(0, drop);
      window.evicted = true;
    }
    return window;
  }
}
