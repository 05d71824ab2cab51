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
 * How often the bucket is looked at to see that it is still the one watched, and that the watch
 * keeps up with it. A bucket deleted and made again (by `chio token revoke`, once it is gone)
 * leaves the watch waiting on a stream that no longer exists, silently: revocations made since
 * would never arrive. A watch whose consumer is gone (removed after 5 min without interest,
 * while authz was cut off from a NATS that stayed up; by an operator; with the cluster node
 * that held it) is noticed by nats.js only after two missed idle heartbeats, 30 s apart: for
 * that minute a revocation was not applied and its token allowed. One stream info a look.
 */
export const BUCKET_CHECK_MS = 500;

/**
 * How long a revocation the bucket holds may be on its way to the watch before the watch counts
 * as behind: delivery takes milliseconds, so one still missing this long after the look that
 * saw it in the bucket is not coming. A revocation is thus applied, or every capability denied,
 * within BUCKET_CHECK_MS + WATCH_LAG_MS (750 ms) of reaching the bucket.
 */
export const WATCH_LAG_MS = 250;

export class RevocationList {
  private revoked = new Set<string>();
  /** Set when revocations can no longer be known for good (a lost bucket, too many): nothing is trusted. */
  private broken: string | undefined;
  /** Set while the watch is down (it ended or failed): nothing is trusted until it is open again. */
  private watchDown: string | undefined;
  private stopWatch: (() => void) | undefined;
  private checker: ReturnType<typeof setInterval> | undefined;
  private stopped = false;
  /** A look at the bucket under way (it may wait WATCH_LAG_MS): looks do not overlap. */
  private looking = false;
  /**
   * The stream sequence the current watch has applied the bucket up to: every revocation at or
   * below it is in `revoked`. A bucket whose last sequence stays above it the watch has fallen behind.
   */
  private appliedUpTo = 0;
  /** Which watch is the current one: a stopped one ending later says nothing about it. */
  private generation = 0;

  private constructor(
    private readonly kv: KV,
    private readonly log: Logger,
  ) {}

  /** Load every revocation from the bucket and keep following changes; resolves once loaded. */
  static async open(kv: KV, log: Logger, checkEveryMs = BUCKET_CHECK_MS): Promise<RevocationList> {
    const list = new RevocationList(kv, log);
    const created = (await kv.status()).streamInfo.created;
    await list.watch();
    list.checker = setInterval(() => void list.check(created), checkEveryMs);
    list.checker.unref?.();
    return list;
  }

  /**
   * Watch the bucket: from its start into a fresh set, which replaces the one in use once every
   * revocation is in it, or (`after`, a sequence the set in use is whole up to) from the next
   * sequence on into the set in use, which then needs only what it missed (with 100,000
   * revocations a watch from the start takes about 1.5 s, denying every capability meanwhile).
   * Resolves once loaded. An end or failure of the watch afterwards fails closed until check()
   * opens it again (nats.js ends a watch whose consumer it could not make again, for instance
   * after JetStream was away for minutes).
   */
  private async watch(after?: number): Promise<void> {
    const status = await this.kv.status();
    const watch = await this.kv.watch({ headers_only: true, ...(after === undefined ? {} : { resumeFromRevision: after + 1 }) });
    const generation = ++this.generation;
    this.stopWatch = () => watch.stop();
    const fresh = after === undefined ? new Set<string>() : this.revoked;
    // From the start, a loaded watch has delivered every revocation up to the last sequence
    // before it opened; resumed, every one after `after`, and it is loaded once it has that last one.
    let upTo = after ?? status.streamInfo.state.last_seq;
    let loaded = false;
    let markLoaded!: () => void;
    let failLoad!: (err: Error) => void;
    const ready = new Promise<void>((resolve, reject) => ((markLoaded = resolve), (failLoad = reject)));
    const load = () => {
      loaded = true;
      this.revoked = fresh;
      this.appliedUpTo = upTo;
      this.watchDown = undefined;
      markLoaded();
    };
    if (after === undefined ? status.values === 0 : status.streamInfo.state.last_seq <= after) load();
    void (async () => {
      for await (const e of watch) {
        // A stopped watch's late entries would land, out of order, in the set a resumed one fills.
        if (generation !== this.generation) break;
        if (e.operation === 'PUT') this.add(fresh, e.key);
        else fresh.delete(e.key);
        upTo = Math.max(upTo, e.revision);
        if (loaded) this.appliedUpTo = upTo;
        if (!loaded && e.delta === 0) load();
      }
      // A watch that ends before it has loaded (JetStream gone again just after its consumer was
      // made) would leave `ready` pending for ever: open() hung, and check() stayed `looking`,
      // so the list failed closed until a restart. Rejected, the next check tries again.
      if (!loaded) failLoad(new Error('revocation watch ended before it had loaded'));
      if (generation === this.generation) this.down('revocation watch ended');
    })().catch((err) => {
      if (!loaded) failLoad(new Error(`revocation watch failed before it had loaded: ${String(err)}`));
      if (generation === this.generation) this.down(`revocation watch failed: ${String(err)}`);
    });
    await ready;
  }

