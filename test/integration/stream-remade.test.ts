/**
 * The receipts stream deleted and made again while Chio was down (any service creates a
 * missing one at start). Before, authz started its chains again at seq 1: their seqs, which the
 * log already holds, were reused, and every Check was answered from receipts the ledger could
 * only refuse. Now authz does not start its chains over what the log holds (the ledger's chain
 * heads): it refuses to start and says why, and the ledger integrates nothing from that stream.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { startScenario, type Scenario } from '../support/scenario.js';
import { connectNats } from '../../src/nats/connection.js';
import { startAuthz } from '../../src/authz/service.js';
import { startLedger, type RunningLedger } from '../../src/ledger/service.js';
import { RECEIPTS_STREAM, ensureStreams } from '../../src/store/resources.js';
import { createLogger } from '../../src/log.js';

const ALLOW_ALL = `apiVersion: chio.dev/v1
kind: AuthorizationPolicy
metadata: { name: allow-all }
spec:
  rules: [{}]
`;

let scenario: Scenario | undefined;
let ledger: RunningLedger | undefined;

afterAll(async () => {
  await ledger?.stop();
  await scenario?.nats.cleanup();
});

describe('a receipts stream made again while Chio was down', () => {
  it('is not written by authz over the seqs the log holds, nor read on by the ledger', async () => {
    scenario = await startScenario(ALLOW_ALL);
    const { chio, nats } = scenario;
    for (let i = 0; i < 3; i++) expect((await scenario.check({ path: `/${i}` })).verdict).toBe('allow');
    for (const until = Date.now() + 20_000; chio.ledger.ledger.treeSize < 3 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 50));
    expect(chio.ledger.ledger.treeSize).toBe(3);
    await chio.stop();

    const nc = await connectNats({ servers: [nats.current.url], name: 'stream-remade' });
    try {
      await (await jetstreamManager(nc)).streams.delete(RECEIPTS_STREAM);
      await ensureStreams(nc);
      const log = createLogger('silent');
      await expect(startAuthz(chio.config, nc, log)).rejects.toMatchObject({
        code: 'UNAVAILABLE',
        message: expect.stringMatching(/the log holds its receipts up to seq \d+, the receipts stream only up to seq 0: receipts were lost from the stream/),
      });
      ledger = await startLedger(chio.config, nc, log);
      for (const until = Date.now() + 10_000; ledger.ledger.halted === undefined && Date.now() < until; ) await new Promise((r) => setTimeout(r, 50));
      expect(ledger.ledger.halted).toMatch(/ends at sequence 0, before/);
      expect(ledger.readiness.reason()).toBe(ledger.ledger.halted);
    } finally {
      await ledger?.stop();
      ledger = undefined;
      await nc.close();
    }
  }, 90_000);
});
