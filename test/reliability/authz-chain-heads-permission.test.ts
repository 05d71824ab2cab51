/**
 * authz opens the chain-heads bucket at start (27e1463). Under deploy/nats/chio-users.conf it
 * may create it but not update it; a bucket made before its value bound existed is updated by
 * openBucket, which authz must not need to do.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envOf, startNatsWithUsers, type User, type UsersNats } from '../support/nats-users.js';
import type { EmbeddedNats } from '../../src/nats/server.js';
import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { StorageType } from '@nats-io/jetstream';
import { connectNats, natsSettings } from '../../src/nats/connection.js';
import { loadConfig } from '../../src/config.js';
import { CHAINS_BUCKET } from '../../src/store/resources.js';
import { createLogger } from '../../src/log.js';
import { startAuthz, type RunningAuthz } from '../../src/authz/service.js';
import type { ChioConfig } from '../../src/config.js';

let users: UsersNats;
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
  users = await startNatsWithUsers('chio-chain-heads-perm-');
  ({ nats, config } = users);
});

afterAll(async () => {
  await authz?.stop();
  for (const nc of connections) await nc.close().catch(() => undefined);
  await users?.stop();
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
