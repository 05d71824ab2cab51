/**
 * Work shared while it runs: a caller who asks for what is already being worked out gets that
 * same promise instead of starting the work again. Nothing is kept once it settles, so a later
 * caller starts afresh (what to keep, and for how long, is each caller's own cache).
 *
 * Used wherever a request anyone may send costs a read of a stream or a round of IPC: a flood
 * of them is so one piece of work at a time per key, not one per request.
 */
export class InFlight<K, T> {
  private readonly running = new Map<K, Promise<T>>();

  /** The promise of `work` for `key`: the one running, else `work()` started now. */
  run(key: K, work: () => Promise<T>): Promise<T> {
    const running = this.running.get(key);
    if (running) return running;
    const promise = work();
    this.running.set(key, promise);
    const done = () => {
      if (this.running.get(key) === promise) this.running.delete(key);
    };
    promise.then(done, done);
    return promise;
  }
}

/** `answer`, shared while it runs (InFlight with one key). */
export function sharedAnswer<T>(answer: () => Promise<T>): () => Promise<T> {
  const inFlight = new InFlight<undefined, T>();
  return () => inFlight.run(undefined, answer);
}
