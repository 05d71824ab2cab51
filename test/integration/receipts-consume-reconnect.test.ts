/**
 * The ledger's reader of the receipts stream after NATS comes back (seen in the nats-dies
 * suite: a ledger integrated nothing for more than 15 s after a restart, while allows waited
 * to be provable).
 *
 * On a reconnect nats.js asks the server for the consumer's info before it pulls again; when
 * JetStream is not answering yet (it is still recovering its streams) it waits the consume's
 * `expires` before it asks again, and meanwhile nothing is pulled and no heartbeat is watched.
 * With nats.js's default (30 s) the ledger stood still that long. Here the server that comes
 * back first has no JetStream (so that the first look fails every time, as it does on a busy
 * machine now and then), then the real one: a receipt stored after that must reach the reader
 * within seconds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connectNats } from '../../src/nats/connection.js';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { startTestNats, type TestNats } from '../support/nats.js';
import { ensureResources, receiptSubject } from '../../src/store/resources.js';
import { consumeReceipts } from '../../src/store/receipts.js';

/** Well under nats.js's own 30 s, well over a loaded machine's scheduling delays. */
const DELIVERED_WITHIN_MS = 10_000;

let nats: TestNats;
let nc: NatsConnection;

beforeAll(async () => {
  nats = await startTestNats();
  nc = await connectNats({ servers: [nats.current.url], name: 'consume-reconnect' });
  await ensureResources(nc);
});

afterAll(async () => {
  await nc?.close();
  await nats?.cleanup();
});

/** A nats-server on `port` without JetStream, until the returned function stops it. */
async function serverWithoutJetStream(port: number): Promise<() => Promise<void>> {
  const child = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes('Server is ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`nats-server without JetStream exited (${code}): ${log}`)));
  });
  return async () => {
    child.kill('SIGKILL');
    if (child.exitCode === null) await once(child, 'exit');
  };
}

async function waitFor(what: string, ok: () => boolean, ms: number): Promise<void> {
  for (const deadline = Date.now() + ms; !ok(); ) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('reading the receipts stream across a NATS restart', () => {
  it('goes on delivering soon after JetStream answers again, even when it did not at the first reconnect', async () => {
    const js = jetstream(nc);
    const subject = receiptSubject('consume-reconnect');
    await js.publish(subject, new TextEncoder().encode('first'), { msgID: 'first' });
    const messages = await consumeReceipts(js, 1, 512);
    const seen: number[] = [];
    void (async () => {
      for await (const m of messages) seen.push(m.seq);
    })();
    await waitFor('the first message', () => seen.length === 1, 5_000);

    let reconnects = 0;
    void (async () => {
      for await (const s of nc.status()) if (s.type === 'reconnect') reconnects++;
    })();
    await nats.current.kill();
    const stopPlain = await serverWithoutJetStream(nats.current.port);
    await waitFor('a reconnect to the server without JetStream', () => reconnects === 1, 10_000);
    // Its consumer info request goes unanswered meanwhile (no JetStream here).
    await new Promise((r) => setTimeout(r, 1_000));
    await stopPlain();
    await nats.restart();
    await waitFor('a reconnect to the restarted server', () => reconnects === 2, 10_000);

    await js.publish(subject, new TextEncoder().encode('second'), { msgID: 'second' });
    const storedAt = Date.now();
    await waitFor('the message stored after the restart', () => seen.length === 2 || Date.now() - storedAt > DELIVERED_WITHIN_MS, DELIVERED_WITHIN_MS + 1_000);
    messages.stop();
    expect(seen, `delivered within ${DELIVERED_WITHIN_MS} ms of being stored`).toEqual([1, 2]);
  }, 60_000);
});
