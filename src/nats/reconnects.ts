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
 * `guardMessages` does the same for a fetch's or consume's messages, an iterator and no promise:
 * they are stopped, so the loop reading them throws, and nats.js lets go of their subscription.
 *
 * With `failWhileDown`, a request also fails at once while the connection is down (it would be
 * dropped unsent at the reconnect), through `guarded` without being made at all when the
 * method is async (as nats.js's request methods are), and one in flight fails when the connection drops rather
 * than when it comes back. For readers that answer someone now (the HTTP routes): a 503 at once
 * instead of one 5 s later. Not for the ledger, which retries what fails after a short pause:
 * failing at once while down, it would retry, and log, every pause of the outage.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { ConsumerMessages } from '@nats-io/jetstream';
import { ChioError } from '../errors/index.js';

/** The members of a JetStream client or manager that are APIs of their own. */
const JETSTREAM_SUB_APIS: ReadonlySet<PropertyKey> = new Set(['streams', 'consumers']);
/** What `async function` makes: it returns a promise, and throws nothing, whatever happens. */
const AsyncFunction = (async () => undefined).constructor;

export interface ReconnectGuardOptions {
  /** Fail requests at once while the connection is down, and those in flight when it drops. */
  failWhileDown?: boolean;
}

export class ReconnectGuard {
  /** Ends each request being waited on, failed as left behind by a reconnect (or a disconnect). */
  private readonly waiting = new Set<(why: string) => void>();
  private stopped = false;
  /** Between a disconnect and the reconnect, when failing while down. */
  private down = false;

  constructor(nc: NatsConnection, private readonly options: ReconnectGuardOptions = {}) {
    void this.follow(nc);
  }

  /** `work`'s outcome, or ChioError('UNAVAILABLE') when the connection comes back (or, failing while down, drops or is down) before it settles. */
  guard<T>(work: Promise<T>, what: string): Promise<T> {
    // Left to settle on its own (at its timeout, as a rule): a late rejection is expected.
    work.catch(() => undefined);
    if (this.down) return this.failDown(what);
    return new Promise<T>((resolve, reject) => {
      const abandon = (why: string) => reject(new ChioError('UNAVAILABLE', `${what}: ${why}; its outcome is unknown`));
      this.waiting.add(abandon);
      work.then(resolve, reject).finally(() => this.waiting.delete(abandon));
    });
  }

  /**
   * Stop `messages` with ChioError('UNAVAILABLE') when the connection comes back (or, failing
   * while down, drops or is down) before they are done: a loop reading them then throws.
   */
  guardMessages(messages: ConsumerMessages, what: string): void {
    const stop = (why: string) => messages.stop(new ChioError('UNAVAILABLE', `${what}: ${why}`));
    if (this.down) return stop('NATS is disconnected');
    this.waiting.add(stop);
    const done = () => void this.waiting.delete(stop);
    messages.closed().then(done, done);
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
            // Down, an async method's promise would be refused by guard() below anyway; not called,
            // nats.js does not queue its request (an inbox entry and a 5 s timer, ~3.3 KB, each).
            // Any other method is called: it might answer without a promise, or throw.
            if (this.down && value instanceof AsyncFunction) return this.failDown(`${what}: ${String(prop)}`);
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

  private failDown(what: string): Promise<never> {
    return Promise.reject(new ChioError('UNAVAILABLE', `${what}: NATS is disconnected`));
  }

  private async follow(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (this.stopped) return;
      if (status.type === 'reconnect') {
        this.down = false;
        this.abandonAll('sent before NATS reconnected, so never answered');
      } else if (status.type === 'disconnect' && this.options.failWhileDown) {
        this.down = true;
        this.abandonAll('in flight when the NATS connection dropped, so never answered');
      }
    }
  }

  private abandonAll(why: string): void {
    const left = [...this.waiting];
    this.waiting.clear();
    for (const abandon of left) abandon(why);
  }
}
