/**
 * The health every Chio service starts with: NATS and JetStream followed in the background
 * (nats-health.ts), folded into the service's readiness (readiness.ts), changes logged once.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { NatsHealth } from './nats-health.js';
import { ServiceReadiness } from './readiness.js';

export interface ServiceHealth {
  /** Add a check of the service's own here (revocations, a standby ledger…). */
  readonly readiness: ServiceReadiness;
  readonly nats: NatsHealth;
  stop(): void;
}

/** Start following NATS for `service`; resolves after the first JetStream probe. */
export async function startServiceHealth(service: string, nc: NatsConnection, log: Logger): Promise<ServiceHealth> {
  const nats = new NatsHealth({
    nc,
    jsm: await jetstreamManager(nc),
    onChange: (problem) => (problem === undefined ? log.info('NATS and JetStream usable again; ready') : log.warn({ reason: problem }, 'not ready')),
  });
  const readiness = new ServiceReadiness(service, [() => nats.problem]);
  await nats.start();
  return {
    readiness,
    nats,
    stop() {
      nats.stop();
      readiness.close();
    },
  };
}
