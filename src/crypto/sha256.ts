/** Hex SHA-256 with node:crypto, for the hot path (credential hashes, receipt ids, policy hashes). */
import { createHash } from 'node:crypto';

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Raw SHA-256 with node:crypto, for tlog/hash.ts and receipt/batch.ts on a Node hot path. */
export function sha256Node(data: Uint8Array): Uint8Array {
  return createHash('sha256').update(data).digest();
}
