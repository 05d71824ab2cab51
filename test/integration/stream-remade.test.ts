/**
 * The receipts stream deleted and made again while Chio was down (any service creates a
 * missing one at start). Before, authz started its chains again at seq 1: their seqs, which the
 * log already holds, were reused, and every Check was answered from receipts the ledger could
 * only refuse. Now authz does not extend a chain over what the log holds (the ledger's chain
 * heads): it runs not ready and says why (SPEC §1), writing only chains the stream lost nothing
 * of, and the ledger integrates nothing from that stream.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { startScenario, type Scenario } from '../support/scenario.js';
import { connectNats } from '../../src/nats/connection.js';
import { startAuthz } from '../../src/authz/service.js';
import { startLedger, type RunningLedger } from '../../src/ledger/service.js';
import { RECEIPTS_STREAM, ensureStreams, receiptSubject } from '../../src/store/resources.js';
import { sendCheck } from '../../src/cli/check.js';
import { buildCheckRequest } from '../../src/cli/envoy-request.js';
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
      const authz = await startAuthz(chio.config, nc, log);
      try {
        expect(authz.readiness.reason()).toMatch(/^chain scenario-0: the log holds its receipts up to seq 3, the receipts stream only up to seq 0: receipts were lost from the stream/);
        const health = await fetch(`http://127.0.0.1:${authz.httpPort}/ready`);
        expect(health.status).toBe(503);
        expect(await health.text()).toContain('receipts were lost from the stream');
        // Answered from a lane whose chain the stream lost nothing of; the lost one is not extended.
        const answer = await sendCheck(`127.0.0.1:${authz.grpcPort}`, buildCheckRequest({ method: 'GET', path: '/after', host: 'svc.example.com' }));
        expect(answer.verdict).toBe('allow');
        const jsm = await jetstreamManager(nc);
        expect(await jsm.streams.getMessage(RECEIPTS_STREAM, { last_by_subj: receiptSubject('scenario-0') })).toBeNull();
        expect((await jsm.streams.getMessage(RECEIPTS_STREAM, { last_by_subj: receiptSubject('scenario-1') }))?.seq).toBe(1);
      } finally {
        await authz.stop();
      }
      ledger = await startLedger(chio.config, nc, log);
      for (const until = Date.now() + 10_000; ledger.ledger.halted === undefined && Date.now() < until; ) await new Promise((r) => setTimeout(r, 50));
      expect(ledger.ledger.halted).toMatch(/ends at sequence 1, before/);
      expect(ledger.readiness.reason()).toBe(ledger.ledger.halted);
    } finally {
      await ledger?.stop();
      ledger = undefined;
      await nc.close();
    }
  }, 90_000);
});
