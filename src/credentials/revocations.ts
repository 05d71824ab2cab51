/**
 * Revoked capability ids (SPEC §3), mirrored in memory from the revocations bucket
 * (src/store/revocations.ts) by a watcher, so a Check looks a revocation up without I/O and a
 * `chio token revoke` reaches every authz within the watch's delivery time (milliseconds).
 */
import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import { revocationKey } from '../store/revocations.js';

/** Revocations held in memory at most; past this every capability counts as revoked (fail closed). */
export const MAX_REVOCATIONS = 1_000_000;

export class RevocationList {
  private readonly revoked = new Set<string>();
  /** Set when a revocation could not be held or the watch ended: then nothing is trusted. */
  private broken: string | undefined;
  private stopWatch: (() => void) | undefined;

  private constructor(private readonly log: Logger) {}

  /** Load every revocation from the bucket and keep following changes; resolves once loaded. */
  static async open(kv: KV, log: Logger): Promise<RevocationList> {
    const list = new RevocationList(log);
    const status = await kv.status();
    const watch = await kv.watch({ headers_only: true });
    list.stopWatch = () => watch.stop();
    let markLoaded!: () => void;
    const loaded = new Promise<void>((resolve) => (markLoaded = resolve));
    if (status.values === 0) markLoaded();
    void (async () => {
      for await (const e of watch) {
        if (e.operation === 'PUT') list.add(e.key);
        else list.revoked.delete(e.key);
        if (e.delta === 0) markLoaded();
      }
    })().catch((err) => {
      list.broken = `revocation watch failed: ${String(err)}`;
      log.error({ err: String(err) }, 'revocation watch failed; every capability now counts as revoked');
    });
    await loaded;
    return list;
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
    this.stopWatch?.();
  }

  private add(key: string): void {
    if (this.revoked.size >= MAX_REVOCATIONS) {
      this.broken = `more than ${MAX_REVOCATIONS} revocations`;
      this.log.error({ max: MAX_REVOCATIONS }, 'revocation list is full; every capability now counts as revoked');
      return;
    }
    this.revoked.add(key);
  }
}
