/** Hex SHA-256 with node:crypto, for the hot path (credential hashes, receipt ids, policy hashes). */
import { createHash } from 'node:crypto';

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
