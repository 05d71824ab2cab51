/**
 * One writer, one hot standby (SPEC §6). Two `chio ledger` processes start at once against one
 * NATS; a flood of Checks goes through authz (in-process, real gRPC) while the writer is
 * SIGKILLed again and again, a fresh standby started after each kill. Shown:
 *   - the standby serves /health, answers /ready 503 "standby", and says so in /metrics;
 *   - it takes over within 5 s of the kill and continues the same tree;
 *   - one writer at any moment: in the lease record's history (every revision of `state`,
 *     watched) each holder's term is one unbroken run and the tree only grows;
 *   - every receipt answered allow is provable afterwards, and the final log is exactly the
 *     tree of the stream's valid receipts (test/support/log-audit.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { startTestNats, tempDir, type TestNats } from '../support/nats.js';
import { testConfig } from '../support/chio.js';
import { freePort, spawnChio, waitFor, type ChioProcess } from '../support/chio-process.js';
import { auditLog } from '../support/log-audit.js';
import { connectNats } from '../../src/nats/connection.js';
import { createLogger } from '../../src/log.js';
import { generateKeys } from '../../src/keys.js';
import { startAuthz, type RunningAuthz } from '../../src/authz/service.js';
import { startVerifier, type RunningVerifier } from '../../src/verifier/service.js';
import { ensureResources } from '../../src/store/resources.js';
import { readLedgerRecord, readLedgerState, type LedgerRecord } from '../../src/store/ledger-state.js';
import { readLatestCheckpoint } from '../../src/store/checkpoints.js';
import { sendCheck } from '../../src/cli/check.js';
import { buildCheckRequest } from '../../src/cli/envoy-request.js';
import { proveReceipt } from '../../src/cli/prove.js';
import { demoToken } from '../../src/up.js';
import { openCheckpoint } from '../../src/tlog/index.js';
import type { NatsConnection } from '@nats-io/transport-node';

const KILLS = 3;
const TAKEOVER_LIMIT_MS = 5_000;

let nats: TestNats;
let nc: NatsConnection;
let authz: RunningAuthz;
let verifier: RunningVerifier;
let dataDir: string;
const ledgers = new Map<string, { proc: ChioProcess; port: number }>();

beforeAll(async () => {
  nats = await startTestNats();
  dataDir = tempDir('chio-standby-');
  const config = testConfig(dataDir, nats.current.url);
  generateKeys(config.keyDir, config.logOrigin);
  nc = await connectNats({ servers: [nats.current.url], name: 'chio-standby-test' });
  await ensureResources(nc);
  authz = await startAuthz(config, nc, createLogger('silent'));
  verifier = await startVerifier(config, nc, createLogger('silent'));
});

afterAll(async () => {
  for (const { proc } of ledgers.values()) await proc.kill();
  await authz?.stop();
  await verifier?.stop();
  await nc?.drain();
  await nats?.cleanup();
});

async function startLedgerProcess(id: string): Promise<void> {
  const port = await freePort();
  const proc = spawnChio(['ledger'], {
    NATS_URL: nats.current.url, CHIO_DATA_DIR: dataDir, CHIO_KEY_DIR: join(dataDir, 'keys'), CHIO_BIND: '127.0.0.1',
    CHIO_LEDGER_PORT: String(port), CHIO_LEDGER_ID: id, CHIO_CHECKPOINT_INTERVAL_MS: '200', CHIO_LOG_LEVEL: 'info',
  });
  ledgers.set(id, { proc, port });
}

/** Wait until ledger `id` serves HTTP; returns its /ready answer. */
async function readyOf(id: string): Promise<{ status: number; body: { reason?: string } }> {
  const { port, proc } = ledgers.get(id)!;
  return waitFor(async () => {
    const res = await fetch(`http://127.0.0.1:${port}/ready`);
    return { status: res.status, body: (await res.json()) as { reason?: string } };
  }, 60_000, `ledger ${id} to serve HTTP`, 100).catch((err: Error) => {
    throw new Error(`${err.message}; its output: ${proc.lines.slice(-5).join(' | ')}`);
  });
}

