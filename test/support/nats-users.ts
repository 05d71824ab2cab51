/**
 * A nats-server running deploy/nats/chio-users.conf, as deploy/istio runs it: one user per
 * service, each password from the server's environment. For the suites that run services
 * under their own NATS users.
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEmbeddedNats, type EmbeddedNats } from '../../src/nats/server.js';
import { generateKeys } from '../../src/keys.js';
import type { ChioConfig } from '../../src/config.js';
import { REPO_ROOT, testConfig } from './chio.js';
import { tempDir } from './nats.js';

/** Each user of chio-users.conf and the environment variable its password is read from. */
export const USERS = { authz: 'CHIO_AUTHZ_NATS_PASSWORD', ledger: 'CHIO_LEDGER_NATS_PASSWORD', verifier: 'CHIO_VERIFIER_NATS_PASSWORD', operator: 'CHIO_OPERATOR_NATS_PASSWORD' } as const;
export type User = keyof typeof USERS;

/** The settings a service runs with under chio-users.conf (as deploy/istio sets them). */
export const envOf = (user: User) => ({ NATS_USER: `chio-${user}`, NATS_PASS: `${user}-secret`, NATS_INBOX_PREFIX: `_INBOX_chio_${user}` });

export interface UsersNats {
  dir: string;
  nats: EmbeddedNats;
  /** A test configuration on that server, with keys generated. */
  config: ChioConfig;
  stop(): Promise<void>;
}

export async function startNatsWithUsers(prefix: string): Promise<UsersNats> {
  const dir = tempDir(prefix);
  copyFileSync(join(REPO_ROOT, 'deploy/nats/chio-users.conf'), join(dir, 'chio-users.conf'));
  writeFileSync(join(dir, 'nats.conf'), 'include ./chio-users.conf\n');
  // nats-server reads each password from its environment, as the file says.
  for (const [user, variable] of Object.entries(USERS)) process.env[variable] = `${user}-secret`;
  const nats = await startEmbeddedNats({ storeDir: join(dir, 'store'), configFile: join(dir, 'nats.conf') });
  const config = testConfig(dir, nats.url);
  generateKeys(config.keyDir, config.logOrigin);
  return {
    dir, nats, config,
    async stop() {
      await nats.stop();
      for (const variable of Object.values(USERS)) delete process.env[variable];
    },
  };
}
