import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { findFreePort } from '../../../src/nats/server.js';
import { NatsHealth } from '../../../src/health/nats-health.js';
import { ensureStreams } from '../../../src/store/resources.js';
import { appendReceipts } from '../../../src/store/receipts.js';
import { startTestNats, type TestNats } from '../../support/nats.js';
import { pollUntil } from '../../support/health.js';

const FAST = { probeIntervalMs: 50, retryIntervalMs: 50, probeTimeoutMs: 500 };

describe('NatsHealth', () => {
  describe('when the server runs without JetStream', () => {
    let server: ChildProcess;
    let nc: NatsConnection;
    beforeAll(async () => {
      const port = await findFreePort();
      server = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
      nc = await pollUntil(() => connect({ servers: `127.0.0.1:${port}` }).catch(() => undefined), (c) => c !== undefined, 10_000).then((r) => r.answer!);
    });
    afterAll(async () => {
      await nc?.close();
      server?.kill('SIGKILL');
    });

    it('says JetStream is not usable, though the connection is fine', async () => {
      // checkAPI off: the manager's own start-up probe would fail before ours could.
      const health = new NatsHealth({ nc, jsm: await jetstreamManager(nc, { checkAPI: false }), ...FAST });
      await health.start();
      try {
        expect(health.problem).toMatch(/^JetStream is not usable: /);
      } finally {
        health.stop();
      }
    });
  });

  describe('when JetStream runs', () => {
    let nats: TestNats;
    let nc: NatsConnection;
    beforeAll(async () => {
      nats = await startTestNats();
      nc = await connect({ servers: nats.current.url });
    });
    afterAll(async () => {
      await nc?.close();
      await nats?.cleanup();
    });

    it('is not usable until the receipts stream exists, then follows its last sequence', async () => {
      const changes: Array<string | undefined> = [];
      const health = new NatsHealth({ nc, jsm: await jetstreamManager(nc), onChange: (p) => changes.push(p), ...FAST });
      await health.start();
      try {
        expect(health.problem).toMatch(/^JetStream is not usable: .*stream not found/);
        await ensureStreams(nc, 1);
        await pollUntil(async () => health.problem, (p) => p === undefined, 5_000);
        expect(health.lastStreamSeq).toBe(0);
        const seq = await appendReceipts(jetstream(nc), 'h', [{ id: 'a'.repeat(64), bytes: new TextEncoder().encode('{}') }], 0, 2_000);
        await pollUntil(async () => health.lastStreamSeq, (s) => s === seq, 5_000);
        expect(changes).toEqual([expect.stringMatching(/stream not found/), undefined]);
      } finally {
        health.stop();
      }
    });

    it('says NATS is disconnected at once when the server goes, and usable again once it is back', async () => {
      const health = new NatsHealth({ nc, jsm: await jetstreamManager(nc), ...FAST });
      await health.start();
      try {
        expect(health.problem).toBeUndefined();
        await nats.current.kill();
        await pollUntil(async () => health.problem, (p) => p === 'NATS is disconnected', 5_000);
        await nats.restart();
        await pollUntil(async () => health.problem, (p) => p === undefined, 10_000);
      } finally {
        health.stop();
      }
    });

    it('is usable again once the server is back, without waiting out a probe begun while it was away', async () => {
      // A probe sent while disconnected is buffered and never answered: with a long timeout, it
      // is still pending when the connection comes back. Readiness must not wait for it to
      // fail (up to PROBE_TIMEOUT_MS plus a retry, saying "JetStream probe: deadline passed"
      // of a JetStream that answers), but probe afresh at once.
      const own = await connect({ servers: nats.current.url, maxReconnectAttempts: -1, reconnectTimeWait: 50 });
      const changes: Array<string | undefined> = [];
      const health = new NatsHealth({ nc: own, jsm: await jetstreamManager(own), onChange: (p) => changes.push(p), probeIntervalMs: 50, retryIntervalMs: 50, probeTimeoutMs: 30_000 });
      await health.start();
      try {
        expect(health.problem).toBeUndefined();
        await nats.current.kill();
        await pollUntil(async () => health.problem, (p) => p === 'NATS is disconnected', 5_000);
        await new Promise((r) => setTimeout(r, 300)); // a probe is under way, its request buffered
        await nats.restart();
        await pollUntil(async () => health.problem, (p) => p === undefined, 10_000);
        expect(changes).toEqual(['NATS is disconnected', undefined]);
      } finally {
        health.stop();
        await own.close();
      }
    }, 20_000);

    it('says the connection is closed once it is', async () => {
      const own = await connect({ servers: nats.current.url });
      const health = new NatsHealth({ nc: own, jsm: await jetstreamManager(own), ...FAST });
      await health.start();
      health.stop();
      await own.close();
      expect(health.problem).toBe('NATS connection is closed');
    });
  });
});