describe('two chio ledgers, the writer killed again and again under a flood of Checks', () => {
  it('keeps one writer, takes over within 5 s, and loses no allowed receipt', async () => {
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const resources = await ensureResources(nc);
    const history: Array<LedgerRecord & { revision: number }> = [];
    const watch = await resources.ledger.watch({ key: 'state' });
    void (async () => {
      for await (const e of watch) if (e.operation === 'PUT') history.push({ ...e.json<LedgerRecord>(), revision: e.revision });
    })();

    await Promise.all([startLedgerProcess('ledger-1'), startLedgerProcess('ledger-2')]);
    const first = await Promise.all([readyOf('ledger-1'), readyOf('ledger-2')]);
    // Exactly one is ready; the other is a standby, alive but not ready, and says so.
    expect(first.map((r) => r.status).sort()).toEqual([200, 503]);
    const standbyId = first[0]!.status === 503 ? 'ledger-1' : 'ledger-2';
    expect(first.find((r) => r.status === 503)!.body.reason).toBe('standby');
    const standbyPort = ledgers.get(standbyId)!.port;
    expect((await fetch(`http://127.0.0.1:${standbyPort}/health`)).status).toBe(200);
    expect(await (await fetch(`http://127.0.0.1:${standbyPort}/metrics`)).text()).toMatch(/^chio_ledger_writer 0$/m);

    // The flood: allowed Checks from several clients until the kills are done.
    const token = demoToken(testConfig(dataDir, nats.current.url));
    const allowed: string[] = [];
    let flooding = true;
    const client = async () => {
      while (flooding) {
        const a = await sendCheck(`127.0.0.1:${authz.grpcPort}`, buildCheckRequest({ method: 'POST', path: '/tools/echo', host: 'tools.chio.local', headers: { 'x-chio-capability-token': token } }));
        if (a.verdict === 'allow' && a.receiptId) allowed.push(a.receiptId);
      }
    };
    const clients = Array.from({ length: 4 }, client);

    const takeovers: number[] = [];
    for (let k = 0; k < KILLS; k++) {
      await new Promise((r) => setTimeout(r, 1_500));
      const { record } = await readLedgerRecord(resources.ledger);
      const writer = ledgers.get(record.holder!)!;
      await writer.proc.kill('SIGKILL');
      const killedAt = Date.now();
      ledgers.delete(record.holder!);
      const next = await waitFor(async () => {
        const now = (await readLedgerRecord(resources.ledger)).record;
        return now.holder !== record.holder ? now : undefined;
      }, 15_000, 'a takeover', 20);
      takeovers.push(Date.now() - killedAt);
      // A new standby for the next round, loaded before the next kill.
      const id = `ledger-${k + 3}`;
      await startLedgerProcess(id);
      expect((await readyOf(id)).status).toBe(503);
      expect(next.size).toBeGreaterThanOrEqual(record.size);
    }
    flooding = false;
    await Promise.all(clients);
    console.log(`standby takeovers after SIGKILL (ms): ${takeovers.join(', ')}; allowed Checks: ${allowed.length}`);
    for (const ms of takeovers) expect(ms).toBeLessThan(TAKEOVER_LIMIT_MS);

    // Catch up, publish, then judge.
    const logKey = readFileSync(join(dataDir, 'keys', 'log.pub'), 'utf8').trim();
    const kernelKey = readFileSync(join(dataDir, 'keys', 'kernel.pub'), 'utf8').trim();
    const lastSeq = async () => (await jsm.streams.info('CHIO_RECEIPTS')).state.last_seq;
    await waitFor(async () => ((await readLedgerState(resources.ledger)).streamSeq === (await lastSeq()) ? true : undefined), 60_000, 'the writer to catch up');
    const size = (await readLedgerState(resources.ledger)).size;
    await waitFor(async () => {
      const latest = await readLatestCheckpoint(jsm);
      return latest && openCheckpoint(latest.note, logKey).size === size ? true : undefined;
    }, 10_000, 'the last checkpoint');
    watch.stop();

    // One writer at any moment: each holder's revisions form one unbroken run; the tree only grows.
    const terms = history.map((h) => h.holder).filter((h, i, all) => h !== undefined && h !== all[i - 1]);
    expect(new Set(terms).size).toBe(terms.length);
    expect(terms.length).toBeGreaterThanOrEqual(KILLS + 1);
    for (let i = 1; i < history.length; i++) {
      expect(history[i]!.size).toBeGreaterThanOrEqual(history[i - 1]!.size);
      expect(history[i]!.streamSeq).toBeGreaterThanOrEqual(history[i - 1]!.streamSeq);
    }

    const audit = await auditLog(js, jsm, resources, { log: logKey, kernels: [kernelKey] });
    expect(audit.reference.quarantine.size).toBe(0);
    expect(allowed.length).toBeGreaterThan(100);
    for (let i = 0; i < allowed.length; i += 16) {
      await Promise.all(allowed.slice(i, i + 16).map(async (id) => {
        const proven = await proveReceipt(id, { verifierUrl: `http://127.0.0.1:${verifier.httpPort}`, logKey, kernelKeys: [kernelKey], waitMs: 5_000 });
        expect(proven.receipt.id).toBe(id);
      }));
    }
  }, 400_000);
});