  /** Every check, one at a time: see look(). */
  private async check(created: string): Promise<void> {
    if (this.looking) return;
    this.looking = true;
    try {
      await this.look(created);
    } finally {
      this.looking = false;
    }
  }

  /**
   * The bucket is still the one watched, the watch keeps up with it, and a watch that went down
   * or fell behind is opened again.
   */
  private async look(created: string): Promise<void> {
    if (this.broken !== undefined || this.stopped) return;
    let stream: Awaited<ReturnType<KV['status']>>['streamInfo'];
    try {
      stream = (await this.kv.status()).streamInfo;
    } catch (err) {
      // NATS away is not a lost bucket: the watch resumes when it is back.
      if (err instanceof JetStreamApiError && err.status === 404) this.fail('the revocations bucket was deleted');
      return;
    }
    if (stream.created !== created) {
      this.fail('the revocations bucket was deleted and made again: revocations made before are lost, and this watch sees none made since');
      return;
    }
    if (this.watchDown === undefined && (await this.fellBehind(stream.state.last_seq))) {
      this.down('revocation watch fell behind the bucket (its consumer is gone)');
    }
    if (this.watchDown === undefined) return;
    try {
      this.stopWatch?.();
      await this.watch(this.appliedUpTo);
      this.log.info('revocation watch open again; revocations are known');
    } catch (err) {
      this.log.warn({ err: String(err) }, 'revocation watch not open yet; tried again at the next check');
    }
  }

  /** Whether the watch has still not applied the bucket up to `lastSeq` WATCH_LAG_MS after it was read. */
  private async fellBehind(lastSeq: number): Promise<boolean> {
    if (this.appliedUpTo >= lastSeq) return false;
    const generation = this.generation;
    await new Promise((resolve) => setTimeout(resolve, WATCH_LAG_MS));
    return generation === this.generation && this.watchDown === undefined && this.appliedUpTo < lastSeq && !this.stopped;
  }

  /** True when the capability id is revoked, or when revocations cannot be known now. */
  isRevoked(capabilityId: string): boolean {
    return this.broken !== undefined || this.watchDown !== undefined || this.revoked.has(revocationKey(capabilityId));
  }

  /** Why revocations cannot be trusted, if they cannot (for /ready). */
  get problem(): string | undefined {
    return this.broken ?? this.watchDown;
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.checker);
    this.stopWatch?.();
  }

  private down(why: string): void {
    if (this.watchDown !== undefined || this.stopped) return;
    this.watchDown = why;
    this.log.error({ why }, 'revocations cannot be known; every capability counts as revoked until the watch is open again');
  }

  private fail(why: string): void {
    if (this.broken !== undefined) return;
    this.broken = why;
    this.log.error({ why }, 'revocations cannot be known; every capability now counts as revoked (restart authz once the bucket is right)');
  }

  private add(into: Set<string>, key: string): void {
    if (into.size >= MAX_REVOCATIONS) {
      this.fail(`more than ${MAX_REVOCATIONS} revocations`);
      return;
    }
    into.add(key);
  }
}
