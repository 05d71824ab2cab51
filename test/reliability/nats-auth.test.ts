/**
 * Chio's ways to authenticate to NATS (NATS_USER/NATS_PASS, NATS_TOKEN, NATS_NKEY, NATS_CREDS)
 * and TLS to NATS (NATS_CA, NATS_CERT, NATS_KEY), each against a real nats-server configured
 * to demand it. With the right credentials Chio connects and creates every stream, bucket and
 * object store it uses (as each process does at start-up); with wrong ones it is refused.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { startEmbeddedNats, type EmbeddedNats } from '../../src/nats/server.js';
import { connectNats } from '../../src/nats/connection.js';
import { loadConfig } from '../../src/config.js';
import { natsSettings } from '../../src/nats/connection.js';
import { ensureResources, RECEIPTS_STREAM } from '../../src/store/resources.js';
import { tempDir } from '../support/nats.js';
import { makeTestPki, type TestPki } from '../support/pki.js';
import { operatorMode, userNkey } from '../support/nats-auth.js';

let dir: string;
let pki: TestPki;
let server: EmbeddedNats | undefined;

beforeAll(() => {
  dir = tempDir('chio-nats-auth-');
  pki = makeTestPki();
});

afterEach(async () => {
  await server?.stop();
  server = undefined;
});

/** A nats-server -js with `config` as its configuration file. */
async function startNatsWith(name: string, config: string): Promise<EmbeddedNats> {
  const configFile = join(dir, `${name}.conf`);
  writeFileSync(configFile, `${config}\n`);
  server = await startEmbeddedNats({ storeDir: join(dir, `${name}-store`), configFile });
  return server;
}

/**
 * Connect the way a Chio process does, from its environment settings. A refused TLS client
 * certificate is only seen when the connect timeout runs out (TLS 1.3 checks it after the
 * handshake), so the timeout is short here.
 */
function connectAsChio(url: string, env: Record<string, string>) {
  return connectNats({ ...natsSettings(loadConfig({ env }), [url], 'chio-auth-test'), timeoutMs: 3_000 });
}

/** Connects, creates Chio's resources, and closes: what a process does at start-up. */
async function startsUp(url: string, env: Record<string, string>): Promise<void> {
  const nc = await connectAsChio(url, env);
  try {
    await ensureResources(nc);
    expect((await (await jetstreamManager(nc)).streams.info(RECEIPTS_STREAM)).config.name).toBe(RECEIPTS_STREAM);
  } finally {
    await nc.close();
  }
}

describe('user and password (NATS_USER, NATS_PASS)', () => {
  it('connects with the right password and is refused with a wrong one', async () => {
    const nats = await startNatsWith('user', 'authorization { user: chio, password: "pass-7f3a" }');
    await startsUp(nats.url, { NATS_USER: 'chio', NATS_PASS: 'pass-7f3a' });
    await expect(connectAsChio(nats.url, { NATS_USER: 'chio', NATS_PASS: 'wrong' })).rejects.toThrow(/authorization/i);
    await expect(connectAsChio(nats.url, {})).rejects.toThrow(/authorization/i);
  });
});

describe('token (NATS_TOKEN)', () => {
  it('connects with the token and is refused with another', async () => {
    const nats = await startNatsWith('token', 'authorization { token: "token-91c2" }');
    await startsUp(nats.url, { NATS_TOKEN: 'token-91c2' });
    await expect(connectAsChio(nats.url, { NATS_TOKEN: 'token-0000' })).rejects.toThrow(/authorization/i);
  });
});

describe('nkey (NATS_NKEY)', () => {
  it('connects with the seed of a known user and is refused with another seed', async () => {
    const known = userNkey(dir, 'known.nk');
    const other = userNkey(dir, 'other.nk');
    const nats = await startNatsWith('nkey', `authorization { users: [ { nkey: ${known.publicKey} } ] }`);
    await startsUp(nats.url, { NATS_NKEY: known.seedFile });
    await expect(connectAsChio(nats.url, { NATS_NKEY: other.seedFile })).rejects.toThrow(/authorization/i);
  });
});

describe('creds file (NATS_CREDS)', () => {
  it('connects with a user of the trusted account and is refused with one the operator never trusted', async () => {
    const mode = operatorMode();
    const nats = await startNatsWith('creds', mode.serverConfig);
    const good = join(dir, 'good.creds');
    const bad = join(dir, 'stranger.creds');
    mode.writeCreds(good);
    mode.writeCreds(bad, false);
    await startsUp(nats.url, { NATS_CREDS: good });
    await expect(connectAsChio(nats.url, { NATS_CREDS: bad })).rejects.toThrow(/authorization/i);
  });
});

describe('TLS with a client certificate (NATS_CA, NATS_CERT, NATS_KEY)', () => {
  it('connects with a certificate the CA signed and is refused without one or with a rogue one', async () => {
    const nats = await startNatsWith('tls', [
      'tls {',
      `  cert_file: "${pki.serverCert}"`,
      `  key_file: "${pki.serverKey}"`,
      `  ca_file: "${pki.caCert}"`,
      '  verify: true',
      '}',
    ].join('\n'));
    await startsUp(nats.url, { NATS_CA: pki.caCert, NATS_CERT: pki.clientCert, NATS_KEY: pki.clientKey });
    await expect(connectAsChio(nats.url, { NATS_CA: pki.caCert })).rejects.toThrow();
    await expect(connectAsChio(nats.url, { NATS_CA: pki.caCert, NATS_CERT: pki.rogueCert, NATS_KEY: pki.rogueKey })).rejects.toThrow();
    // Without NATS_CA the server's certificate is not trusted.
    await expect(connectAsChio(nats.url, { NATS_CERT: pki.clientCert, NATS_KEY: pki.clientKey })).rejects.toThrow();
  });
});
