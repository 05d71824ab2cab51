/**
 * SHA-256 with node:crypto, for the hot path (credential hashes, receipt ids, policy hashes,
 * batch trees). The one-shot `hash()` skips the Hash object `createHash` builds: about half
 * the cost for a receipt-sized input.
 */
import { hash } from 'node:crypto';

/** Hex SHA-256. */
export function sha256Hex(bytes: Uint8Array): string {
  return hash('sha256', bytes, 'hex');
}

/**
 * Hex SHA-256 of the UTF-8 bytes of `text` (a lone surrogate as U+FFFD, as TextEncoder writes
 * it), encoded inside node:crypto: a credential is hashed on every Check, and building its
 * bytes first with a TextEncoder cost more than the hash.
 */
export function sha256HexOfText(text: string): string {
  return hash('sha256', text, 'hex');
}

/** Raw SHA-256, for tlog/hash.ts and receipt/batch.ts on a Node hot path. */
export function sha256Node(data: Uint8Array): Uint8Array {
  return hash('sha256', data, 'buffer');
}
