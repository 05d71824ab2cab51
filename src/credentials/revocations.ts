/**
 * Revoked capability ids (SPEC §3), kept in the JetStream KV bucket `chio-revocations` and
 * mirrored in memory by a watcher, so a Check looks a revocation up without I/O and a
 * `chio token revoke` reaches every authz within the watch's delivery time (milliseconds).
 *
 * Keys are hex SHA-256 of the capability id: ids come from tokens (any characters), KV keys
 * may not. Values say when and why; nothing is ever stored about the token itself.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { StorageType } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { sha256Hex } from '../crypto/sha256.js';
import { utf8 } from '../encoding.js';

export const REVOCATIONS_BUCKET = 'chio-revocations';
/** Revocations held in memory at most; past this every capability counts as revoked (fail closed). */
export const MAX_REVOCATIONS = 1_000_000;

export function revocationKey(capabilityId: string): string {
  return sha256Hex(utf8(capabilityId));
}

export async function openRevocationsBucket(nc: NatsConnection, replicas = 1): Promise<KV> {
  return new Kvm(nc).create(REVOCATIONS_BUCKET, { replicas, history: 1, storage: StorageType.File });
}

/** Revoke a capability id. */
export async function revokeCapability(kv: KV, capabilityId: string, reason?: string): Promise<void> {
  await kv.put(revocationKey(capabilityId), JSON.stringify({ revoked_at: new Date().toISOString(), ...(reason ? { reason } : {}) }));
}

export class RevocationList {
  private readonly revoked = new Set<string>();
  private loaded = false;
  /** Set when a revocation could not be held or the watch ended: then nothing is trusted. */
  private broken: string | undefined;
  private stopWatch: (() => void) | undefined;

  private constructor(private readonly log: Logger) {}

  /** Open the bucket, load every revocation, and keep following changes. */
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
    list.loaded = true;
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

  get ready(): boolean {
    return this.loaded;
  }

  get size(): number {
    return this.revoked.size;
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
