/**
 * `chio up` stops every part even when one fails to stop (src/up.ts): a failed authz stop
 * (its receipts not drained, say) still leaves the ledger stopped, the verifier closed, the
 * NATS connection closed and the embedded nats-server gone, and the failure is reported. And a
 * start that fails part way (a port taken) leaves nothing behind either.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { startAll } from '../../src/up.js';
import { createLogger } from '../../src/log.js';
import { tempDir } from '../support/nats.js';
import { testConfig } from '../support/chio.js';

const answers = (port: number) => fetch(`http://127.0.0.1:${port}/health`).then(() => true, () => false);

describe('chio up, stopping', () => {
  it('stops the ledger, the verifier and its NATS when authz fails to stop, and throws that failure', async () => {
    const dataDir = tempDir('chio-up-stop-');
    // No NATS_URL: chio up starts its own nats-server in the data directory, as `npm start` does.
    const config = { ...testConfig(dataDir, 'nats://unused:4222'), natsUrl: undefined };
    const chio = await startAll(config, createLogger('silent'));
    const authzStop = chio.authz.stop;
    try {
      expect(existsSync(join(dataDir, 'nats.url'))).toBe(true);
      expect(await answers(chio.verifier.httpPort)).toBe(true);
      expect(await answers(chio.ledger.httpPort)).toBe(true);
      (chio.authz as { stop(): Promise<void> }).stop = () => Promise.reject(new Error('receipts not drained'));

      await expect(chio.stop()).rejects.toThrow('receipts not drained');

      expect(await answers(chio.verifier.httpPort)).toBe(false);
      expect(await answers(chio.ledger.httpPort)).toBe(false);
      expect(chio.nc.isClosed()).toBe(true);
      expect(existsSync(join(dataDir, 'nats.url'))).toBe(false);
    } finally {
      await authzStop().catch(() => undefined);
    }
  }, 30_000);

  // The ledger and verifier kept running until the process exited, nats-server was SIGKILLed at
  // exit, and nats.url stayed: `chio token revoke` then sent the user to a NATS that was gone.
  it('stops what it started when a later part does not start (the authz port taken)', async () => {
    const dataDir = tempDir('chio-up-start-failed-');
    const taken = createServer();
    await new Promise<void>((done) => taken.listen(0, '127.0.0.1', done));
    const port = (taken.address() as AddressInfo).port;
    let natsPid: number | undefined;
    const urlFile = join(dataDir, 'nats.url');
    // The pid file is written once nats-server is up; keep it before the failure removes it.
    const watch = setInterval(() => {
      if (natsPid === undefined && existsSync(join(dataDir, 'nats.pid'))) natsPid = Number(readFileSync(join(dataDir, 'nats.pid'), 'utf8'));
    }, 5);
    try {
      const config = { ...testConfig(dataDir, 'nats://unused:4222', { CHIO_GRPC_PORT: String(port) }), natsUrl: undefined };
      await expect(startAll(config, createLogger('silent'))).rejects.toThrow(/CHIO_GRPC_PORT/);
    } finally {
      clearInterval(watch);
      taken.close();
    }
    expect(natsPid).toBeGreaterThan(0);
    expect(existsSync(urlFile)).toBe(false);
    expect(existsSync(join(dataDir, 'nats.pid'))).toBe(false);
    let alive = true;
    try {
      process.kill(natsPid!, 0);
    } catch {
      alive = false;
    }
    expect(alive).toBe(false);
  }, 30_000);

  // The ledger's loop ran on after its HTTP port was refused, and logged "integration failed"
  // (connection draining) at error level when the failed start closed the NATS connection.
  it('stops the ledger it started when the ledger port is taken, with no error logged', async () => {
    const dataDir = tempDir('chio-up-ledger-port-');
    const taken = createServer();
    await new Promise<void>((done) => taken.listen(0, '127.0.0.1', done));
    const lines: string[] = [];
    const destination = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
    try {
      const config = { ...testConfig(dataDir, 'nats://unused:4222', { CHIO_LEDGER_PORT: String((taken.address() as AddressInfo).port) }), natsUrl: undefined };
      await expect(startAll(config, createLogger('warn', 'chio', { destination, format: 'json' }))).rejects.toThrow(/CHIO_LEDGER_PORT/);
      // Give a loop left running the time to fail on the closed connection.
      await new Promise((done) => setTimeout(done, 500));
    } finally {
      taken.close();
    }
    expect(lines.filter((l) => JSON.parse(l).level >= 50)).toEqual([]);
  }, 30_000);
});
