/**
 * The checkpoints the verifier answers with, read from the checkpoints stream and served only
 * once they verify with the log key. A message on the subject that does not (someone else's)
 * is passed over; when none of the recent ones verifies, that is an alarm, a 500.
 *
 * The latest checkpoint is read again at most every LATEST_REUSE_MS, and at once when a
 * receipt's leaf lies past the one in hand, so a hot proof path costs no stream read for it
 * and a freshly published receipt is never answered "pending" because of the reuse. Each
 * distinct note is opened (an Ed25519 check) once. A checkpoint of a given size is found by
 * binary search over the stream: sizes never decrease along it (SPEC §6: the ledger signs no
 * two inconsistent checkpoints), and a found one never changes, so it is kept. So does a miss
 * at or below the latest size (no checkpoint of that size will ever be published); a size past
 * the latest is answered from the latest alone; and requests for one size share one search.
 * `?size=N` is anyone's to ask, and a search is some twenty reads of the stream the ledger
 * writes to (more, at most 128 a probe, where messages that are no checkpoint lie around it),
 * each an Ed25519 check. What a probe found at a stream sequence never changes, so the last
 * MAX_PROBES_KEPT are kept: every search walks the same top of the binary tree, and a client
 * asking for one distinct size after another pays only for the levels below it (about 8 reads
 * instead of 21 on a log of a million checkpoints, once a few hundred searches have run).
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import { readCheckpointAt, readLatestVerifiedCheckpoint } from '../store/checkpoints.js';
import { openCheckpoint, type Checkpoint } from '../tlog/index.js';
import { InFlight, sharedAnswer } from '../in-flight.js';

/** How long one read of the latest checkpoint answers requests. */
export const LATEST_REUSE_MS = 100;
/** Sizes whose checkpoint (or its absence) is kept once looked up. */
export const MAX_SIZED_KEPT = 1024;
/** Probes (what a stream sequence holds: a checkpoint of this log and its size, or not) kept. */
export const MAX_PROBES_KEPT = 4096;
/** Messages read each way past one that is no checkpoint of this log, looking for one that is. */
export const MAX_FOREIGN_SKIP = 64;

type Probe = { kind: 'none' } | { kind: 'foreign' } | { kind: 'ours'; note: string; size: number };

export interface ServedCheckpoint {
  /** The signed note, verbatim. */
  note: string;
  checkpoint: Checkpoint;
}

export class CheckpointSource {
  private last: { at: number; served: ServedCheckpoint } | undefined;
  /** The stream sequence of each latest checkpoint read (a search starts from it). */
  private readonly streamSeqOf = new WeakMap<ServedCheckpoint, number>();
  private opened: ServedCheckpoint | undefined;
  /** By size: its checkpoint, or null when none was published (and none ever will be). */
  private readonly sized = new Map<number, ServedCheckpoint | null>();
  private readonly searching = new InFlight<number, ServedCheckpoint | undefined>();
  /** By stream sequence: what a probe found there (never 'none': a read may yet find it). */
  private readonly probes = new Map<number, Probe>();
  /** The latest checkpoint read from the stream, shared while it is read. */
  private readonly readLatest = sharedAnswer(async () => {
    const at = this.now();
    // Only a note that verifies: a message someone else put on the subject is passed over.
    const { checkpoint: found, last } = await readLatestVerifiedCheckpoint(this.jsm, this.logKey);
    // None of the recent ones verifies: the log key is not this log's, or worse. An alarm (500).
    if (!found && last) this.open(last.note);
    if (!found) return undefined; // not kept: the first checkpoint is looked for every time
    const served = this.open(found.note);
    this.streamSeqOf.set(served, found.streamSeq);
    this.last = { at, served };
    return served;
  });

