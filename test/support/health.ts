/** Asking a running Chio whether it is ready, the way kubelet and Envoy do: /ready and gRPC Health. */
import * as grpc from '@grpc/grpc-js';
import { HEALTH_SERVICE, loadChioProtos } from '../../src/authz/proto.js';

export interface ReadyAnswer {
  status: number;
  body: { status?: string; reason?: string };
}

/** GET /ready on a local HTTP port; a connection failure is an answer too (status 0). */
export async function httpReady(port: number): Promise<ReadyAnswer> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/ready`, { signal: AbortSignal.timeout(2_000) });
    return { status: res.status, body: (await res.json()) as ReadyAnswer['body'] };
  } catch (err) {
    return { status: 0, body: { reason: String(err) } };
  }
}

type HealthClient = grpc.Client & {
  Check(req: { service: string }, opts: Partial<grpc.CallOptions>, cb: (err: grpc.ServiceError | null, res: { status: string | number }) => void): void;
};

/** grpc.health.v1.HealthCheckResponse.ServingStatus, by number (the loader keeps enums as numbers). */
const SERVING_STATUS: Record<string, string> = { '0': 'UNKNOWN', '1': 'SERVING', '2': 'NOT_SERVING', '3': 'SERVICE_UNKNOWN' };

/** grpc.health.v1.Health/Check for `service`: 'SERVING', 'NOT_SERVING', or the gRPC error. */
export async function grpcHealth(addr: string, service = ''): Promise<string> {
  const Client = grpc.makeClientConstructor(loadChioProtos().healthService, HEALTH_SERVICE) as unknown as new (a: string, c: grpc.ChannelCredentials) => HealthClient;
  const client = new Client(addr, grpc.credentials.createInsecure());
  try {
    return await new Promise<string>((resolve) => {
      client.Check({ service }, { deadline: Date.now() + 2_000 }, (err, res) => resolve(err ? `error ${err.code}` : (SERVING_STATUS[String(res.status)] ?? String(res.status))));
    });
  } finally {
    client.close();
  }
}

/**
 * Poll `probe` every `intervalMs` until `done` holds for its answer; resolves with the answer and
 * the time it took, or rejects after `timeoutMs` with the last answer seen.
 */
export async function pollUntil<T>(probe: () => Promise<T>, done: (answer: T) => boolean, timeoutMs: number, intervalMs = 50): Promise<{ answer: T; ms: number }> {
  const started = performance.now();
  for (;;) {
    const answer = await probe();
    if (done(answer)) return { answer, ms: performance.now() - started };
    if (performance.now() - started > timeoutMs) throw new Error(`still not there after ${timeoutMs} ms: ${JSON.stringify(answer)}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
