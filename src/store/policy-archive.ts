/**
 * The policy archive, the `chio-policies` object store: every policy set authz has loaded,
 * under its policy hash (`sha256:<hex>`), as the JCS bytes of the normalised set — the very
 * bytes whose SHA-256 is the hash (SPEC §4, src/policy/policy-set.ts). So any receipt's
 * `policy_hash` leads to the exact policy that decided it, and anyone can check the bytes.
 *
 * A name holds one content forever (the hash names it), so archiving a set that is already
 * there writes nothing.
 */
import type { ObjectStore } from '@nats-io/obj';
import { ChioError } from '../errors/index.js';
import { MAX_ARCHIVED_POLICY_BYTES } from '../verify/export-format.js';

export const POLICY_HASH_PATTERN = /^sha256:[0-9a-f]{64}$/;
/** Largest archived set read back (defined with the bundle format, whose policy files are these sets). */
export { MAX_ARCHIVED_POLICY_BYTES };

/** Archive a policy set's canonical bytes under its hash; a no-op when the hash is archived. */
export async function archivePolicySet(store: ObjectStore, policyHash: string, canonical: Uint8Array): Promise<void> {
  if (!POLICY_HASH_PATTERN.test(policyHash)) throw new ChioError('MALFORMED', `${policyHash} is not a policy hash`);
  const existing = await store.info(policyHash);
  if (existing && !existing.deleted) return;
  await store.putBlob({ name: policyHash }, canonical);
}

/** The archived bytes of `policyHash`, unchecked; undefined when it was never archived. */
export async function readArchivedPolicySet(store: ObjectStore, policyHash: string): Promise<Uint8Array | undefined> {
  const info = await store.info(policyHash);
  if (!info || info.deleted) return undefined;
  if (info.size > MAX_ARCHIVED_POLICY_BYTES) throw new ChioError('INTERNAL', `archived policy set ${policyHash} is ${info.size} bytes, over ${MAX_ARCHIVED_POLICY_BYTES}`);
  return (await store.getBlob(policyHash)) ?? undefined;
}
