/**
 * The ledger after a NATS outage in the middle of a batch: nats-server is killed while the
 * writer integrates a backlog, so that a batch's requests (index, chain heads, tiles, bundles,
 * the stream's state) are in flight, and started again after a pause.
 *
 * Those requests are never answered (nats/reconnects.ts). Waited on to the NATS client's 5 s
 * request timeout, they held the ledger back until then, though NATS had long been back: after
 * an outage longer than the lease's TTL, the step-down (and so the next look at the lease) waited
 * for the batch; after a shorter one, integration did (either: 3.7 to 4.3 s after nats-server
 * was back, measured here). Here the ledger must be the writer again, or integrate again, before
 * any request has timed out (the order of the two, read from its log); and the log must be
 * exactly the tree an uninterrupted run makes of the stream (log-audit.ts): a batch given up at
 * the reconnect is a batch that did not commit, integrated again from the committed state.
 *
 * nats-server is back well within the 5 s of a request sent just before the kill: for the long
 * outage the lease's timing is shortened (TTL 1.5 s) so that the writer steps down early.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { startTestNats, type TestNats } from '../support/nats.js';
import { waitFor } from '../support/chio-process.js';
import { auditLog } from '../support/log-audit.js';
import { connectNats } from '../../src/nats/connection.js';
import { ensureResources, receiptSubject, RECEIPTS_STREAM, type ChioResources } from '../../src/store/resources.js';
import { Ledger, type LedgerOptions } from '../../src/ledger/ledger.js';
import { createLogger } from '../../src/log.js';
import { canonicalBytes } from '../../src/receipt/jcs.js';
import { newEd25519SignerKey } from '../../src/tlog/index.js';
import type { Receipt } from '../../src/receipt/receipt.js';
import { chainOf, kernelOf } from '../unit/receipt/helpers.js';

/** Well under the 5 s a request left behind by the reconnect waited, over a reconnect plus a look and opening the log. */
const BACK_WITHIN_MS = 2_500;
const CHAINS = 4;
/** Receipts per chain in the backlog the writer is integrating when NATS goes. */
const BACKLOG = 600;
/** Receipts per chain published once NATS is back. */
const AFTER = 100;
/** The short outage: over a renewal tick, well under the 3 s TTL. */
const OUTAGE_MS = 1_000;

const kernel = kernelOf(57);
const origin = 'chio.test/nats-restart-batch';
const logKey = newEd25519SignerKey(origin, new Uint8Array(32).fill(11));

let nats: TestNats;
let publisher: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
let resources: ChioResources;
const connections: NatsConnection[] = [];
const ledgers: Ledger[] = [];

/** CHAINS chains of BACKLOG + AFTER receipts named `name`-0, …: the backlog, then what comes after, each interleaved as receipts of several chains arrive. */
function receiptsOf(name: string): { backlog: Receipt[]; after: Receipt[] } {
  const chains = Array.from({ length: CHAINS }, (_, c) => chainOf(BACKLOG + AFTER, kernel, `${name}-${c}`));
  const interleaved = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => chains.map((c) => c[from + i]!)).flat();
  return { backlog: interleaved(0, BACKLOG), after: interleaved(BACKLOG, BACKLOG + AFTER) };
}

beforeAll(async () => {
  nats = await startTestNats();
  publisher = await connectNats({ servers: [nats.current.url], name: 'publisher' });
  js = jetstream(publisher);
  jsm = await jetstreamManager(publisher);
  resources = await ensureResources(publisher);
});

afterAll(async () => {
  for (const ledger of ledgers) await ledger.stop();
  for (const nc of connections) await nc.close();
  await publisher?.close();
  await nats?.cleanup();
});

async function publish(batch: readonly Receipt[]): Promise<void> {
  for (let i = 0; i < batch.length; i += 200) {
    await Promise.all(batch.slice(i, i + 200).map((r) => js.publish(receiptSubject(r.chain), canonicalBytes(r), { msgID: r.id })));
  }
}

async function lastStreamSeq(): Promise<number> {
  return (await jsm.streams.info(RECEIPTS_STREAM)).state.last_seq;
}

/** ms from now until `ok`, polled every 20 ms; fails after 20 s. */
async function msUntil(ok: () => boolean, what: string): Promise<number> {
  const from = performance.now();
  await waitFor(() => (ok() ? true : undefined), 20_000, what, 20);
  return performance.now() - from;
}

