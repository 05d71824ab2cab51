/**
 * `chio verify-proof FILE --receipt RECEIPT.json --log-key VKEY` (SPEC §9): check one C2SP
 * tlog-proof@v1 offline — no network, only the portable verifier and the keys the operator
 * trusts. `chio prove <id> --out FILE --receipt-out RECEIPT.json` writes both files.
 *
 * The receipt file holds the receipt (its JCS bytes are the leaf the proof is for), or the
 * verifier's answer for it, `{"receipt", …}` as GET /v1/receipts/<id> answers. That answer says
 * `corrected_by` when the receipt was stored but its Check was answered deny 503 (SPEC §5); the
 * answer given is then the correction's, told only by the correction's own proof, under
 * `correction` (what GET /v1/receipts/<correction id> answered; `chio prove` saves it). Without
 * it the check fails: it never shows a corrected receipt as its own allow.
 *
 * Both files come from elsewhere: read under a bound (plain-file.ts), and what they hold that
 * is not of its form did not verify (exit 3), like a failed check.
 */
import { ChioError, isChioError } from '../errors/index.js';
import { isJsonObject, parseJsonText } from '../json.js';
import { canonicalBytes, canonicalize } from '../receipt/jcs.js';
import { MAX_RECEIPT_BYTES, RECEIPT_ID_PATTERN } from '../receipt/receipt.js';
import { verifyCorrection } from '../verify/correction.js';
import { checkReceiptInclusion, verifyReceiptProof, type ProofTrust, type ProvenReceipt, type ReceiptProof } from '../verify/receipt-proof.js';
import { MAX_TLOG_PROOF_CHARS, formatTlogProof, parseTlogProof } from '../verify/tlog-proof.js';
import { decodeProofHashes } from '../verify/proof-hashes.js';
import { readPlainFile } from './plain-file.js';
import { MAX_ANSWER_BYTES, type ProveResult, type ProvenAnswer } from './prove.js';

/** Two answers (the receipt's and its correction's), each with room to be pretty-printed. */
const MAX_RECEIPT_FILE_BYTES = 2 * (MAX_ANSWER_BYTES + 8 * MAX_RECEIPT_BYTES);

/** What a receipt file holds: the receipt, and the verifier's word and proof of its correction. */
interface SavedReceipt {
  receipt: unknown;
  correctedBy?: string;
  correction?: unknown;
}

/**
 * Verify the tlog-proof in `proofFile` for the receipt in `receiptFile`, and the correction the
 * receipt file names; throws ChioError.
 */
export function verifyProofFiles(proofFile: string, receiptFile: string, trust: ProofTrust): ProvenAnswer {
  const proof = formIn(proofFile, 'PROOF_INVALID', () => parseTlogProof(readBounded(proofFile, MAX_TLOG_PROOF_CHARS, 'PROOF_INVALID')));
  const saved = formIn(receiptFile, 'RECEIPT_INVALID', () => savedReceiptIn(readBounded(receiptFile, MAX_RECEIPT_FILE_BYTES, 'RECEIPT_INVALID')));
  // The receipt's JCS form holds (savedReceiptIn): what is left to be of no form is the checkpoint note.
  const proven = formIn(proofFile, 'PROOF_INVALID', () => inclusionIn(proofFile, saved.receipt, proof, trust));
  if (saved.correctedBy === undefined) return proven;
  const corrected = { ...proven, correctedBy: saved.correctedBy };
  if (saved.correction === undefined) {
    throw new ChioError('CORRECTION_INVALID', `${receiptFile}: receipt ${proven.receipt.id} was corrected by ${saved.correctedBy}, but the file holds no proof ` +
      'of the correction, so the answer given is not known (chio prove --receipt-out saves it)');
  }
  const correction = formIn(receiptFile, 'CORRECTION_INVALID', () => verifyReceiptProof(saved.correction as ReceiptProof, trust, saved.correctedBy));
  verifyCorrection(corrected, correction);
  return { ...corrected, correction };
}

/**
 * The receipt's inclusion by the saved proof. A proof that does not lead from this receipt to
 * its checkpoint's root is most often the proof of another receipt (several saved side by
 * side): said so, with the receipt and the leaf the proof is for, not only "record proof does
 * not match the tree root".
 */
