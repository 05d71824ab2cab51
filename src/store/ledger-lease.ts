/**
 * The ledger's writer lease (SPEC §6: one ledger writes, a second waits as a standby).
 *
 * The lease is the `holder` member of the ledger's state record (ledger-state.ts), so holding
 * the lease and committing the tree are the same revision-checked write:
 *
 *   - take:    a standby writes {size, streamSeq, holder: me} at the revision it read, when the
 *              record names no holder, or when its revision has not changed for `ttlMs` by the
 *              standby's own monotonic clock (the holder stopped renewing). No wall clocks are
 *              compared between machines.
 *   - renew:   the holder rewrites the same record at the revision it last wrote, every
 *              `renewMs`; a batch commit (a new size and streamSeq) renews it too.
 *   - fence:   every write of the record names the revision its writer last wrote. Once a
 *              standby has taken over, the old holder's next renew or commit fails, whatever
 *              it was paused for (a GC pause, a stopped VM): it can never commit again, and it
 *              steps down. A commit that fails this way throws LEDGER_FENCED.
 *   - release: a clean stop writes the record without a holder, so a standby takes over at its
 *              next look instead of after `ttlMs`.
 *   - reclaim: a record naming this ledger's own id, or the `formerHolder` id its caller knows
 *              an ended run of this same ledger held (a killed `chio up`, src/up-ledger-holder.ts),
 *              is taken at once, as a free one: no one renews it. The holder id stays one per
 *              process, so a second ledger that is still running is never mistaken for one's own.
 *
 * Renewals and commits of one process go through one queue: two of its own writes at the same
 * revision would fence each other.
 *
 * A read or write of the record still waiting when the NATS connection comes back was never
 * answered and never will be: given a bucket whose requests end at a reconnect (the ledger's
 * are, nats/reconnects.ts ReconnectGuard.guarded), it fails then, with an unknown outcome,
 * instead of holding the queue until the NATS client's 5 s request timeout, so the lease is
 * renewed or taken again at the next tick or look after a NATS outage. That stays safe because
 * nothing is taken from a write whose answer did not come: this ledger's revision, `held` and
 * committed state change only on an answer. If such a write was stored after all, the record
 * is at a revision this ledger never learnt, so its next renew or commit fails the revision
 * check and it steps down (and, the record naming it, takes the lease back at its next look at
 * the record's real revision); a standby that saw that revision counts its TTL from it. Every
 * write still names the revision its writer last knew, so of two writes at one revision (the
 * one left behind and its successor, should the first still reach the stream) one is refused.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { KV } from '@nats-io/kv';
import { ChioError } from '../errors/index.js';
import { readLedgerRecord, treeStateOf, writeLedgerRecord, type LedgerRecord, type LedgerState, type RevisionedRecord } from './ledger-state.js';

/** A lease not renewed for this long may be taken over: within TTL + two standby polls of its last renewal (the poll that sees it, the poll that takes it). */
export const DEFAULT_LEASE_TTL_MS = 3_000;
/** The holder renews this often: three renewals per TTL. */
export const DEFAULT_LEASE_RENEW_MS = 1_000;
/** A standby looks at the lease this often. */
export const DEFAULT_LEASE_POLL_MS = 500;

/** How a lease was taken: it was free (no holder, or released), or its holder stopped renewing. */
export type Acquisition = 'free' | 'takeover';

export interface LedgerLeaseOptions {
  /** This ledger's id in the record; unique per process by default (newLedgerHolderId). */
  holder?: string;
  /** The id an earlier run of this same ledger held the lease under, known to have ended: a record naming it is taken at once. */
  formerHolder?: string;
  ttlMs?: number;
  /** Monotonic milliseconds (performance.now by default). */
  now?: () => number;
}

