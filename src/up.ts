/**
 * `chio up` (= `npm start`): every service in one process on one NATS (SPEC §1, §8).
 * First run: keys are made in the key directory, the demo policy set is loaded, and a demo
 * capability token with the exact commands to try is printed. Ctrl-C stops authz first (no
 * new Checks; those in flight answered, their receipts stored), then the ledger (last batch
 * integrated, last checkpoint published), then the verifier and NATS.
 */
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { ChioConfig } from './config.js';
import { generateKeys, loadKey } from './keys.js';
import { acquireNats, type AcquiredNats } from './nats/acquire.js';
import { connectNats } from './nats/connection.js';
import { startAuthz, type RunningAuthz } from './authz/service.js';
import { startLedger, type RunningLedger } from './ledger/service.js';
import { startVerifier, type RunningVerifier } from './verifier/service.js';
import { issueCapability } from './credentials/capability.js';

export interface RunningChio {
  readonly authz: RunningAuthz;
  readonly ledger: RunningLedger;
  readonly verifier: RunningVerifier;
  readonly nc: NatsConnection;
  stop(): Promise<void>;
}

/** The NATS options every process passes on (URL list, credentials, TLS). */
export function natsSettings(config: ChioConfig, servers: string[], name: string) {
  const tls = config.natsCa || config.natsCert ? { caFile: config.natsCa, certFile: config.natsCert, keyFile: config.natsKey } : undefined;
  return {
    servers,
    name,
    ...(config.natsCreds ? { credsFile: config.natsCreds } : {}),
    ...(config.natsNkey ? { nkeySeedFile: config.natsNkey } : {}),
    ...(config.natsUser ? { user: config.natsUser, pass: config.natsPass ?? '' } : {}),
    ...(tls ? { tls } : {}),
  };
}

/** Start all services in this process. */
export async function startAll(config: ChioConfig, log: Logger): Promise<RunningChio & { nats: AcquiredNats; createdKeys: string[] }> {
  const createdKeys = generateKeys(config.keyDir, config.logOrigin);
  const nats = await acquireNats(config.natsUrl, config.dataDir, log);
  const nc = await connectNats(natsSettings(config, nats.servers, 'chio-up'));
  const ledger = await startLedger(config, nc, log.child({ service: 'ledger' }));
  const verifier = await startVerifier(config, nc, log.child({ service: 'verifier' }));
  const authz = await startAuthz(config, nc, log.child({ service: 'authz' }));
  return {
    authz, ledger, verifier, nc, nats, createdKeys,
    async stop() {
      await authz.stop();
      await ledger.stop();
      await verifier.stop();
      await nc.drain();
      await nats.stop();
    },
  };
}

/** A demo capability token from the demo issuer, covering the demo policy's routes. */
export function demoToken(config: ChioConfig, ttlSeconds = 12 * 3600): string {
  const issuer = loadKey(config.keyDir, 'demo-issuer');
  const now = Math.floor(Date.now() / 1000);
  return issueCapability({
    schema: 'chio.capability.v1',
    id: randomUUID(),
    issuer: issuer.verifierKey,
    subject: 'demo-agent',
    scope: { grants: [{ methods: ['POST'], paths: ['/tools/*', '/invoke/*'] }, { methods: ['GET'], paths: ['/tools/*'] }] },
    issued_at: now,
    expires_at: now + ttlSeconds,
  }, issuer.signer);
}

/** What `chio up` prints once everything listens. */
export function welcome(config: ChioConfig, chio: RunningChio, token: string): string {
  const host = config.bind === '0.0.0.0' ? '127.0.0.1' : config.bind;
  const addr = chio.authz.grpcPort === 9091 ? '' : ` --addr ${host}:${chio.authz.grpcPort}`;
  const url = chio.verifier.httpPort === 9093 ? '' : ` --url http://${host}:${chio.verifier.httpPort}`;
  return [
    '',
    `Chio is up.  authz gRPC ${host}:${chio.authz.grpcPort} (HTTP :${chio.authz.httpPort})  ledger :${chio.ledger.httpPort}  verifier http://${host}:${chio.verifier.httpPort}`,
    `keys: ${config.keyDir}   policies: ${config.policies}   policy hash: ${chio.authz.policyHash}`,
    '',
    'A demo capability token (subject demo-agent; POST /tools/*, POST /invoke/*, GET /tools/*; valid 12h):',
    '',
    `  export CHIO_TOKEN=${token}`,
    '',
    'Try, in another terminal (from this directory):',
    '',
    `  npx chio check${addr} --method POST --path /tools/hello --header "x-chio-capability-token:$CHIO_TOKEN"   # allow`,
    `  npx chio check${addr} --method POST --path /tools/hello                                                # deny 401`,
    `  npx chio prove${url} <receipt id printed by check>`,
    '',
    'Ctrl-C stops Chio cleanly; `npm start` again continues the same keys and log.',
    '',
  ].join('\n');
}
