/**
 * A trickle of valid Checks at a fixed rate from one gRPC client, as a well-behaved service
 * sends them while others flood: their latency and the share answered 503 (ReceiptLedger).
 */
import * as grpc from '@grpc/grpc-js';
import { loadChioProtos } from '../../src/authz/proto.js';
import { buildCheckRequest } from '../../src/cli/envoy-request.js';
import type { CheckResponse } from '../../src/authz/wire.js';
import { percentile } from './h2load.js';

/** Checks sent, one at a time, before the counted ones. */
const WARM_UP_CHECKS = 20;

export interface TrickleResult {
  sent: number;
  p99: number;
  max: number;
  unavailableShare: number;
}

/**
 * A client connected to `addr` and warmed up, as a service's Envoy keeps its connection to Chio
 * open: a few Checks, not counted, so that this client's first call (connection, JIT) is not
 * taken for Chio's latency. Warm it before the flood starts.
 */
export async function warmTrickle(addr: string, token: string): Promise<{ run(o: { perSecond: number; seconds: number }): Promise<TrickleResult> }> {
  const client = new (loadChioProtos().authorizationClient)(addr, grpc.credentials.createInsecure());
  const request = () => buildCheckRequest({ method: 'POST', path: '/tools/hello', host: 'tools.chio.local', headers: { 'x-chio-capability-token': token } });
  let answered = 0;
  for (let i = 0; i < WARM_UP_CHECKS; i++) {
    await new Promise<void>((done) => client.Check(request(), { deadline: Date.now() + 5_000 }, (err: grpc.ServiceError | null) => {
      if (!err) answered += 1;
      done();
    }));
  }
  if (answered === 0) throw new Error(`the trickle's client got no answer from ${addr} in ${WARM_UP_CHECKS} warm-up Checks`);
  return { run: (o) => trickle(client, request, o) };
}

type CheckClient = InstanceType<ReturnType<typeof loadChioProtos>['authorizationClient']>;

async function trickle(client: CheckClient, request: () => ReturnType<typeof buildCheckRequest>, o: { perSecond: number; seconds: number }): Promise<TrickleResult> {
  const latencies: number[] = [];
  let unavailable = 0;
  const calls: Promise<void>[] = [];
  const total = o.perSecond * o.seconds;
  for (let i = 0; i < total; i++) {
    const started = performance.now();
    calls.push(new Promise<void>((done) => {
      client.Check(request(), { deadline: Date.now() + 5_000 }, (err: grpc.ServiceError | null, res: CheckResponse) => {
        latencies.push(performance.now() - started);
        if (err || res.denied_response?.status.code === 503) unavailable += 1;
        done();
      });
    }));
    await new Promise((r) => setTimeout(r, 1000 / o.perSecond));
  }
  await Promise.all(calls);
  client.close();
  latencies.sort((a, b) => a - b);
  return { sent: total, p99: percentile(latencies, 99), max: latencies.at(-1) ?? NaN, unavailableShare: unavailable / total };
}
