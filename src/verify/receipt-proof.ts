/**
 * Checking what the verifier answers for a receipt id — receipt, leaf index, checkpoint and
 * inclusion proof — with nothing but trust material: the log's verifier key and the kernel
 * keys. Pure (no I/O, no clock), so `chio prove`, the export verifier and the explorer page
 * run the same code.
 *
 * Order: shape (index, proof hashes, corrected_by) → checkpoint signature (log key) → receipt
 * (canonical bytes, id, kernel key, signature) → inclusion of SHA-256(0x00 ‖ receipt bytes) at
 * `index` under the checkpoint's root.
 *
 * `corrected_by` is the verifier's word that a correction (SPEC §5) names this receipt; no
 * signature covers it. It is proven by the correction's own proof (verifyCorrection).
 */
import { ChioError } from '../errors/index.js';
import { canonicalBytes } from '../receipt/jcs.js';
import { verifyReceiptBytes, type KernelKeys, type SignatureCheck } from '../receipt/verify.js';
import { RECEIPT_ID_PATTERN, type Receipt } from '../receipt/receipt.js';
import { checkRecord, leafHash, openCheckpoint, type Hash } from '../tlog/index.js';
import { decodeProofHashes } from './proof-hashes.js';

/** What GET /v1/receipts/<id> answers with status 200. */
export interface ReceiptProof {
  receipt: Receipt;
  index: number;
  checkpoint: string;
  inclusion_proof: string[];
  /** The id of the correction that names this receipt: stored, but answered deny 503 (SPEC §5, §7). */
  corrected_by?: string;
}

export interface ProofTrust {
  /** C2SP verifier key of the log (its name is the log origin). */
  logKey: string;
  /** Kernel verifier keys whose receipts are trusted: a list, or a trust set with validity windows. */
  kernelKeys: KernelKeys;
  /**
   * The Ed25519 check, where it is used (POST /v1/verify's report): the portable @noble one
   * unless given; a Node service passes node:crypto's (about ten times faster).
   */
  checkSignature?: SignatureCheck;
}

export interface ProvenReceipt {
  receipt: Receipt;
  index: number;
  treeSize: number;
  origin: string;
  /** The verifier says this correction names the receipt; verifyCorrection proves it. */
  correctedBy?: string;
}

/** Verify a receipt proof; throws ChioError naming the first thing that does not hold. */
export function verifyReceiptProof(proof: ReceiptProof, trust: ProofTrust, expectedId?: string): ProvenReceipt {
  if (typeof proof !== 'object' || proof === null) throw new ChioError('MALFORMED', 'proof is not an object');
  const notProof = notAProof(proof);
  if (notProof !== undefined) throw new ChioError('MALFORMED', notProof);
  if (!Number.isSafeInteger(proof.index) || proof.index < 0) throw new ChioError('MALFORMED', 'index is not a leaf index');
  const hashes = decodeProofHashes(proof.inclusion_proof, 'inclusion_proof');
  // Attacker-controlled, and not covered by any signature: a receipt id or nothing.
  const correctedBy: unknown = proof.corrected_by;
  if (correctedBy !== undefined && (typeof correctedBy !== 'string' || !RECEIPT_ID_PATTERN.test(correctedBy))) throw new ChioError('MALFORMED', 'corrected_by is not a receipt id');
  const proven = checkReceiptInclusion(proof.receipt, proof.index, hashes, proof.checkpoint, trust, expectedId);
  return { ...proven, ...(correctedBy !== undefined ? { correctedBy } : {}) };
}

/** An error text quoted from an answer is cut to this many characters. */
const QUOTED_ERROR_CHARS = 200;

/**
 * What an answer that is no proof is, when it is another answer of GET /v1/receipts/<id>: a
 * 202 or an error passed on without a look at the status ("index is not a leaf index" sent
 * people looking at the index).
 */
function notAProof(answer: object): string | undefined {
  const { status, error, code } = answer as { status?: unknown; error?: unknown; code?: unknown };
  if (status === 'pending') return 'the answer is 202 pending, not a proof: the receipt is stored but not yet in a checkpoint; ask again in a second';
  if (typeof error !== 'string' || typeof code !== 'string') return undefined;
  const said = `${code}: ${error}`.slice(0, QUOTED_ERROR_CHARS);
  return code === 'NOT_FOUND' ? `the answer is an error, not a proof: the receipt is not in this log (${said})` : `the answer is an error, not a proof (${said})`;
}

/**
 * The checks every receipt proof shares, whatever carried it (the JSON answer, a tlog-proof):
 * checkpoint signature (log key) → receipt (canonical bytes, id, kernel key, signature) →
 * inclusion of SHA-256(0x00 ‖ receipt bytes) at `index` under the checkpoint's root.
 */
export function checkReceiptInclusion(receiptValue: unknown, index: number, hashes: Hash[], checkpointNote: unknown, trust: ProofTrust, expectedId?: string): ProvenReceipt {
  if (typeof checkpointNote !== 'string') throw new ChioError('MALFORMED', 'checkpoint is not a signed note');
  const checkpoint = openCheckpoint(checkpointNote, trust.logKey);
  const bytes = canonicalBytes(receiptValue);
  const receipt = verifyReceiptBytes(bytes, trust.kernelKeys);
  if (expectedId !== undefined && receipt.id !== expectedId) throw new ChioError('RECEIPT_INVALID', 'the receipt returned is not the one asked for');
  if (index >= checkpoint.size) throw new ChioError('PROOF_INVALID', `index ${index} is outside the checkpoint's tree of size ${checkpoint.size}`);
  checkRecord(hashes, checkpoint.size, checkpoint.root, index, leafHash(bytes));
  return { receipt, index, treeSize: checkpoint.size, origin: checkpoint.origin };
}
