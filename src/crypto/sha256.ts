/** Hex SHA-256 with node:crypto, for the hot path (credential hashes, receipt ids, policy hashes). */
import { createHash } from 'node:crypto';

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Raw SHA-256 with node:crypto (receipt/batch.ts takes it for batch paths). */
export function sha256Node(data: Uint8Array): Uint8Array {
  return createHash('sha256').update(data).digest();
}

const LEAF_PREFIX = new Uint8Array([0]);

/** RFC 6962 leaf hash, SHA-256(0x00 ‖ data), with node:crypto (tlog's leafHash is the portable one). */
export function leafHashNode(data: Uint8Array): Uint8Array {
  return createHash('sha256').update(LEAF_PREFIX).update(data).digest();
}