/** A holder id of its own for each process: host name, pid and a random part. */
export function newLedgerHolderId(): string {
  return `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
}

export class LedgerLease {
  readonly holder: string;
  private readonly formerHolder: string | undefined;
  private readonly ttlMs: number;
  private readonly now: () => number;
  private revision = 0;
  private committed: LedgerState = { size: 0, streamSeq: 0 };
  private held = false;
  /** The record revision a standby last saw, and since when (by `now`). */
  private observed = { revision: -1, since: 0, holder: undefined as string | undefined };
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly kv: KV, opts: LedgerLeaseOptions = {}) {
    this.holder = opts.holder ?? newLedgerHolderId();
    this.formerHolder = opts.formerHolder;
    this.ttlMs = opts.ttlMs ?? DEFAULT_LEASE_TTL_MS;
    this.now = opts.now ?? (() => performance.now());
  }

  get isHeld(): boolean {
    return this.held;
  }

  /** The holder seen at the last look (this ledger's id while it holds the lease). */
  get currentHolder(): string | undefined {
    return this.held ? this.holder : this.observed.holder;
  }

  /** The committed state as of this holder's last write. Only meaningful while held. */
  get state(): LedgerState {
    return this.committed;
  }

  /** One look at the record: take the lease if it is free or expired. */
  tryAcquire(): Promise<Acquisition | undefined> {
    return this.serialised(async () => {
      if (this.held) return undefined;
      const { record, revision } = await this.read();
      const now = this.now();
      let how: Acquisition;
      if (record.holder === undefined || record.holder === this.holder || record.holder === this.formerHolder) how = 'free';
      else if (revision !== this.observed.revision) {
        this.observed = { revision, since: now, holder: record.holder };
        return undefined;
      } else if (now - this.observed.since < this.ttlMs) return undefined;
      else how = 'takeover';
      // The whole tree state, digest included: a take that dropped it left the next ledger only the weaker last-leaf check (stream-anchor.ts).
      const written = await this.writeAt({ ...treeStateOf(record), holder: this.holder }, revision);
      if (written === undefined) return undefined; // someone else wrote first; look again later
      this.revision = written;
      this.committed = treeStateOf(record);
      this.held = true;
      return how;
    });
  }

  /** Rewrite the record at our revision; false when the lease was lost (and is then not held). */
  renew(): Promise<boolean> {
    return this.serialised(async () => {
      if (!this.held) return false;
      return (await this.write(this.committed)) !== undefined;
    });
  }

  /** Whether the record is, read now, still the one this holder last wrote: a writer paused past its lease is told so before it changes what another wrote. */
  stillHeld(): Promise<boolean> {
    return this.serialised(async () => this.held && (await this.read()).revision === this.revision);
  }

  /** Commit a new tree state under the lease. Throws LEDGER_FENCED when the lease was lost. */
  commit(state: LedgerState): Promise<void> {
    return this.serialised(async () => {
      if (!this.held) throw new ChioError('LEDGER_FENCED', 'this ledger does not hold the writer lease');
      if ((await this.write(state)) === undefined) throw new ChioError('LEDGER_FENCED', 'another ledger took the writer lease; not committing');
      this.committed = treeStateOf(state);
    });
  }

  /** Give the lease up (a clean stop): the record keeps the state, without a holder. */
  release(): Promise<void> {
    return this.serialised(async () => {
      if (!this.held) return;
      this.held = false;
      await this.writeAt(this.committed, this.revision);
    });
  }

  /** Forget the lease without writing (after losing it, or when it can no longer be renewed in time). */
  drop(): void {
    this.held = false;
    this.observed = { revision: -1, since: 0, holder: undefined };
  }

  private async write(state: LedgerState): Promise<number | undefined> {
    const written = await this.writeAt({ ...treeStateOf(state), holder: this.holder }, this.revision);
    if (written === undefined) this.drop();
    else this.revision = written;
    return written;
  }

  private read(): Promise<RevisionedRecord> {
    return readLedgerRecord(this.kv);
  }

  private writeAt(record: LedgerRecord, revision: number): Promise<number | undefined> {
    return writeLedgerRecord(this.kv, record, revision);
  }

  private serialised<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
