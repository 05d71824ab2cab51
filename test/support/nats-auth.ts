/**
 * nats-server configurations for each way Chio authenticates to NATS, and the material the
 * client side needs. Keys come from @nats-io/nkeys (the NATS maintainers' library); a creds
 * file needs JWTs in NATS's decentralised-auth form (operator → account → user), minted here:
 * a JWT header `{"typ":"JWT","alg":"ed25519-nkey"}`, claims `{jti, iat, iss, sub, name, nats}`,
 * and an Ed25519 signature by the issuer's nkey over `header.payload`, all base64url.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createAccount, createOperator, createUser, type KeyPair } from '@nats-io/nkeys';

const base64url = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64url');

function mintJwt(issuer: KeyPair, subject: string, name: string, nats: Record<string, unknown>): string {
  const header = base64url(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' }));
  const claims = base64url(JSON.stringify({ jti: randomUUID(), iat: Math.floor(Date.now() / 1000), iss: issuer.getPublicKey(), sub: subject, name, nats: { version: 2, ...nats } }));
  return `${header}.${claims}.${base64url(issuer.sign(new TextEncoder().encode(`${header}.${claims}`)))}`;
}

// Unlimited, JetStream included: Chio creates streams, buckets and an object store.
const UNLIMITED_ACCOUNT = {
  type: 'account',
  limits: { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 },
};

export interface OperatorMode {
  /** nats-server configuration lines (operator, resolver with the account preloaded). */
  serverConfig: string;
  /** Write a creds file for a new user of the trusted account (or of an account the operator never signed). */
  writeCreds(path: string, trusted?: boolean): void;
}

/** An operator, a system account and one account with JetStream, for creds-file authentication. */
export function operatorMode(): OperatorMode {
  const operator = createOperator();
  const account = createAccount();
  const system = createAccount();
  const stranger = createAccount();
  const operatorJwt = mintJwt(operator, operator.getPublicKey(), 'chio-test-operator', { type: 'operator', system_account: system.getPublicKey() });
  const accountJwt = mintJwt(operator, account.getPublicKey(), 'chio', UNLIMITED_ACCOUNT);
  const systemJwt = mintJwt(operator, system.getPublicKey(), 'SYS', { type: 'account' });
  return {
    serverConfig: [
      `operator: ${operatorJwt}`,
      `system_account: ${system.getPublicKey()}`,
      'resolver: MEMORY',
      `resolver_preload: { ${account.getPublicKey()}: ${accountJwt}, ${system.getPublicKey()}: ${systemJwt} }`,
    ].join('\n'),
    writeCreds(path, trusted = true) {
      const issuer = trusted ? account : stranger;
      const user = createUser();
      const jwt = mintJwt(issuer, user.getPublicKey(), 'chio-service', { type: 'user', pub: {}, sub: {}, subs: -1, data: -1, payload: -1 });
      const seed = new TextDecoder().decode(user.getSeed());
      writeFileSync(path, `-----BEGIN NATS USER JWT-----\n${jwt}\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`, { mode: 0o600 });
    },
  };
}

/** A user nkey: the public key for the server's config, the seed written to `dir/name` (0600). */
export function userNkey(dir: string, name: string): { publicKey: string; seedFile: string } {
  const user = createUser();
  const seedFile = join(dir, name);
  writeFileSync(seedFile, `${new TextDecoder().decode(user.getSeed())}\n`, { mode: 0o600 });
  return { publicKey: user.getPublicKey(), seedFile };
}
