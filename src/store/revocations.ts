/**
 * Revocations, the `chio-revocations` KV bucket (SPEC §3): hex SHA-256 of a capability id →
 * {"revoked_at": <RFC 3339>, "reason"?: <text>}.
 *
 * Keys are hashes because ids come from tokens (any characters) and KV keys may not hold every
 * character. Nothing about the token itself is stored. Authz mirrors the bucket in memory
 * (src/credentials/revocations.ts).
 */
import type { KV } from '@nats-io/kv';
import { sha256HexOfText } from '../crypto/sha256.js';

/** The bucket key of a capability id. */
export function revocationKey(capabilityId: string): string {
  return sha256HexOfText(capabilityId);
}

/** Revoke a capability id. */
export async function revokeCapability(revocations: KV, capabilityId: string, reason?: string, now: () => number = Date.now): Promise<void> {
  const value = { revoked_at: new Date(now()).toISOString(), ...(reason ? { reason } : {}) };
  await revocations.put(revocationKey(capabilityId), JSON.stringify(value));
}
