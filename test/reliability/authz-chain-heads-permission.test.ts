/**
 * authz opens the chain-heads bucket at start (27e1463). Under deploy/nats/chio-users.conf it
 * may create it but not update it; a bucket made before its value bound existed is updated by
 * openBucket, which authz must not need to do.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { StorageType } from '@nats-io/jetstream';
import { connectNats, natsSettings } from '../../src/nats/connection.js';
import { loadConfig } from '../../src/config.js';
import { startEmbeddedNats, type EmbeddedNats } from '../../src/nats/server.js';
import { REPO_ROOT } from '../support/chio.js';
import { tempDir } from '../support/nats.js';
import { CHAINS_BUCKET } from '../../src/store/resources.js';
import { testConfig } from '../support/chio.js';
import { generateKeys } from '../../src/keys.js';
import { createLogger } from '../../src/log.js';
import { startAuthz, type RunningAuthz } from '../../src/authz/service.js';
import type { ChioConfig } from '../../src/config.js';

const USERS = { authz: 'CHIO_AUTHZ_NATS_PASSWORD', ledger: 'CHIO_LEDGER_NATS_PASSWORD', verifier: 'CHIO_VERIFIER_NATS_PASSWORD', operator: 'CHIO_OPERATOR_NATS_PASSWORD' } as const;
type User = keyof typeof USERS;
const envOf = (user: User) => ({ NATS_USER: `chio-${user}`, NATS_PASS: `${user}-secret`, NATS_INBOX_PREFIX: `_INBOX_chio_${user}` });

let nats: EmbeddedNats;
let config: ChioConfig;
let authz: RunningAuthz | undefined;
const connections: NatsConnection[] = [];
async function connectAs(user: User): Promise<NatsConnection> {
  const nc = await connectNats(natsSettings(loadConfig({ env: envOf(user) }), [nats.url], `chio-${user}`));
  connections.push(nc);
  return nc;
}

beforeAll(async () => {
  const dir = tempDir('chio-chain-heads-perm-');
  copyFileSync(join(REPO_ROOT, 'deploy/nats/chio-users.conf'), join(dir, 'chio-users.conf'));
  writeFileSync(join(dir, 'nats.conf'), 'include ./chio-users.conf\n');
  for (const [user, variable] of Object.entries(USERS)) process.env[variable] = `${user}-secret`;
  nats = await startEmbeddedNats({ storeDir: join(dir, 'store'), configFile: join(dir, 'nats.conf') });
  config = testConfig(dir, nats.url);
  generateKeys(config.keyDir, config.logOrigin);
});

afterAll(async () => {
  await authz?.stop();
  for (const nc of connections) await nc.close().catch(() => undefined);
  await nats?.stop();
  for (const variable of Object.values(USERS)) delete process.env[variable];
});

describe('authz and an existing chain-heads bucket', () => {
  it('authz starts under its own user on one made before its value bound (an older install)', async () => {
    // An older ledger made the bucket without a value bound.
    const ledger = await connectAs('ledger');
    await new Kvm(ledger).create(CHAINS_BUCKET, { replicas: 1, history: 1, storage: StorageType.File, allow_direct: false });
    authz = await startAuthz({ ...config, natsInboxPrefix: envOf('authz').NATS_INBOX_PREFIX }, await connectAs('authz'), createLogger('silent'));
    expect(authz.grpcPort).toBeGreaterThan(0);
  }, 30_000);
});
