/**
 * `chio verify-proof FILE --receipt RECEIPT.json --log-key VKEY` (SPEC §9): check one C2SP
 * tlog-proof@v1 offline — no network, only the portable verifier and the keys the operator
 * trusts. `chio prove <id> --out FILE` writes such a file; the receipt is a separate file
 * (its JCS bytes are the leaf the proof is for).
 */
import { ChioError } from '../errors/index.js';
import { MAX_RECEIPT_BYTES } from '../receipt/receipt.js';
import { readPlainFile } from './plain-file.js';
import type { ProofTrust, ProvenReceipt, ReceiptProof } from '../verify/receipt-proof.js';
import { MAX_TLOG_PROOF_CHARS, formatTlogProof, verifyTlogProof } from '../verify/tlog-proof.js';
import { decodeProofHashes } from '../verify/proof-hashes.js';

/** A receipt file may be pretty-printed JSON: allow room beyond the receipt's JCS size. */
const MAX_RECEIPT_FILE_BYTES = 8 * MAX_RECEIPT_BYTES;

/** Verify the tlog-proof in `proofFile` for the receipt in `receiptFile`; throws ChioError. */
export function verifyProofFiles(proofFile: string, receiptFile: string, trust: ProofTrust): ProvenReceipt {
  const proof = readBounded(proofFile, MAX_TLOG_PROOF_CHARS, 'the proof');
  const text = readBounded(receiptFile, MAX_RECEIPT_FILE_BYTES, 'the receipt');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new ChioError('MALFORMED', `${receiptFile} is not JSON`, { cause });
  }
  // A saved GET /v1/receipts/<id> answer holds the receipt under "receipt".
  const receipt = isObject(value) && !('schema' in value) && isObject(value.receipt) ? value.receipt : value;
  return verifyTlogProof(proof, receipt, trust);
}

/** The tlog-proof@v1 text of a JSON receipt proof (GET /v1/receipts/<id>), as the verifier serves it. */
export function tlogProofOf(answer: ReceiptProof): string {
  return formatTlogProof({ index: answer.index, hashes: decodeProofHashes(answer.inclusion_proof, 'inclusion_proof'), checkpoint: answer.checkpoint });
}

/**
 * The text of `file` (a path the user named, so a link is followed), read under `max` bytes as
 * plain-file.ts reads: a link to /dev/zero or a FIFO is refused, not read for ever.
 */
function readBounded(file: string, maxBytes: number, what: string): string {
  return readPlainFile(file, maxBytes, {
    followLinks: true,
    refuse: (why, detail, cause) => why === 'missing' || why === 'unreadable'
      ? new ChioError('CONFIG_INVALID', `${what} file ${file} ${detail}`, { cause })
      : new ChioError('MALFORMED', `${file}: ${detail}: not ${what}`, { cause }),
  }).toString('utf8');
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
