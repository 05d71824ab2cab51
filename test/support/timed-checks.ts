/**
 * Valid Checks over one held gRPC connection (as Envoy keeps one), each answer or error kept
 * with when it was sent and answered: for the suites that time answers across a fault
 * (nats-dies, store-full).
 */
import * as grpc from '@grpc/grpc-js';
import { loadChioProtos } from '../../src/authz/proto.js';
import { buildCheckRequest } from '../../src/cli/envoy-request.js';
import { summarise, type CheckAnswer } from '../../src/cli/check.js';
import type { CheckResponse } from '../../src/authz/wire.js';

export interface TimedCheck {
  requestId: string;
  sentAt: number;
  answeredAt: number;
  answer: CheckAnswer | { error: string };
}

export interface TimedCheckClient {
  /** One Check with the capability `token`; never rejects (a gRPC error is kept as `error`). */
  check(): Promise<TimedCheck>;
  close(): void;
}

export function timedCheckClient(grpcAddr: string, token: string): TimedCheckClient {
  const { authorizationClient } = loadChioProtos();
  const client = new authorizationClient(grpcAddr, grpc.credentials.createInsecure());
  return {
    check() {
      const request = buildCheckRequest({ method: 'POST', path: '/tools/hello', host: 'tools.chio.local', headers: { 'x-chio-capability-token': token } });
      const requestId = request.attributes!.request!.http!.id!;
      const sentAt = Date.now();
      return new Promise((resolve) =>
        client.Check(request, { deadline: Date.now() + 5_000 }, (err: grpc.ServiceError | null, r: CheckResponse) =>
          resolve({ requestId, sentAt, answeredAt: Date.now(), answer: err ? { error: err.message } : summarise(r) })),
      );
    },
    close: () => client.close(),
  };
}
