/** The ledger service (`chio ledger`): the Ledger plus its HTTP side (/health, /ready, /metrics). */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { ChioError } from '../errors/index.js';
import type { ChioConfig } from '../config.js';
import { loadKey } from '../keys.js';
import { ensureResources } from '../store/resources.js';
import { startHttpServer } from '../http.js';
import { Ledger } from './ledger.js';

export interface RunningLedger {
  readonly httpPort: number;
  readonly ledger: Ledger;
  stop(): Promise<void>;
}

export async function startLedger(config: ChioConfig, nc: NatsConnection, log: Logger): Promise<RunningLedger> {
  const logKey = loadKey(config.keyDir, 'log');
  if (logKey.name !== config.logOrigin) {
    throw new ChioError('CONFIG_INVALID', `the log key is named ${logKey.name} but CHIO_LOG_ORIGIN is ${config.logOrigin}: a checkpoint's signer must be its origin`);
  }
  const kernelKeys = [loadKey(config.keyDir, 'kernel').verifierKey];
  const resources = await ensureResources(nc, config.replicas);
  const ledger = new Ledger({ nc, resources, kernelKeys, origin: config.logOrigin, logSignerKey: logKey.signerKey, checkpointIntervalMs: config.checkpointIntervalMs, lease: { holder: config.ledgerId }, log });
  await ledger.start();
  // A standby is alive (/health) but not ready: it answers nothing a writer would (SPEC §1).
  const ready = () => (nc.isClosed() ? 'NATS connection is closed' : ledger.role === 'standby' ? 'standby' : undefined);
  const http = await startHttpServer({ bind: config.bind, port: config.ledgerPort, log, ready });
  return {
    httpPort: http.port,
    ledger,
    async stop() {
      await ledger.stop();
      await http.stop();
    },
  };
}