/** A ledger on a connection of its own that reconnects as the services' do, with its log lines (each with when it was written). */
async function startWriter(holder: string, lease: LedgerOptions['lease'] = {}): Promise<{ ledger: Ledger; lines: Array<{ at: number; line: string }> }> {
  const nc = await connectNats({ servers: [nats.current.url], name: holder });
  connections.push(nc);
  const lines: Array<{ at: number; line: string }> = [];
  const log = createLogger('debug', 'ledger', {
    format: 'json',
    destination: new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push({ at: performance.now(), line: chunk.toString('utf8') }), done()) }),
  });
  const ledger = new Ledger({
    nc, resources: await ensureResources(nc), kernelKeys: [kernel.verifierKey], origin,
    logSignerKey: logKey.signerKey, log, checkpointIntervalMs: 200, lease: { holder, ...lease },
  });
  await ledger.start();
  ledgers.push(ledger);
  expect(ledger.role).toBe('writer');
  return { ledger, lines };
}

/** Publish `backlog` and kill nats-server once the writer has integrated two batches of it. */
async function killWhileIntegrating(writer: Ledger, backlog: readonly Receipt[]): Promise<void> {
  const start = writer.integratedStreamSeq;
  await publish(backlog);
  const last = await lastStreamSeq();
  await msUntil(() => writer.integratedStreamSeq >= start + 2 * 256, 'the writer to integrate its first batches');
  // A batch is being written (or the next one about to be).
  expect(writer.integratedStreamSeq).toBeLessThan(last);
  await nats.current.kill();
}

/** The log lines written before `at` that tell of a request's timeout. */
function timeoutsBefore(lines: ReadonlyArray<{ at: number; line: string }>, at: number): string[] {
  return lines.filter((l) => l.at < at && /timeout|timed out/i.test(l.line)).map((l) => l.line);
}

/** Wait until `writer` has integrated everything stored and checkpointed it; then the log must be the stream's. */
async function expectLogOfStream(writer: Ledger): Promise<void> {
  const last = await lastStreamSeq();
  await msUntil(() => writer.integratedStreamSeq === last, 'everything stored to be integrated');
  await msUntil(() => writer.publishedSize === writer.treeSize, 'the last checkpoint');
  const audit = await auditLog(js, jsm, resources, { log: logKey.verifierKey, kernels: [kernel.verifierKey] });
  expect(audit.reference.state.size).toBe(last);
}

describe('the ledger after nats-server is restarted while it writes a batch', () => {
  it('is the writer again before the batch\'s requests time out, after an outage longer than its lease', async () => {
    const { backlog, after } = receiptsOf('long');
    const { ledger: writer, lines } = await startWriter('first', { ttlMs: 1_500, renewMs: 500, pollMs: 250 });
    try {
      await killWhileIntegrating(writer, backlog);
      await msUntil(() => writer.role === 'standby', 'the writer to step down');
      await nats.restart();
      const ms = await msUntil(() => writer.role === 'writer', 'the ledger to be the writer again');
      console.log(`the writer again ${Math.round(ms)} ms after nats-server was back`);
      // The batch in flight was given up at the reconnect, not at its requests' timeout.
      expect(timeoutsBefore(lines, performance.now())).toEqual([]);
      expect(ms).toBeLessThan(BACK_WITHIN_MS);

      await publish(after);
      await expectLogOfStream(writer);
    } finally {
      // The next case's ledger takes the lease this one gives back.
      await writer.stop();
    }
  }, 120_000);

  it('integrates again before the batch\'s requests time out, after an outage shorter than its lease', async () => {
    // Default lease timing: a TTL of 3 s, longer than the outage.
    const { backlog, after } = receiptsOf('short');
    const { ledger: writer, lines } = await startWriter('second');
    await killWhileIntegrating(writer, backlog);
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    await nats.restart();
    const stuckAt = writer.integratedStreamSeq;
    const ms = await msUntil(() => writer.integratedStreamSeq > stuckAt, 'the writer to integrate again');
    console.log(`integrating again ${Math.round(ms)} ms after nats-server was back`);
    expect(timeoutsBefore(lines, performance.now())).toEqual([]);
    expect(ms).toBeLessThan(BACK_WITHIN_MS);
    expect(writer.role).toBe('writer');

    await publish(after);
    await expectLogOfStream(writer);
  }, 120_000);
});
