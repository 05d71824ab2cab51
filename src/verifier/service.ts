/** The verifier service (`chio verifier`): the HTTP API of api.ts plus /health and /metrics. */
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import type { ChioConfig } from '../config.js';
import { loadVerifierKey } from '../keys.js';
import { KernelTrustWatcher } from '../kernel-keys.js';
import { ensureResources } from '../store/resources.js';
import { startHttpServer } from '../http.js';
import { loadListenerTls, tlsMode } from '../tls.js';
import { verifierRoutes } from './api.js';
import { timedRoutes } from './request-metrics.js';
import { join } from 'node:path';
import { startServiceHealth } from '../health/service-health.js';
import type { ServiceReadiness } from '../health/readiness.js';
import { existsSync } from 'node:fs';
import { ReconnectGuard } from '../nats/reconnects.js';
import type { ChioResources } from '../store/resources.js';

export interface RunningVerifier {
  readonly httpPort: number;
  readonly readiness: ServiceReadiness;
  /** The kernel keys /v1/keys lists and /v1/verify trusts. */
  readonly kernelKeys: KernelTrustWatcher;
  stop(): Promise<void>;
}

export async function startVerifier(config: ChioConfig, nc: NatsConnection, log: Logger): Promise<RunningVerifier> {
  // The verifier signs nothing: it needs only the public halves.
  const logKey = loadVerifierKey(join(config.keyDir, 'log.pub'));
  // Every kernel key of the key directory, read again while running: /v1/keys follows a rotation.
  const kernelKeys = new KernelTrustWatcher(config.keyDir, 'verifier', log, config.kernelKeysPollMs);
  const tls = loadListenerTls(config);
  // Published so an auditor can fetch it once; a bundle is trusted through this key alone.
  const exportKeyFile = join(config.keyDir, 'export.pub');
  const exportKey = existsSync(exportKeyFile) ? loadVerifierKey(exportKeyFile) : undefined;
  // Every read an HTTP request makes fails at once while NATS is down (a 503 then, not after the
  // client's 5 s request timeout), and one in flight fails when the connection drops.
  const reads = new ReconnectGuard(nc, { failWhileDown: true });
  const stored = await ensureResources(nc, config.replicas);
  const resources = Object.fromEntries(Object.entries(stored).map(([name, handle]) => [name, reads.guarded(handle, `the ${name} store`)])) as unknown as ChioResources;
  const routes = verifierRoutes({ js: reads.guarded(jetstream(nc), 'JetStream'), jsm: reads.guarded(await jetstreamManager(nc), 'JetStream'), resources, fetchGuard: reads, logKey, kernelKeys: () => kernelKeys.current(), ...(exportKey ? { exportKey } : {}) });
  const health = await startServiceHealth('verifier', nc, log);
  const http = await startHttpServer({ bind: config.bind, port: config.verifierPort, portSetting: 'CHIO_VERIFIER_PORT', log, ready: () => health.readiness.reason(), routes: [timedRoutes(routes)], ...(tls ? { tls } : {}) });
  kernelKeys.start();
  log.info({ http: http.port, tls: tlsMode(tls) }, 'verifier listening');
  return {
    httpPort: http.port,
    readiness: health.readiness,
    kernelKeys,
    async stop() {
      kernelKeys.stop();
      health.stop();
      await http.stop();
      reads.stop();
    },
  };
}
