/**
 * Load for reliability runs: a few concurrent gRPC clients, each sending Envoy-shaped Checks
 * one after another until told to stop, recording every answer (or the gRPC error when the
 * server was gone). The channel reconnects quickly so a restarted server is found at once.
 */
import * as grpc from '@grpc/grpc-js';
import { loadChioProtos } from '../../src/authz/proto.js';
import { buildCheckRequest } from '../../src/cli/envoy-request.js';
import { summarise, type CheckAnswer } from '../../src/cli/check.js';
import type { CheckResponse } from '../../src/authz/wire.js';

export interface Sent {
  requestId: string;
  sentAt: number;
  answeredAt: number;
  /** Which phase of the run it was sent in (the caller's label: an epoch, a fault window). */
  phase: number;
  answer: CheckAnswer | { error: string };
}

export interface Load {
  readonly sent: Sent[];
  /** Label the Checks sent from now on. */
  phase: number;
  stop(): Promise<void>;
}

/**
 * Valid Checks with the demo capability token from `clients` clients, until stop(). They share
 * one HTTP/2 connection (grpc-js pools them) unless `ownConnection`, which gives this load its own.
 */
export function startLoad(addr: string, token: string, clients: number, pauseOnErrorMs = 20, pauseMs = 0, ownConnection = false): Load {
  const { authorizationClient } = loadChioProtos();
  const client = new authorizationClient(addr, grpc.credentials.createInsecure(), {
    'grpc.initial_reconnect_backoff_ms': 50,
    'grpc.max_reconnect_backoff_ms': 250,
    ...(ownConnection ? { 'grpc.use_local_subchannel_pool': 1 } : {}),
  });
  let running = true;
  const load: Load = {
    sent: [],
    phase: 0,
    async stop() {
      running = false;
      await Promise.all(loops);
      client.close();
    },
  };
  const check = (): Promise<Sent> => {
    const request = buildCheckRequest({ method: 'POST', path: '/tools/hello', host: 'tools.chio.local', headers: { 'x-chio-capability-token': token } });
    const sentAt = Date.now();
    const phase = load.phase;
    return new Promise((resolve) =>
      client.Check(request, { deadline: Date.now() + 5_000 }, (err: grpc.ServiceError | null, r: CheckResponse) =>
        resolve({ requestId: request.attributes!.request!.http!.id!, sentAt, answeredAt: Date.now(), phase, answer: err ? { error: err.message } : summarise(r) })),
    );
  };
  const loops = Array.from({ length: clients }, async () => {
    while (running) {
      const s = await check();
      load.sent.push(s);
      if ('error' in s.answer) await new Promise((r) => setTimeout(r, pauseOnErrorMs));
      else if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
    }
  });
  return load;
}

export const isAnswer = (s: Sent): s is Sent & { answer: CheckAnswer } => !('error' in s.answer);

/** A small seeded PRNG (mulberry32): a failing run is repeated with the seed it printed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
