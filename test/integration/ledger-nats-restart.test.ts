/**
 * The ledger after a NATS outage: its writer lease is renewed, or taken again, within about a
 * second of nats-server being back, with the lease's default timing (TTL 3 s, renewal every
 * second, a standby's look every half second).
 *
 * A lease read or write sent while NATS is away is never answered: nats.js buffers it and drops
 * the buffer when it dials again. One at a time through the lease's queue, it held every later
 * lease operation back until the NATS client's request timeout (5 s): the writer again 1.4 s,
 * 4.9 s, 6.1 s after nats-server was back, when it was measured with real processes.
 *
 *   - a short outage (under the TTL): the writer renews again at its next look;
 *   - a long outage (both ledgers stepped down, a look at the lease in flight): one of them is
 *     the writer again at its next look, and in the lease record's history each holder's term
 *     is one unbroken run and the tree only grows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { startTestNats, type TestNats } from '../support/nats.js';
import { waitFor } from '../support/chio-process.js';
import { connectNats } from '../../src/nats/connection.js';
import { ensureResources, type ChioResources } from '../../src/store/resources.js';
import type { LedgerRecord } from '../../src/store/ledger-state.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { createLogger } from '../../src/log.js';
import { newEd25519SignerKey } from '../../src/tlog/index.js';
import { kernelOf } from '../unit/receipt/helpers.js';

/** Well under the 5 s a leftover request waited, and over a reconnect plus a renewal tick or a look. */
const BACK_WITHIN_MS = 2_500;

let nats: TestNats;
let watcher: NatsConnection;
let resources: ChioResources;
const connections: NatsConnection[] = [];
const ledgers: Ledger[] = [];
const history: Array<LedgerRecord & { revision: number }> = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  nats = await startTestNats();
  watcher = await connectNats({ servers: [nats.current.url], name: 'lease-history' });
  resources = await ensureResources(watcher);
  const watch = await resources.ledger.watch({ key: 'state' });
  void (async () => {
    for await (const e of watch) if (e.operation === 'PUT') history.push({ ...e.json<LedgerRecord>(), revision: e.revision });
  })();
});

afterAll(async () => {
  for (const ledger of ledgers) await ledger.stop();
  for (const nc of connections) await nc.close();
  await watcher?.close();
  await nats?.cleanup();
});

/** A ledger on a connection of its own that reconnects as the services' do; default lease timing. */
async function startLedger(holder: string): Promise<Ledger> {
  const nc = await connectNats({ servers: [nats.current.url], name: holder });
  connections.push(nc);
  const origin = 'chio.test/nats-restart';
  const ledger = new Ledger({
    nc, resources: await ensureResources(nc), kernelKeys: [kernelOf(43).verifierKey], origin,
    logSignerKey: newEd25519SignerKey(origin, new Uint8Array(32).fill(7)).signerKey,
    log: createLogger('silent'), checkpointIntervalMs: 200, lease: { holder },
  });
  await ledger.start();
  ledgers.push(ledger);
  return ledger;
}

/** ms from now until `ok`, polled every 20 ms; fails after 15 s. */
async function msUntil(ok: () => boolean): Promise<number> {
  const from = performance.now();
  await waitFor(() => (ok() ? true : undefined), 15_000, 'the ledger', 20);
  return performance.now() - from;
}

describe('the ledger after nats-server is restarted', () => {
  it('renews its lease at its next tick after an outage shorter than the TTL', async () => {
    const writer = await startLedger('first');
    expect(writer.role).toBe('writer');
    await nats.current.kill();
    // Long enough for a renewal to be sent while NATS is away, short of the TTL.
    await sleep(1_200);
    await nats.restart();
    const before = history.length;
    const ms = await msUntil(() => history.slice(before).some((h) => h.holder === 'first'));
    console.log(`lease renewed ${Math.round(ms)} ms after nats-server was back`);
    expect(ms).toBeLessThan(BACK_WITHIN_MS);
    await sleep(1_500);
    expect(writer.role).toBe('writer');
  }, 60_000);

  it('has a writer again at the next look after a long outage, one writer at a time', async () => {
    const standby = await startLedger('second');
    expect(standby.role).toBe('standby');
    await nats.current.kill();
    // Both step down; a look at the lease that ends at its timeout says so in /ready's reason,
    // and the next look, half a second later, is in flight with most of its timeout ahead.
    await msUntil(() => ledgers.every((l) => l.role === 'standby' && /cannot take the writer lease/.test(l.standbyReason ?? '')));
    await sleep(1_000);
    await nats.restart();
    const ms = await msUntil(() => ledgers.some((l) => l.role === 'writer'));
    console.log(`a writer again ${Math.round(ms)} ms after nats-server was back`);
    expect(ms).toBeLessThan(BACK_WITHIN_MS);
    await sleep(1_500);
    expect(ledgers.filter((l) => l.role === 'writer')).toHaveLength(1);

    const terms = history.map((h) => h.holder).filter((h, i, all) => h !== undefined && h !== all[i - 1]);
    expect(new Set(terms).size).toBe(terms.length);
    for (let i = 1; i < history.length; i++) expect(history[i]!.size).toBeGreaterThanOrEqual(history[i - 1]!.size);
  }, 60_000);
});