  constructor(
    private readonly jsm: JetStreamManager,
    private readonly logKey: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** The latest checkpoint, at most LATEST_REUSE_MS old; undefined before the first. */
  async latest(): Promise<ServedCheckpoint | undefined> {
    if (this.last && this.now() - this.last.at < LATEST_REUSE_MS) return this.last.served;
    return this.readLatest();
  }

  /** The latest checkpoint, read again when the one in hand does not cover leaf `index`. */
  async latestCovering(index: number): Promise<ServedCheckpoint | undefined> {
    const cp = await this.latest();
    return cp && index < cp.checkpoint.size ? cp : this.readLatest();
  }

  /** The first checkpoint published with tree size `size`; undefined when none was. */
  async ofSize(size: number): Promise<ServedCheckpoint | undefined> {
    const kept = this.sized.get(size);
    if (kept !== undefined) return kept ?? undefined;
    return this.searching.run(size, () => this.search(size));
  }

  private async search(size: number): Promise<ServedCheckpoint | undefined> {
    let cp = await this.latest();
    if (cp && size > cp.checkpoint.size) cp = await this.readLatest();
    if (!cp || size > cp.checkpoint.size) return undefined; // not yet: not kept
    const streamSeq = this.streamSeqOf.get(cp);
    const latest = streamSeq !== undefined ? { note: cp.note, streamSeq } : (await readLatestVerifiedCheckpoint(this.jsm, this.logKey)).checkpoint;
    if (!latest) return undefined;
    // The first stream sequence in [1, latest] whose checkpoint has at least `size` leaves.
    // Messages that are no checkpoint of this log (someone else's, or copies a consumer
    // delivered onto the subject) are not in the order: a probe that lands on one looks for
    // the nearest checkpoint of this log around it, and gives up (nothing kept) past a bound.
    let low = 1;
    let high = latest.streamSeq;
    let found: string | undefined;
    const at = async (seq: number): Promise<Probe> => {
      const kept = this.probes.get(seq);
      if (kept) {
        // Least recently used goes first: the top of the tree, used by every search, stays.
        this.probes.delete(seq);
        this.probes.set(seq, kept);
        return kept;
      }
      const note = seq === latest.streamSeq ? latest.note : (await readCheckpointAt(this.jsm, seq))?.note;
      if (note === undefined) return { kind: 'none' };
      const probe: Probe = this.verifies(note) ? { kind: 'ours', note, size: sizeOfNote(note) } : { kind: 'foreign' };
      if (this.probes.size >= MAX_PROBES_KEPT) this.probes.delete(this.probes.keys().next().value!);
      this.probes.set(seq, probe);
      return probe;
    };
    while (low <= high) {
      const mid = Math.floor((low + high) / 2);
      const probe = await at(mid);
      if (probe.kind === 'none') {
        high = mid - 1; // not there (deleted): nothing from here is known; look left
        continue;
      }
      const near = probe.kind === 'ours' ? { seq: mid, probe } : await this.nearestOurs(at, mid, low, high);
      if (near === 'unknown') return undefined; // too many foreign messages around: not kept
      if (near === 'none') break; // only foreign ones left in [low, high]
      // Every message between the checkpoint found and the probe is foreign: step past both.
      if (near.probe.size < size) low = Math.max(near.seq, mid) + 1;
      else {
        if (near.probe.size === size) found = near.probe.note;
        high = Math.min(near.seq, mid) - 1;
      }
    }
    if (found !== undefined) return this.keep(size, this.open(found)) ?? undefined;
    // Sizes only grow along the stream and `size` is below the latest: a miss is for good.
    return this.keep(size, null) ?? undefined;
  }

  /**
   * The checkpoint of this log nearest to `mid` within [low, high] (left first, then right), at
   * most MAX_FOREIGN_SKIP reads each way; 'none' when the whole range holds none, 'unknown'
   * when the bound ran out first.
   */
  private async nearestOurs(at: (seq: number) => Promise<Probe>, mid: number, low: number, high: number): Promise<{ seq: number; probe: Extract<Probe, { kind: 'ours' }> } | 'none' | 'unknown'> {
    let exhausted = true;
    for (const step of [-1, 1]) {
      const end = step < 0 ? low : high;
      let seq = mid + step;
      for (let n = 0; step < 0 ? seq >= end : seq <= end; seq += step, n++) {
        if (n >= MAX_FOREIGN_SKIP) {
          exhausted = false;
          break;
        }
        const probe = await at(seq);
        if (probe.kind === 'ours') return { seq, probe };
      }
    }
    return exhausted ? 'none' : 'unknown';
  }

  private verifies(note: string): boolean {
    try {
      this.open(note);
      return true;
    } catch {
      return false;
    }
  }

  private keep(size: number, served: ServedCheckpoint | null): ServedCheckpoint | null {
    if (this.sized.size >= MAX_SIZED_KEPT) this.sized.delete(this.sized.keys().next().value!);
    this.sized.set(size, served);
    return served;
  }

  private open(note: string): ServedCheckpoint {
    if (this.opened?.note === note) return this.opened;
    this.opened = { note, checkpoint: openCheckpoint(note, this.logKey) };
    return this.opened;
  }
}

/** The tree size on a note's second line, unverified (the note is opened before it is served). */
function sizeOfNote(note: string): number {
  const line = note.split('\n', 2)[1];
  return line !== undefined && /^[0-9]{1,16}$/.test(line) ? Number(line) : Number.NaN;
}