function inclusionIn(proofFile: string, receipt: unknown, proof: ReturnType<typeof parseTlogProof>, trust: ProofTrust): ProvenReceipt {
  try {
    return checkReceiptInclusion(receipt, proof.index, proof.hashes, proof.checkpoint, trust);
  } catch (err) {
    if (!isChioError(err, 'PROOF_INVALID')) throw err;
    const id = (receipt as { id?: unknown }).id;
    throw new ChioError('PROOF_INVALID', `${proofFile}: does not prove receipt ${String(id)} at leaf ${proof.index} (${err.message}): is it the proof of another receipt?`, { cause: err });
  }
}

/**
 * What `chio prove --receipt-out` saves: the receipt's JCS bytes, or, for a corrected receipt,
 * `{"corrected_by", "correction", "receipt"}` with what proved the correction, so that
 * verifyProofFiles shows the answer given. Canonical JSON: it reads as it is verified.
 */
export function receiptFileOf(p: ProveResult): string {
  const c = p.correctionAnswer;
  if (c === undefined) return `${canonicalize(p.receipt)}\n`;
  const correction = { receipt: c.receipt, index: c.index, checkpoint: c.checkpoint, inclusion_proof: c.inclusion_proof };
  return `${canonicalize({ receipt: p.receipt, corrected_by: c.receipt.id, correction })}\n`;
}

function savedReceiptIn(text: string): SavedReceipt {
  // A member named twice: the file would read otherwise than the receipt proven.
  const value = parseJsonText(text);
  // A receipt has "schema"; the verifier's answer holds it under "receipt".
  const answer = isJsonObject(value) && !('schema' in value) && isJsonObject(value.receipt) ? value : undefined;
  const saved: SavedReceipt = { receipt: answer ? answer.receipt : value };
  // A value with no JCS form (a lone surrogate) is told here, as this file's fault, not the proof's.
  canonicalBytes(saved.receipt);
  if (answer?.corrected_by !== undefined) {
    if (typeof answer.corrected_by !== 'string' || !RECEIPT_ID_PATTERN.test(answer.corrected_by)) throw new ChioError('MALFORMED', 'corrected_by is not a receipt id');
    saved.correctedBy = answer.corrected_by;
  }
  if (answer?.correction !== undefined) {
    if (saved.correctedBy === undefined) throw new ChioError('MALFORMED', 'a correction without the corrected_by that names it');
    saved.correction = answer.correction;
  }
  return saved;
}

/**
 * Run `check` on what `file` holds. What it finds of no form (MALFORMED, JCS_UNSUPPORTED: exit
 * 1 in the status table, the class of "the verifier cannot be reached") becomes `code`, so that
 * a tampered file always did not verify (exit 3), as in verify-export. A bad key stays exit 2.
 */
function formIn<T>(file: string, code: 'PROOF_INVALID' | 'RECEIPT_INVALID' | 'CORRECTION_INVALID', check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (isChioError(err, 'MALFORMED') || isChioError(err, 'JCS_UNSUPPORTED')) throw new ChioError(code, `${file}: ${err.message}`, { cause: err });
    throw err;
  }
}

/** The tlog-proof@v1 text of a JSON receipt proof (GET /v1/receipts/<id>), as the verifier serves it. */
export function tlogProofOf(answer: ReceiptProof): string {
  return formatTlogProof({ index: answer.index, hashes: decodeProofHashes(answer.inclusion_proof, 'inclusion_proof'), checkpoint: answer.checkpoint });
}

/**
 * The text of `file` (a path the user named, so a link is followed), read under `max` bytes as
 * plain-file.ts reads: a link to /dev/zero or a FIFO is refused, not read for ever.
 */
function readBounded(file: string, maxBytes: number, code: 'PROOF_INVALID' | 'RECEIPT_INVALID'): string {
  const bytes = readPlainFile(file, maxBytes, {
    followLinks: true,
    refuse: (why, detail, cause) => new ChioError(why === 'missing' || why === 'unreadable' ? 'CONFIG_INVALID' : code, `${file}: ${detail}`, { cause }),
  });
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (cause) {
    throw new ChioError(code, `${file}: not UTF-8 text`, { cause });
  }
}
