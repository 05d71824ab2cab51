/** The verifier service (`chio verifier`): the HTTP API of api.ts plus /health and /metrics. */
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import type { ChioConfig } from '../config.js';
import { loadVerifierKey } from '../keys.js';
import { ensureResources } from '../store/resources.js';
import { startHttpServer } from '../http.js';
import { verifierRoutes } from './api.js';
import { join } from 'node:path';
import { existsSync } from 'node:fs';

export interface RunningVerifier {
  readonly httpPort: number;
  stop(): Promise<void>;
}

export async function startVerifier(config: ChioConfig, nc: NatsConnection, log: Logger): Promise<RunningVerifier> {
  // The verifier signs nothing: it needs only the public halves.
  const logKey = loadVerifierKey(join(config.keyDir, 'log.pub'));
  const kernelKeys = [loadVerifierKey(join(config.keyDir, 'kernel.pub'))];
  // Published so an auditor can fetch it once; a bundle is trusted through this key alone.
  const exportKeyFile = join(config.keyDir, 'export.pub');
  const exportKey = existsSync(exportKeyFile) ? loadVerifierKey(exportKeyFile) : undefined;
  const resources = await ensureResources(nc, config.replicas);
  const routes = verifierRoutes({ js: jetstream(nc), jsm: await jetstreamManager(nc), resources, logKey, kernelKeys, ...(exportKey ? { exportKey } : {}) });
  const ready = () => (nc.isClosed() ? 'NATS connection is closed' : undefined);
  const http = await startHttpServer({ bind: config.bind, port: config.verifierPort, log, ready, routes });
  log.info({ http: http.port }, 'verifier listening');
  return { httpPort: http.port, stop: () => http.stop() };
}
