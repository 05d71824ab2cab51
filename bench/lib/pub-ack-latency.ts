/**
 * The store's own round trip at a fixed rate: raw nats.js JetStream publishes of a receipt's
 * size, each naming its subject's last sequence as a chain publish does, sent in bursts the
 * way h2load's fixed-rate mode sends Checks (all connections at once, every 10 ms). No chio
 * code runs: every Check's answer waits for one such PubAck, so this is a floor under its
 * latency on this machine.
 */
import { jetstream, jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { connectNats } from '../../src/nats/connection.js';

const STREAM = 'BENCH_PUBACK';

export interface PubAckLatency {
  /** Per-publish round trips in ms, sorted. */
  latencies: number[];
}

export async function pubAckLatency(natsUrl: string, o: { perSecond: number; burst: number; seconds: number; bytes: number }): Promise<PubAckLatency> {
  const nc = await connectNats({ servers: [natsUrl], name: 'chio-bench-puback' });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: STREAM, subjects: ['bench.puback.>'], retention: RetentionPolicy.Limits, storage: StorageType.File, duplicate_window: 2 * 60 * 1e9 });
    const js = jetstream(nc);
    const payload = new Uint8Array(o.bytes).fill(0x61);
    // One chain per burst slot, as a lane: its next publish names the sequence its last one got.
    const chains = Array.from({ length: o.burst }, () => ({ seq: 0, done: Promise.resolve() }));
    const latencies: number[] = [];
    const everyMs = (1000 * o.burst) / o.perSecond;
    const end = performance.now() + o.seconds * 1000;
    let n = 0;
    for (let next = performance.now(); next < end; next += everyMs) {
      await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
      // Not awaited: a slow PubAck does not hold the next burst back (h2load does not wait);
      // a publish waits only for the one before it on its chain.
      for (const [slot, chain] of chains.entries()) {
        const sent = performance.now();
        const id = `m-${n++}`;
        chain.done = chain.done.then(async () => {
          try {
            chain.seq = (await js.publish(`bench.puback.${slot}`, payload, { msgID: id, expect: { lastSubjectSequence: chain.seq }, timeout: 5_000 })).seq;
            latencies.push(performance.now() - sent);
          } catch {
            latencies.push(Number.POSITIVE_INFINITY);
          }
        });
      }
    }
    await Promise.all(chains.map((c) => c.done));
    await jsm.streams.delete(STREAM);
    return { latencies: latencies.sort((a, b) => a - b) };
  } finally {
    await nc.drain();
  }
}
