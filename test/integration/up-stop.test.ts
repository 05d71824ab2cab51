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

  // The parts started before kept running until the process exited, nats-server was SIGKILLed at
  // exit, and nats.url stayed: `chio token revoke` then sent the user to a NATS that was gone. And
  // a part whose own port was refused ran on (the ledger's loop, authz's revocation watch), and
  // logged errors at error level once the failed start closed the NATS connection.
  it.each(['CHIO_LEDGER_PORT', 'CHIO_VERIFIER_PORT', 'CHIO_GRPC_PORT', 'CHIO_HTTP_PORT'])('stops what it started when %s is taken, with no error logged', async (setting) => {
    const dataDir = tempDir('chio-up-start-failed-');
    const taken = createServer();
    await new Promise<void>((done) => taken.listen(0, '127.0.0.1', done));
    const lines: string[] = [];
    const destination = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
    let natsPid: number | undefined;
    // The pid file is written once nats-server is up; keep it before the failure removes it.
    const watch = setInterval(() => {
      if (natsPid === undefined && existsSync(join(dataDir, 'nats.pid'))) natsPid = Number.parseInt(readFileSync(join(dataDir, 'nats.pid'), 'utf8'), 10);
    }, 5);
    try {
      const config = { ...testConfig(dataDir, 'nats://unused:4222', { [setting]: String((taken.address() as AddressInfo).port) }), natsUrl: undefined };
      await expect(startAll(config, createLogger('warn', 'chio', { destination, format: 'json' }))).rejects.toThrow(setting);
      // Give a part left running the time to fail on the closed connection.
      await new Promise((done) => setTimeout(done, 500));
    } finally {
      clearInterval(watch);
      taken.close();
    }
    expect(lines.filter((l) => JSON.parse(l).level >= 50)).toEqual([]);
    expect(natsPid).toBeGreaterThan(0);
    expect(existsSync(join(dataDir, 'nats.url'))).toBe(false);
    expect(existsSync(join(dataDir, 'nats.pid'))).toBe(false);
    let alive = true;
    try {
      process.kill(natsPid!, 0);
    } catch {
      alive = false;
    }
    expect(alive).toBe(false);
  }, 30_000);
});
