/**
 * Requests a reconnect left behind. nats.js keeps what is sent while the connection is down in
 * a buffer that it drops when it dials again, and the reply to a request that went out before
 * the connection broke was bound for a socket that is gone: a request still waiting when the
 * connection comes back is never answered, and ends only at its own timeout (5 s for JetStream
 * and KV requests). Work done one request at a time (the ledger's writer lease) would wait that
 * out after NATS is back. `guard` ends the wait at the reconnect instead.
 *
 * Such a request failed with an unknown outcome: it may have been carried out before the
 * connection broke. Its caller must treat it as it treats a timeout, which is no more certain.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { ChioError } from '../errors/index.js';

export class ReconnectGuard {
  /** Ends each request being waited on, failed as left behind by a reconnect. */
  private readonly waiting = new Set<() => void>();
  private stopped = false;

  constructor(nc: NatsConnection) {
    void this.follow(nc);
  }

  /** `work`'s outcome, or ChioError('UNAVAILABLE') when the connection comes back before it settles. */
  guard<T>(work: Promise<T>, what: string): Promise<T> {
    // Left to settle on its own (at its timeout, as a rule): a late rejection is expected.
    work.catch(() => undefined);
    return new Promise<T>((resolve, reject) => {
      const abandon = () => reject(new ChioError('UNAVAILABLE', `${what}: sent before NATS reconnected, so never answered; its outcome is unknown`));
      this.waiting.add(abandon);
      work.then(resolve, reject).finally(() => this.waiting.delete(abandon));
    });
  }

  stop(): void {
    this.stopped = true;
  }

  private async follow(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (this.stopped) return;
      if (status.type !== 'reconnect') continue;
      const left = [...this.waiting];
      this.waiting.clear();
      for (const abandon of left) abandon();
    }
  }
}
