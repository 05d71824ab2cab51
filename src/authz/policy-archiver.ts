/**
 * Archives every policy set authz loads (SPEC §4, §7): the set loaded at start-up before the
 * first Check, and each set a reload would swap in, before it is swapped in (PolicyWatcher
 * waits for archiveNow). A receipt names its policy hash; the archive is what turns that hash
 * back into the policy text, so no set decides a Check before the archive holds it: one that
 * cannot be archived is not swapped in, and the watcher tries again at its next reload.
 */
import type { ObjectStore } from '@nats-io/obj';
import type { Logger } from 'pino';
import { archivePolicySet } from '../store/policy-archive.js';

export interface ArchivablePolicySet {
  hash: string;
  canonical: Uint8Array;
}

export class PolicyArchiver {
  constructor(
    private readonly store: ObjectStore,
    private readonly log: Logger,
  ) {}

  /** Archive now; throws when the store refuses (start-up fails, a reload keeps the current set). */
  async archiveNow(set: ArchivablePolicySet): Promise<void> {
    await archivePolicySet(this.store, set.hash, set.canonical);
    this.log.info({ policy_hash: set.hash }, 'policy set archived');
  }
}
