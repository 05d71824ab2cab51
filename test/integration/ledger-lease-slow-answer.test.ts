/**
 * A writer counts its lease from when its renewal was sent, not from when the answer came.
 * A standby starts its TTL when it first sees the renewal's revision, which can be long before
 * a slow answer reaches the writer; measured from the answer, a writer whose NATS then went
 * away kept believing (and saying, in /ready and chio_ledger_writer) it was the writer well
 * after the standby had taken the lease over. It also steps down when that TTL ends, not at
 * its next renewal tick nor when a renewal that hangs finally fails.
 */
import { describe, expect, it } from 'vitest';
import type { KV } from '@nats-io/kv';
import { useTestStore } from '../unit/store/nats.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { LedgerLease } from '../../src/store/ledger-lease.js';
import { createLogger } from '../../src/log.js';
import { newEd25519SignerKey } from '../../src/tlog/index.js';
import { kernelOf } from '../unit/receipt/helpers.js';

const store = useTestStore();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TTL_MS = 1_000;
const SLOW_ANSWER_MS = 1_500;

/** The lease bucket as the old writer sees it: `slow` stores its next write and answers late, then NATS is unreachable. */
function flaky(kv: KV): { kv: KV; slowThenDown(): void; heal(): void } {
  let mode: 'ok' | 'slow' | 'down' = 'ok';
  const proxy = new Proxy(kv, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      if (prop !== 'put' && prop !== 'get') return value.bind(target);
      return async (...args: unknown[]) => {
        if (mode === 'down') throw new Error('injected: NATS unreachable');
        const answer = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if (prop === 'put' && mode === 'slow') {
          mode = 'down';
          await sleep(SLOW_ANSWER_MS);
        }
        return answer;
      };
    },
  });
  return { kv: proxy, slowThenDown: () => (mode = 'slow'), heal: () => (mode = 'ok') };
}

describe('a writer whose renewal is answered late, then cannot reach NATS', () => {
  it('is no longer the writer once a standby may have taken the lease over', async () => {
    const { nc, resources } = store;
    const kernel = kernelOf(41);
    const origin = 'chio.test/lease-slow-answer';
    const logKey = newEd25519SignerKey(origin, new Uint8Array(32).fill(6));
    const lease = flaky(resources.ledger);
    const old = new Ledger({
      nc, resources: { ...resources, ledger: lease.kv }, kernelKeys: [kernel.verifierKey], origin, logSignerKey: logKey.signerKey,
      log: createLogger('silent'), checkpointIntervalMs: 600_000, lease: { holder: 'old', ttlMs: TTL_MS, renewMs: 200, pollMs: 50 },
    });
    await old.start();
    expect(old.role).toBe('writer');
    const standby = new LedgerLease(resources.ledger, { holder: 'new', ttlMs: TTL_MS });

    lease.slowThenDown();
    let tookOverAt: number | undefined;
    let lastOldWriterAt = 0;
    for (const end = performance.now() + 5_000; performance.now() < end; await sleep(20)) {
      if (old.role === 'writer') lastOldWriterAt = performance.now();
      if (tookOverAt === undefined && (await standby.tryAcquire()) !== undefined) tookOverAt = performance.now();
      if (tookOverAt !== undefined && old.role === 'writer') lastOldWriterAt = performance.now();
    }
    lease.heal();
    await old.stop();
    expect(tookOverAt).toBeDefined();
    // Two writers at once, by their own account, for no longer than the event loop's jitter.
    expect(lastOldWriterAt - tookOverAt!).toBeLessThan(100);
  }, 60_000);
});
