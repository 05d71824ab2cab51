/**
 * Checking what the verifier answers for GET /v1/consistency?old=N&new=M (SPEC §7): that the
 * log's tree in a newer checkpoint extends the tree in an older one, so the log never rewrote
 * what it had published. Pure: trust material is the log's verifier key, nothing else.
 *
 * Order: shape (sizes, proof hashes) → both checkpoint signatures (log key) → the answer's sizes
 * are the checkpoints' sizes → RFC 6962 §2.1.2 consistency of the two roots.
 */
import { ChioError } from '../errors/index.js';
import { isIndex } from '../tlog/bits.js';
import { checkTree, openCheckpoint, type Checkpoint } from '../tlog/index.js';
import { decodeProofHashes } from './proof-hashes.js';

/** What GET /v1/consistency answers with status 200. */
export interface ConsistencyProof {
  old: number;
  new: number;
  proof: string[];
}

/** Two checkpoints, the newer proven to extend the older. */
export interface ProvenConsistency {
  older: Checkpoint;
  newer: Checkpoint;
}

/**
 * Verify that the signed checkpoint `newerNote` extends `olderNote`, both signed by `logKey`,
 * with a consistency proof answer. Throws ChioError naming the first thing that does not hold.
 */
export function verifyConsistencyProof(proof: ConsistencyProof, olderNote: string, newerNote: string, logKey: string): ProvenConsistency {
  // Attacker-controlled: the answer and both notes.
  if (typeof proof !== 'object' || proof === null) throw new ChioError('MALFORMED', 'proof is not an object');
  if (!isIndex(proof.old) || !isIndex(proof.new) || proof.old > proof.new) throw new ChioError('MALFORMED', 'old and new are not tree sizes with old <= new');
  const hashes = decodeProofHashes(proof.proof, 'proof');
  const older = openCheckpoint(olderNote, logKey);
  const newer = openCheckpoint(newerNote, logKey);
  if (older.size !== proof.old || newer.size !== proof.new) {
    throw new ChioError('PROOF_INVALID', `the proof is from size ${proof.old} to ${proof.new}, the checkpoints are of sizes ${older.size} and ${newer.size}`);
  }
  checkTree(hashes, newer.size, newer.root, older.size, older.root);
  return { older, newer };
}
