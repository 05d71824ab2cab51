/**
 * Checking a correction (SPEC §5) against the receipt it corrects, both already proven
 * (verifyReceiptProof): the verifier's `corrected_by` is only its word, the correction's own
 * signed, included receipt is the proof. Pure.
 *
 * A correction of R: names R in `corrects`, is on R's chain after R (a higher seq), is a leaf
 * after R's, is the correction the verifier named for R, R is no correction itself, and it
 * records the answer given when a receipt is not stored, for R's request, subject and policy.
 */
import { ChioError } from '../errors/index.js';
import type { ProvenReceipt } from './receipt-proof.js';
import { correctionMismatch } from '../receipt/correction.js';

/** Verify that `correction` corrects `corrected`; throws CORRECTION_INVALID naming what does not hold. */
export function verifyCorrection(corrected: ProvenReceipt, correction: ProvenReceipt): void {
  const invalid = (why: string) => new ChioError('CORRECTION_INVALID', `receipt ${correction.receipt.id} ${why}`);
  if (corrected.correctedBy !== correction.receipt.id) throw invalid('is not the correction the verifier named');
  if (correction.receipt.corrects !== corrected.receipt.id) throw invalid(`does not correct ${corrected.receipt.id}`);
  if (correction.receipt.chain !== corrected.receipt.chain) throw invalid('is on another chain than the receipt it corrects');
  if (correction.receipt.seq <= corrected.receipt.seq || correction.index <= corrected.index) throw invalid('does not come after the receipt it corrects');
  if (corrected.receipt.corrects !== undefined) throw invalid('corrects a correction, which answered no Check');
  const mismatch = correctionMismatch(correction.receipt, corrected.receipt);
  if (mismatch !== undefined) throw invalid(mismatch);
}
