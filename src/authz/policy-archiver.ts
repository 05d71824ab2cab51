/**
 * Archives every policy set authz loads (SPEC §4, §7): the set loaded at start-up before the
 * first Check, and each set a reload swaps in. A receipt names its policy hash; the archive is
 * what turns that hash back into the policy text, so a set that could not be archived is
 * retried every ARCHIVE_RETRY_MS until it is, and /ready says so meanwhile.
 */
import type { ObjectStore } from '@nats-io/obj';
import type { Logger } from 'pino';
import { archivePolicySet } from '../store/policy-archive.js';

/** Wait between two attempts to archive a set that failed. */
export const ARCHIVE_RETRY_MS = 1000;

export interface ArchivablePolicySet {
  hash: string;
  canonical: Uint8Array;
}

export class PolicyArchiver {
  /** Sets loaded but not archived yet, by hash. */
  private readonly waiting = new Map<string, Uint8Array>();
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly store: ObjectStore,
    private readonly log: Logger,
  ) {}

  /** Archive now; throws when the store refuses (start-up fails rather than sign unarchived hashes). */
  async archiveNow(set: ArchivablePolicySet): Promise<void> {
    await archivePolicySet(this.store, set.hash, set.canonical);
    this.log.info({ policy_hash: set.hash }, 'policy set archived');
  }

  /** Archive in the background, retrying until it is stored or the archiver stops. */
  archive(set: ArchivablePolicySet): void {
    this.waiting.set(set.hash, set.canonical);
    void this.flush();
  }

  /** Why /ready should say no: a loaded set is not archived yet. */
  get problem(): string | undefined {
    const first = this.waiting.keys().next();
    return first.done ? undefined : `policy set ${first.value} is not archived yet`;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
  }

  private async flush(): Promise<void> {
    for (const [hash, canonical] of this.waiting) {
      try {
        await this.archiveNow({ hash, canonical });
        this.waiting.delete(hash);
      } catch (err) {
        this.log.error({ err: String(err), policy_hash: hash }, 'policy set not archived; retrying');
        if (!this.stopped) {
          clearTimeout(this.retry);
          this.retry = setTimeout(() => void this.flush(), ARCHIVE_RETRY_MS);
          this.retry.unref();
        }
        return;
      }
    }
  }
}
