/**
 * Revoked capability ids (SPEC §3), mirrored in memory from the revocations bucket
 * (src/store/revocations.ts) by a watcher, so a Check looks a revocation up without I/O and a
 * `chio token revoke` reaches every authz within the watch's delivery time (milliseconds).
 */
import type { KV } from '@nats-io/kv';
import { JetStreamApiError } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { revocationKey } from '../store/revocations.js';

/** Revocations held in memory at most; past this every capability counts as revoked (fail closed). */
export const MAX_REVOCATIONS = 1_000_000;

/**
 * How often the bucket is looked at to see that it is still the one watched. A bucket deleted
 * and made again (by `chio token revoke`, once it is gone) leaves the watch waiting on a stream
 * that no longer exists, silently: revocations made since would never arrive.
 */
export const BUCKET_CHECK_MS = 5_000;

export class RevocationList {
  private readonly revoked = new Set<string>();
  /** Set when a revocation could not be held or the watch ended: then nothing is trusted. */
  private broken: string | undefined;
  private stopWatch: (() => void) | undefined;
  private checker: ReturnType<typeof setInterval> | undefined;

  private constructor(private readonly log: Logger) {}

  /** Load every revocation from the bucket and keep following changes; resolves once loaded. */
  static async open(kv: KV, log: Logger, checkEveryMs = BUCKET_CHECK_MS): Promise<RevocationList> {
    const list = new RevocationList(log);
    const status = await kv.status();
    const created = status.streamInfo.created;
    const watch = await kv.watch({ headers_only: true });
    let stopped = false;
    list.stopWatch = () => {
      stopped = true;
      watch.stop();
    };
    let markLoaded!: () => void;
    const loaded = new Promise<void>((resolve) => (markLoaded = resolve));
    if (status.values === 0) markLoaded();
    void (async () => {
      for await (const e of watch) {
        if (e.operation === 'PUT') list.add(e.key);
        else list.revoked.delete(e.key);
        if (e.delta === 0) markLoaded();
      }
      if (!stopped) list.fail('revocation watch ended');
    })().catch((err) => list.fail(`revocation watch failed: ${String(err)}`));
    list.checker = setInterval(() => void list.checkBucket(kv, created), checkEveryMs);
    list.checker.unref?.();
    await loaded;
    return list;
  }

  /** The bucket is still the one watched: gone, or made again since, means revocations were lost. */
  private async checkBucket(kv: KV, created: string): Promise<void> {
    if (this.broken !== undefined) return;
    let now: string;
    try {
      now = (await kv.status()).streamInfo.created;
    } catch (err) {
      // NATS away is not a lost bucket: the watch resumes when it is back.
      if (err instanceof JetStreamApiError && err.status === 404) this.fail('the revocations bucket was deleted');
      return;
    }
    if (now !== created) this.fail('the revocations bucket was deleted and made again: revocations made before are lost, and this watch sees none made since');
  }

  private fail(why: string): void {
    if (this.broken !== undefined) return;
    this.broken = why;
    this.log.error({ why }, 'revocations cannot be known; every capability now counts as revoked (restart authz once the bucket is right)');
  }

  /** True when the capability id is revoked, or when revocations can no longer be known. */
  isRevoked(capabilityId: string): boolean {
    return this.broken !== undefined || this.revoked.has(revocationKey(capabilityId));
  }

  /** Why revocations cannot be trusted, if they cannot (for /ready). */
  get problem(): string | undefined {
    return this.broken;
  }

  stop(): void {
    clearInterval(this.checker);
    this.stopWatch?.();
  }

  private add(key: string): void {
    if (this.revoked.size >= MAX_REVOCATIONS) {
      this.fail(`more than ${MAX_REVOCATIONS} revocations`);
      return;
    }
    this.revoked.add(key);
  }
}
