/** Running the three services in-process against a test NATS, the way `chio up` does. */
import { join, resolve } from 'node:path';
import { connectNats } from '../../src/nats/connection.js';
import { loadConfig, type ChioConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { generateKeys } from '../../src/keys.js';
import { startAuthz, type RunningAuthz } from '../../src/authz/service.js';
import { startLedger, type RunningLedger } from '../../src/ledger/service.js';
import { startVerifier, type RunningVerifier } from '../../src/verifier/service.js';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';

export const REPO_ROOT = resolve(import.meta.dirname, '../..');

export function testConfig(dataDir: string, natsUrl: string, env: Record<string, string> = {}): ChioConfig {
  return loadConfig({
    env: {
      NATS_URL: natsUrl,
      CHIO_DATA_DIR: dataDir,
      CHIO_KEY_DIR: join(dataDir, 'keys'),
      CHIO_POLICIES: join(REPO_ROOT, 'deploy/policies'),
      CHIO_GRPC_PORT: '0',
      CHIO_HTTP_PORT: '0',
      CHIO_LEDGER_PORT: '0',
      CHIO_VERIFIER_PORT: '0',
      CHIO_CHECKPOINT_INTERVAL_MS: '100',
      CHIO_RECEIPT_TIMEOUT_MS: '1000',
      CHIO_CHAIN_ID: 'test-chain',
      CHIO_LOG_LEVEL: process.env.CHIO_TEST_LOG_LEVEL ?? 'silent',
      ...env,
    },
    defaultBind: '127.0.0.1',
  });
}

export interface TestChio {
  config: ChioConfig;
  nc: NatsConnection;
  authz: RunningAuthz;
  ledger: RunningLedger;
  verifier: RunningVerifier;
  grpcAddr: string;
  verifierUrl: string;
  stop(): Promise<void>;
}

/** `log`: where the services log (a test that reads every line passes its own); CHIO_LOG_LEVEL to stdout by default. */
export async function startTestChio(config: ChioConfig, options: { log?: Logger } = {}): Promise<TestChio> {
  generateKeys(config.keyDir, config.logOrigin);
  const log = options.log ?? createLogger(config.logLevel);
  // NATS_URL may name several servers (a cluster), comma-separated, as the services take it.
  const nc = await connectNats({ servers: config.natsUrl!.split(','), name: 'chio-test' });
  const ledger = await startLedger(config, nc, log);
  const verifier = await startVerifier(config, nc, log);
  const authz = await startAuthz(config, nc, log);
  return {
    config, nc, authz, ledger, verifier,
    grpcAddr: `127.0.0.1:${authz.grpcPort}`,
    verifierUrl: `http://127.0.0.1:${verifier.httpPort}`,
    async stop() {
      await authz.stop();
      await ledger.stop();
      await verifier.stop();
      await nc.drain();
    },
  };
}
