/**
 * ReconnectGuard.guarded (src/nats/reconnects.ts) against a real nats-server: a request sent
 * while the server is paused, then killed and started again, is left behind by the reconnect
 * (nats.js never answers it; it ends at its own timeout, 5 s). Guarded, it is given up at the
 * reconnect. No clock is read: "promptly" is an order of events. The same request, unguarded
 * and sent first, is still waiting when the guarded one has failed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { connectNats } from '../../../src/nats/connection.js';
import { ReconnectGuard } from '../../../src/nats/reconnects.js';
import { isChioError } from '../../../src/errors/index.js';
import { startTestNats, type TestNats } from '../../support/nats.js';
import { nextStatus, settle, watch } from '../../support/settling.js';

const BUCKET = 'reconnect-guard';

let nats: TestNats;
let nc: NatsConnection;
let guard: ReconnectGuard;
let kv: KV;

beforeAll(async () => {
  nats = await startTestNats();
  // Reconnects as the services' connections do (every 250 ms, forever).
  nc = await connectNats({ servers: [nats.current.url], name: 'reconnect-guard-test' });
  guard = new ReconnectGuard(nc);
  kv = await new Kvm(nc).create(BUCKET);
  await kv.put('k', 'before');
});

afterAll(async () => {
  guard?.stop();
  await nc?.close();
  await nats?.cleanup();
});

describe('ReconnectGuard.guarded', () => {
  it('gives up a request left behind by a reconnect at the reconnect, and the next request works', async () => {
    const guardedKv = guard.guarded(kv, 'the test bucket');
    const guardedJsm = guard.guarded(await jetstreamManager(nc), 'JetStream');
    expect((await guardedKv.get('k'))?.string()).toBe('before');

    await nats.pause();
    // The control first: were the guarded ones left to their own timeouts, this one's came first.
    const unguarded = watch(kv.get('k'));
    const kvGet = watch(guardedKv.get('k'));
    // A JetStream sub-API (jsm.streams) is guarded as well.
    const streamInfo = watch(guardedJsm.streams.info(`KV_${BUCKET}`));
    await settle();
    await nats.current.kill();
    await settle();
    // Losing the connection is not enough: they wait for it to come back.
    expect([unguarded.state, kvGet.state, streamInfo.state], 'while nats-server is down').toEqual(['pending', 'pending', 'pending']);

    await nats.restart();
    await Promise.race([Promise.all([kvGet.settled, streamInfo.settled]), unguarded.settled]);
    expect(unguarded.state, 'the unguarded request, sent first, still waits when the guarded ones have failed').toBe('pending');
    for (const [what, w] of [['kv.get', kvGet], ['jsm.streams.info', streamInfo]] as const) {
      expect(w.state, what).toBe('rejected');
      expect(isChioError(w.error, 'UNAVAILABLE'), `${what}: ${String(w.error)}`).toBe(true);
      expect(String(w.error), what).toMatch(/sent before NATS reconnected, so never answered; its outcome is unknown/);
    }

    // The next request, on the same handles, is answered.
    await guardedKv.put('k', 'after');
    expect((await guardedKv.get('k'))?.string()).toBe('after');
    expect((await guardedJsm.streams.info(`KV_${BUCKET}`)).config.name).toBe(`KV_${BUCKET}`);

    // What the guard is for: unguarded, the same request is never answered, and ends at its timeout.
    await unguarded.settled;
    expect(unguarded.state).toBe('rejected');
    expect(String(unguarded.error)).toMatch(/timeout/i);
  }, 30_000);
});

describe('ReconnectGuard.guarded with failWhileDown', () => {
  // nats.js queues a request made while down (its inbox entry and 5 s timer held until it times
  // out), so the guard must not make it. nats.js counts a publish (a request's) in outMsgs even
  // while down, when it only buffers it: an unchanged count is a request never made.
  it('fails a request while the connection is down without handing it to nats.js; without failWhileDown it is handed on', async () => {
    const downGuard = new ReconnectGuard(nc, { failWhileDown: true });
    try {
      const failingKv = downGuard.guarded(kv, 'the test bucket');
      const failingJsm = downGuard.guarded(await jetstreamManager(nc), 'JetStream');
      const waitingKv = guard.guarded(kv, 'the test bucket');
      expect((await failingKv.get('k'))?.string()).toBeDefined();

      const disconnected = nextStatus(nc, 'disconnect');
      await nats.current.kill();
      await disconnected;
      await settle();
      const sent = nc.stats().outMsgs;
      const kvGet = watch(failingKv.get('k'));
      const streamInfo = watch(failingJsm.streams.info(`KV_${BUCKET}`));
      await Promise.all([kvGet.settled, streamInfo.settled]);
      for (const [what, w, message] of [['kv.get', kvGet, 'the test bucket: get: NATS is disconnected'], ['jsm.streams.info', streamInfo, 'JetStream.streams: info: NATS is disconnected']] as const) {
        expect(w.state, what).toBe('rejected');
        expect(isChioError(w.error, 'UNAVAILABLE'), `${what}: ${String(w.error)}`).toBe(true);
        expect((w.error as Error).message, what).toBe(message);
      }
      expect(nc.stats().outMsgs, 'requests handed to nats.js while down').toBe(sent);

      // The guard without failWhileDown (the ledger's) still hands it on, to be given up at the reconnect.
      const waiting = watch(waitingKv.get('k'));
      expect(nc.stats().outMsgs).toBe(sent + 1);
      const reconnected = nextStatus(nc, 'reconnect');
      await nats.restart();
      await reconnected;
      await waiting.settled;
      expect(isChioError(waiting.error, 'UNAVAILABLE'), String(waiting.error)).toBe(true);
      expect((await failingKv.get('k'))?.string()).toBeDefined();
    } finally {
      downGuard.stop();
    }
  }, 30_000);
});
