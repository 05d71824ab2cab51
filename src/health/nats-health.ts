/**
 * Is NATS, and JetStream behind it, usable right now? Two signals, kept current in the
 * background so that readiness checks stay synchronous:
 *
 * - the connection's status events: a `disconnect` makes the process not ready at once (before
 *   any probe could notice), a `reconnect` probes JetStream at once (not waiting for a probe
 *   sent while disconnected, which is never answered);
 * - a probe of JetStream itself (the receipts stream's state), every PROBE_INTERVAL_MS while
 *   ready and every RETRY_INTERVAL_MS while not, each given PROBE_TIMEOUT_MS. It catches what
 *   the connection cannot show: JetStream disabled or without a leader, the stream missing, a
 *   server that holds the TCP connection but no longer answers.
 *
 * So a process is reported not ready within about a probe interval plus a timeout of JetStream
 * becoming unusable (at once for a lost connection), and ready again within RETRY_INTERVAL_MS
 * of a successful reconnect and probe.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { JetStreamManager } from '@nats-io/jetstream';
import { readLastStreamSeq } from '../store/receipts.js';
import { beforeDeadline } from '../time.js';
import { boundedText } from '../text.js';

/** Probe JetStream this often while it answers. */
export const PROBE_INTERVAL_MS = 1000;
/** Probe this often while it does not, so that recovery is seen within a quarter second. */
export const RETRY_INTERVAL_MS = 250;
/** A probe not answered within this is a failure. */
export const PROBE_TIMEOUT_MS = 1000;
/** Reasons are shown on /ready: keep them one short line. */
const MAX_REASON_CHARS = 200;

export interface NatsHealthOptions {
  nc: NatsConnection;
  jsm: JetStreamManager;
  /** Told when the verdict changes: undefined when usable again, else why not. */
  onChange?: (problem: string | undefined) => void;
  probeIntervalMs?: number;
  retryIntervalMs?: number;
  probeTimeoutMs?: number;
}

export class NatsHealth {
  private readonly opts: NatsHealthOptions;
  private current: string | undefined;
  private connected = true;
  /** Bumped on every disconnect and reconnect: a probe begun before either no longer counts. */
  private epoch = 0;
  private probing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private streamSeq = 0;

  constructor(opts: NatsHealthOptions) {
    this.opts = opts;
  }

  /** Probe once, then follow the connection and keep probing until stop(). */
  async start(): Promise<void> {
    void this.follow();
    await this.probe();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Why NATS or JetStream is not usable, or undefined when it is. */
  get problem(): string | undefined {
    if (this.opts.nc.isClosed()) return 'NATS connection is closed';
    return this.current;
  }

  /** The receipts stream's last sequence, as of the last successful probe. */
  get lastStreamSeq(): number {
    return this.streamSeq;
  }

  private async follow(): Promise<void> {
    for await (const status of this.opts.nc.status()) {
      if (this.stopped) return;
      if (status.type === 'disconnect') {
        this.connected = false;
        this.epoch += 1;
        this.set('NATS is disconnected');
      } else if (status.type === 'reconnect') {
        // A probe sent while disconnected was buffered and is never answered: waiting for it
        // to time out would keep the process not ready for up to PROBE_TIMEOUT_MS after NATS
        // is back, saying JetStream does not answer. Its result no longer counts; probe afresh.
        this.connected = true;
        this.epoch += 1;
        this.probing = undefined;
        void this.probe();
      }
    }
  }

  /**
   * One probe at a time (but for one a reconnect left behind); its result counts only if no
   * disconnect or reconnect came while it ran.
   */
  private probe(): Promise<void> {
    if (this.probing) return this.probing;
    const probing = this.probeOnce().finally(() => {
      if (this.probing !== probing) return; // left behind by a reconnect: the new probe schedules
      this.probing = undefined;
      this.schedule();
    });
    this.probing = probing;
    return probing;
  }

  private async probeOnce(): Promise<void> {
    const epoch = this.epoch;
    try {
      const seq = await beforeDeadline(readLastStreamSeq(this.opts.jsm), Date.now() + (this.opts.probeTimeoutMs ?? PROBE_TIMEOUT_MS), 'JetStream probe');
      if (epoch !== this.epoch || !this.connected) return;
      this.streamSeq = seq;
      this.set(undefined);
    } catch (err) {
      if (epoch !== this.epoch) return;
      this.set(this.connected ? `JetStream is not usable: ${describe(err)}` : 'NATS is disconnected');
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const wait = this.current === undefined ? (this.opts.probeIntervalMs ?? PROBE_INTERVAL_MS) : (this.opts.retryIntervalMs ?? RETRY_INTERVAL_MS);
    this.timer = setTimeout(() => void this.probe(), wait);
    this.timer.unref();
  }

  private set(problem: string | undefined): void {
    if (problem === this.current) return;
    this.current = problem;
    this.opts.onChange?.(problem);
  }
}

/** One line from whatever the probe threw: NATS errors carry no credentials, but may be long. */
function describe(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return boundedText(text.replace(/\s+/g, ' '), MAX_REASON_CHARS);
}
