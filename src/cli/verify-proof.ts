/**
 * `chio verify-proof FILE --receipt RECEIPT.json --log-key VKEY` (SPEC §9): check one C2SP
 * tlog-proof@v1 offline — no network, only the portable verifier and the keys the operator
 * trusts. `chio prove <id> --out FILE` writes such a file; the receipt is a separate file
 * (its JCS bytes are the leaf the proof is for).
 */
import { ChioError, isChioError } from '../errors/index.js';
import { isJsonObject, parseJsonText } from '../json.js';
import { canonicalBytes } from '../receipt/jcs.js';
import { MAX_RECEIPT_BYTES } from '../receipt/receipt.js';
import { readPlainFile } from './plain-file.js';
import { checkReceiptInclusion, type ProofTrust, type ProvenReceipt, type ReceiptProof } from '../verify/receipt-proof.js';
import { MAX_TLOG_PROOF_CHARS, formatTlogProof, parseTlogProof } from '../verify/tlog-proof.js';
import { decodeProofHashes } from '../verify/proof-hashes.js';

/** A receipt file may be pretty-printed JSON: allow room beyond the receipt's JCS size. */
const MAX_RECEIPT_FILE_BYTES = 8 * MAX_RECEIPT_BYTES;

/**
 * Verify the tlog-proof in `proofFile` for the receipt in `receiptFile`; throws ChioError. A
 * file that does not hold what it should did not verify (exit 3), like a failed check.
 */
export function verifyProofFiles(proofFile: string, receiptFile: string, trust: ProofTrust): ProvenReceipt {
  const proof = formIn(proofFile, 'PROOF_INVALID', () => parseTlogProof(readBounded(proofFile, MAX_TLOG_PROOF_CHARS, 'PROOF_INVALID')));
  const receipt = formIn(receiptFile, 'RECEIPT_INVALID', () => receiptIn(readBounded(receiptFile, MAX_RECEIPT_FILE_BYTES, 'RECEIPT_INVALID')));
  // The receipt's JCS form holds (receiptIn): what is left to be of no form is the checkpoint note.
  return formIn(proofFile, 'PROOF_INVALID', () => checkReceiptInclusion(receipt, proof.index, proof.hashes, proof.checkpoint, trust));
}

/** The receipt a receipt file holds: the receipt, or a saved GET /v1/receipts/<id> answer holding it under "receipt". */
function receiptIn(text: string): unknown {
  // A member named twice: the file would read otherwise than the receipt proven.
  const value = parseJsonText(text);
  const receipt = isJsonObject(value) && !('schema' in value) && isJsonObject(value.receipt) ? value.receipt : value;
  // A value with no JCS form (a lone surrogate) is told here, as this file's fault, not the proof's.
  canonicalBytes(receipt);
  return receipt;
}

/**
 * Run `check` on what `file` holds. What it finds of no form (MALFORMED, JCS_UNSUPPORTED: exit
 * 1 in the status table, the class of "the verifier cannot be reached") becomes `code`, so that
 * a tampered file always did not verify (exit 3), as in verify-export. A bad key stays exit 2.
 */
function formIn<T>(file: string, code: 'PROOF_INVALID' | 'RECEIPT_INVALID', check: () => T): T {
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
