/**
 * A writer whose renewal failed without an answer (the write a NATS reconnect left behind, or
 * one that failed at once) tries again at its next look at the lease, not a whole renewal
 * interval later. After an outage of about half the TTL, the renewal a whole interval later
 * came a few hundred ms before the writer's term ended: on a loaded machine its answer came
 * later than that, and the writer stepped down although nothing else wanted the lease.
 */
import { describe, expect, it } from 'vitest';
import type { KV } from '@nats-io/kv';
import { useTestStore } from '../unit/store/nats.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { createLogger } from '../../src/log.js';
import { newEd25519SignerKey } from '../../src/tlog/index.js';
import { kernelOf } from '../unit/receipt/helpers.js';

const store = useTestStore();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Long, so that a retry at the next look and one at the next renewal are seconds apart. */
const RENEW_MS = 4_000;
const POLL_MS = 100;

/** The lease bucket as the writer sees it: its next put fails at once; every put's send time is kept. */
function failingOnce(kv: KV): { kv: KV; puts: number[]; failNext(): void } {
  const puts: number[] = [];
  let fail = false;
  const proxy = new Proxy(kv, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      if (prop !== 'put') return value.bind(target);
      return async (...args: unknown[]) => {
        puts.push(performance.now());
        if (fail) {
          fail = false;
          throw new Error('injected: sent before NATS reconnected, so never answered');
        }
        return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
      };
    },
  });
  return { kv: proxy, puts, failNext: () => (fail = true) };
}

describe('a writer whose renewal failed without an answer', () => {
  it('renews again at its next look, and is still the writer', async () => {
    const { nc, resources } = store;
    const kernel = kernelOf(42);
    const origin = 'chio.test/lease-retry';
    const lease = failingOnce(resources.ledger);
    const ledger = new Ledger({
      nc, resources: { ...resources, ledger: lease.kv }, kernelKeys: [kernel.verifierKey], origin,
      logSignerKey: newEd25519SignerKey(origin, new Uint8Array(32).fill(8)).signerKey,
      log: createLogger('silent'), checkpointIntervalMs: 600_000, lease: { holder: 'writer', ttlMs: 3 * RENEW_MS, renewMs: RENEW_MS, pollMs: POLL_MS },
    });
    await ledger.start();
    try {
      expect(ledger.role).toBe('writer');
      // The next renewal (a whole RENEW_MS after the term began) fails; wait for it.
      lease.failNext();
      const before = lease.puts.length;
      for (const end = performance.now() + 2 * RENEW_MS; lease.puts.length === before && performance.now() < end; ) await sleep(50);
      expect(lease.puts.length, 'the renewal that fails').toBe(before + 1);
      const failedAt = lease.puts.at(-1)!;
      // The retry comes a look later (POLL_MS); a whole renewal later it would be RENEW_MS.
      for (const end = failedAt + RENEW_MS / 2; lease.puts.length === before + 1 && performance.now() < end; ) await sleep(20);
      expect(lease.puts.length, `a renewal within ${RENEW_MS / 2} ms of the failed one`).toBeGreaterThan(before + 1);
      expect(ledger.role).toBe('writer');
    } finally {
      await ledger.stop();
    }
  }, 60_000);
});
