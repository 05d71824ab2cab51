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
 *
 * `guarded` guards every request made through a bucket, object store or JetStream handle, each
 * on its own: code that awaits one of them stops at the reconnect as it would at the request's
 * timeout, and nothing after that await runs, whether or not an answer comes later.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { ChioError } from '../errors/index.js';

/** The members of a JetStream client or manager that are APIs of their own. */
const JETSTREAM_SUB_APIS: ReadonlySet<PropertyKey> = new Set(['streams', 'consumers']);

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

  /**
   * `target` (a KV bucket, an object store, a JetStream client or manager) whose methods' promises
   * are guarded, and so are those of its JetStream sub-APIs (`jsm.streams`, `js.consumers`).
   * What a promise resolves to (a consumer, a message iterator) is the client's own, unguarded.
   */
  guarded<T extends object>(target: T, what: string): T {
    return new Proxy(target, {
      get: (t, prop) => {
        const value: unknown = Reflect.get(t, prop, t);
        if (typeof value === 'function') {
          return (...args: unknown[]) => {
            const result: unknown = Reflect.apply(value, t, args);
            return result instanceof Promise ? this.guard(result, `${what}: ${String(prop)}`) : result;
          };
        }
        if (JETSTREAM_SUB_APIS.has(prop) && typeof value === 'object' && value !== null) return this.guarded(value, `${what}.${String(prop)}`);
        return value;
      },
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
