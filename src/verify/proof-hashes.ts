/**
 * Proof hashes as the verifier API sends them (SPEC §7): a JSON list of base64 strings, each a
 * 32-byte SHA-256, at most MAX_PROOF_LENGTH of them (no tree has more levels).
 */
import { ChioError } from '../errors/index.js';
import { fromBase64 } from '../encoding.js';
import { HASH_SIZE, MAX_PROOF_LENGTH, type Hash } from '../tlog/index.js';

/** Decode the proof list named `field` of an answer; throws ChioError('MALFORMED'). */
export function decodeProofHashes(list: unknown, field: string): Hash[] {
  // Attacker-controlled: the list, its length and every element.
  if (!Array.isArray(list) || list.length > MAX_PROOF_LENGTH) throw new ChioError('MALFORMED', `${field} is not a list of hashes`);
  return list.map((h: unknown) => {
    const hash = typeof h === 'string' ? fromBase64(h) : new Uint8Array();
    if (hash.length !== HASH_SIZE) throw new ChioError('MALFORMED', `a ${field} hash is not ${HASH_SIZE} bytes`);
    return hash;
  });
}
