/**
 * The chain publisher alone: receipts signed and stored per second, without gRPC or a
 * decision, against raw nats.js JetStream publishes of the same size on a stream configured
 * like CHIO_RECEIPTS (file storage, dedup by Nats-Msg-Id). The raw rate with one publish in
 * flight is what a strictly serial chain can reach; with 64 in flight, what JetStream can take.
 */
import { jetstream, jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { pino } from 'pino';
import { connectNats } from '../../src/nats/connection.js';
import { ensureStreams } from '../../src/store/resources.js';
import { ReceiptPublisher } from '../../src/chain/publisher.js';
import { storedReceiptVerifier } from '../../src/chain/chain-head.js';
import { PubAckPublisher } from '../../src/store/pub-ack.js';
import { ReceiptLanes, laneChainIds } from '../../src/chain/lanes.js';
import { loadKey } from '../../src/keys.js';
import { receiptBytes, type ReceiptDraft } from '../../src/receipt/receipt.js';

const RAW_STREAM = 'BENCH_RAW';

function draftOf(i: number): ReceiptDraft {
  return {
    time: new Date().toISOString(),
    request: { kind: 'http', id: `bench-${i}`, method: 'POST', host: 'tools.chio.local', path: '/tools/hello', protocol: 'HTTP/1.1', source_address: '10.0.0.2:51234', destination_address: '10.0.0.3:8080' },
    subject: { capability_id: 'bench-capability', subject: 'demo-agent', issuer: 'x'.repeat(80), credential_sha256: 'ab'.repeat(32) },
    decision: { verdict: 'allow', http_status: 200, shadow: false },
    evidence: [{ guard: 'Request', verdict: 'allow' }, { guard: 'Capability', verdict: 'allow' }, { guard: 'Jwt', verdict: 'skip' }, { guard: 'Policy', verdict: 'allow' }],
    policy_hash: `sha256:${'cd'.repeat(32)}`,
  };
}

export interface PublisherRow {
  publisher: number;
  rawSerial: number;
  rawPipelined: number;
  /** CPU of this process per publish, 64 in flight: nats.js js.publish, and store/pub-ack.ts as chio authz publishes. */
  rawCpuUs: number;
  pubAckCpuUs: number;
  pubAckPipelined: number;
  bytes: number;
}

export async function publisherRow(natsUrl: string, keyDir: string, count: number, lanes: number): Promise<PublisherRow> {
  const nc = await connectNats({ servers: [natsUrl], name: 'chio-bench-publisher' });
  try {
    await ensureStreams(nc);
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const kernel = loadKey(keyDir, 'kernel');
    // As chio authz runs it: `lanes` chains, their messages' PubAcks read off one subscription.
    const receiptJs = new PubAckPublisher(nc);
    const publisher = new ReceiptLanes(laneChainIds('bench-publisher', lanes).map((chain) => new ReceiptPublisher({ js: receiptJs, jsm, chain, signer: kernel.signer, kernelKey: kernel.verifierKey, log: pino({ level: 'silent' }), verifyStored: storedReceiptVerifier([kernel.verifierKey]) })));
    await publisher.open();
    let t = performance.now();
    const receipts = await Promise.all(Array.from({ length: count }, (_, i) => publisher.store(draftOf(i), Date.now() + 60_000).stored));
    const publisherRate = count / ((performance.now() - t) / 1000);
    await publisher.drain();
    receiptJs.close();
    const bytes = receiptBytes(receipts[0]!).length;

    await jsm.streams.add({ name: RAW_STREAM, subjects: ['bench.raw'], retention: RetentionPolicy.Limits, storage: StorageType.File, duplicate_window: 2 * 60 * 1e9 });
    const payload = new Uint8Array(bytes).fill(0x61);
    t = performance.now();
    for (let i = 0; i < count; i++) await js.publish('bench.raw', payload, { msgID: `serial-${i}` });
    const rawSerial = count / ((performance.now() - t) / 1000);
    const pipelined = async (publish: (i: number) => Promise<unknown>) => {
      const [t0, cpu0] = [performance.now(), process.cpuUsage()];
      let next = 0;
      await Promise.all(Array.from({ length: 64 }, async () => {
        while (next < count) await publish(next++);
      }));
      const cpu = process.cpuUsage(cpu0);
      return { rate: count / ((performance.now() - t0) / 1000), cpuUs: (cpu.user + cpu.system) / count };
    };
    const raw = await pipelined((i) => js.publish('bench.raw', payload, { msgID: `pipelined-${i}` }));
    const pubAck = new PubAckPublisher(nc);
    const own = await pipelined((i) => pubAck.publish('bench.raw', payload, { msgID: `pub-ack-${i}`, timeout: 5_000 }));
    pubAck.close();
    await jsm.streams.delete(RAW_STREAM);
    return { publisher: publisherRate, rawSerial, rawPipelined: raw.rate, rawCpuUs: raw.cpuUs, pubAckCpuUs: own.cpuUs, pubAckPipelined: own.rate, bytes };
  } finally {
    await nc.drain();
  }
}
