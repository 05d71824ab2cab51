/**
 * Orders of events instead of clocks: how a promise has settled so far, read without awaiting
 * it, and the NATS connection's next status event. A test says "promptly" as "before that".
 */
import type { NatsConnection } from '@nats-io/transport-node';

export interface Watched {
  readonly state: 'pending' | 'resolved' | 'rejected';
  readonly error: unknown;
  readonly settled: Promise<void>;
}

/** How `p` settled, read without awaiting it: 'pending' until it has. */
export function watch(p: Promise<unknown>): Watched {
  const w = { state: 'pending' as Watched['state'], error: undefined as unknown, settled: Promise.resolve() };
  w.settled = p.then(
    () => void (w.state = 'resolved'),
    (err: unknown) => void ((w.state = 'rejected'), (w.error = err)),
  );
  return w;
}

/** A few turns of the loop and of the socket: long enough for anything already due to settle. */
export const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 50));

/** Resolves at the next status event of `type` on the connection. */
export async function nextStatus(nc: NatsConnection, type: string): Promise<void> {
  for await (const s of nc.status()) if (s.type === type) return;
}
