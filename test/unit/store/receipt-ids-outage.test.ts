/**
 * readReceiptIds (src/store/receipts.ts), the verifier's read of the un-integrated tail, while
 * the test's own nats-server stops answering. Its fetch is a message iterator, which the
 * ReconnectGuard's request guard does not reach: the lookups sharing the scan waited for as long
 * as the server was silent (SIGSTOP: 40 s of 40), or down (killed: until it was back, then
 * failed with ConsumerNotFoundError, a 500).
 *
 * A lookup under way is a fetch waiting for messages: the range asked ends past the stream's
 * last sequence, so the fetch waits for the server's expiry, as a fetch of a tail the server
 * has not yet handed over does. No clock is read: "promptly" is an order of events, against a
 * request sent at the same moment and left to its own 5 s timeout, or against the disconnect.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connectNats } from '../../../src/nats/connection.js';
import { ReconnectGuard } from '../../../src/nats/reconnects.js';
import { ensureResources, receiptSubject, RECEIPTS_STREAM } from '../../../src/store/resources.js';
import { readLastStreamSeq, readReceiptIds } from '../../../src/store/receipts.js';
import { isChioError } from '../../../src/errors/index.js';
import { startTestNats, type TestNats } from '../../support/nats.js';
import { nextStatus, settle, watch, type Watched } from '../../support/settling.js';

let nats: TestNats;
let nc: NatsConnection;
let guard: ReconnectGuard;
let js: JetStreamClient;
let jsm: JetStreamManager;

/** A read of the ids up to five sequences past the stream's end: under way until the server's expiry. */
async function readUnderWay(): Promise<Watched> {
  const last = await readLastStreamSeq(jsm);
  const read = watch(readReceiptIds(js, 1, last + 5, guard));
  await settle();
  expect(read.state, 'the fetch waits for the server').toBe('pending');
  return read;
}

beforeAll(async () => {
  nats = await startTestNats();
  // As the verifier connects and guards its reads (verifier/service.ts).
  nc = await connectNats({ servers: [nats.current.url], name: 'receipt-ids-outage-test' });
  guard = new ReconnectGuard(nc, { failWhileDown: true });
  await ensureResources(nc);
  js = guard.guarded(jetstream(nc), 'JetStream');
  jsm = await jetstreamManager(nc);
  for (let i = 0; i < 3; i++) await jetstream(nc).publish(receiptSubject('outage'), new TextEncoder().encode(`m${i}`), { msgID: `id-${i}` });
});

afterEach(() => nats.resume());

afterAll(async () => {
  guard?.stop();
  await nc?.close();
  await nats?.cleanup();
});

describe('readReceiptIds while nats-server does not answer', () => {
  it('gives up a fetch under way when the server goes silent (SIGSTOP: no reset, no disconnect), before a request sent then times out', async () => {
    const read = await readUnderWay();
    await nats.pause();
    // The control: a request sent as the server went silent ends at its own timeout (5 s).
    const control = watch(jsm.streams.info(RECEIPTS_STREAM));
    await Promise.race([read.settled, control.settled]);
    expect(control.state, 'the request sent as the server went silent is still waiting').toBe('pending');
    expect(read.state).toBe('rejected');
    expect(isChioError(read.error, 'UNAVAILABLE'), String(read.error)).toBe(true);
    nats.resume();
    await control.settled;
  }, 30_000);

  it('gives up a fetch under way at once when the connection drops, not when NATS is back', async () => {
    const read = await readUnderWay();
    const disconnected = nextStatus(nc, 'disconnect');
    await nats.current.kill();
    try {
      await disconnected;
      await settle();
      expect(read.state, 'at the disconnect, with nats-server still down').toBe('rejected');
      expect(isChioError(read.error, 'UNAVAILABLE'), String(read.error)).toBe(true);
    } finally {
      await nats.restart();
    }
    // Once NATS is back, the same read is answered on the same handles.
    await nextStatus(nc, 'reconnect');
    const last = await readLastStreamSeq(jsm);
    expect([...(await readReceiptIds(js, 1, last, guard)).keys()]).toEqual(['id-0', 'id-1', 'id-2']);
  }, 30_000);
});
