/**
 * What a suite that runs `chio authz` as its own process needs around it: a test nats-server,
 * keys, a configuration, and the ledger and the verifier in this process, so that every allow
 * can be proven.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { startTestNats, tempDir, type TestNats } from './nats.js';
import { REPO_ROOT, testConfig } from './chio.js';
import { connectNats } from '../../src/nats/connection.js';
import { createLogger } from '../../src/log.js';
import { generateKeys } from '../../src/keys.js';
import { startLedger, type RunningLedger } from '../../src/ledger/service.js';
import { startVerifier, type RunningVerifier } from '../../src/verifier/service.js';
import type { ChioConfig } from '../../src/config.js';

export interface LogStack {
  nats: TestNats;
  nc: NatsConnection;
  config: ChioConfig;
  ledger: RunningLedger;
  verifier: RunningVerifier;
  stop(): Promise<void>;
}

/** Start the stack for chains named after `chainId`; `name` labels its temp dir and connection. */
export async function startLogStack(name: string, chainId: string): Promise<LogStack> {
  if (!existsSync(join(REPO_ROOT, 'dist/cli/program.js'))) throw new Error('bin/chio.js runs dist/: run `npm run build` first (npm ci does)');
  const nats = await startTestNats();
  const config = testConfig(tempDir(`chio-${name}-`), nats.current.url, { CHIO_CHAIN_ID: chainId });
  generateKeys(config.keyDir, config.logOrigin);
  const nc = await connectNats({ servers: [nats.current.url], name: `chio-${name}` });
  const log = createLogger('silent');
  const ledger = await startLedger(config, nc, log);
  const verifier = await startVerifier(config, nc, log);
  return {
    nats,
    nc,
    config,
    ledger,
    verifier,
    async stop() {
      await ledger.stop();
      await verifier.stop();
      await nc.drain();
      await nats.cleanup();
    },
  };
}
