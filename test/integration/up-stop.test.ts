/**
 * `chio up` stops every part even when one fails to stop (src/up.ts): a failed authz stop
 * (its receipts not drained, say) still leaves the ledger stopped, the verifier closed, the
 * NATS connection closed and the embedded nats-server gone, and the failure is reported.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
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
});
