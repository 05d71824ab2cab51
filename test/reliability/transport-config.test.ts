/**
 * Transport settings that cannot work stop start-up with CONFIG_INVALID and a message naming
 * the setting or the file: half a TLS set-up (listeners or NATS), two NATS identities at once,
 * PEM files that are not a certificate and its key, and any secret file — Chio signing key,
 * TLS key, NATS creds, nkey seed, NATS TLS key — that group or others may read.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { isChioError } from '../../src/errors/index.js';
import { loadListenerTls } from '../../src/tls.js';
import { generateKeys, loadKey } from '../../src/keys.js';
import { connectNats } from '../../src/nats/connection.js';
import { natsSettings } from '../../src/nats/connection.js';
import { makeTestPki, type TestPki } from '../support/pki.js';
import { tempDir } from '../support/nats.js';

let pki: TestPki;
let dir: string;

beforeAll(() => {
  pki = makeTestPki();
  dir = tempDir('chio-transport-config-');
});

/** What `fn` threw (or rejected with), which must be a CONFIG_INVALID ChioError. */
async function configError(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (err) {
    if (isChioError(err, 'CONFIG_INVALID')) return err.message;
    throw err;
  }
  throw new Error('expected CONFIG_INVALID, nothing was thrown');
}

/** A copy of `file` in the test directory with `mode`. */
function copyWithMode(file: string, name: string, mode: number): string {
  const to = join(dir, name);
  copyFileSync(file, to);
  chmodSync(to, mode);
  return to;
}

describe('loadConfig', () => {
  describe('when a setting needs another that is missing', () => {
    it.each([
      [{ CHIO_TLS_CERT: '/c.pem' }, /CHIO_TLS_CERT is set but CHIO_TLS_KEY is not/],
      [{ CHIO_TLS_KEY: '/k.pem' }, /CHIO_TLS_KEY is set but CHIO_TLS_CERT is not/],
      [{ CHIO_TLS_CLIENT_CA: '/ca.pem' }, /CHIO_TLS_CLIENT_CA needs CHIO_TLS_CERT and CHIO_TLS_KEY/],
      [{ CHIO_TLS_CLIENT_CA: '/ca.pem', CHIO_TLS_CERT: '/c.pem' }, /CHIO_TLS_CERT is set but CHIO_TLS_KEY is not/],
      [{ NATS_CERT: '/c.pem' }, /NATS_CERT is set but NATS_KEY is not/],
      [{ NATS_KEY: '/k.pem', NATS_CA: '/ca.pem' }, /NATS_KEY is set but NATS_CERT is not/],
      [{ NATS_PASS: 'secret' }, /NATS_PASS is set but NATS_USER is not/],
      [{ NATS_CREDS: '/u.creds', NATS_TOKEN: 't' }, /NATS_CREDS and NATS_TOKEN: set one way/],
      [{ NATS_NKEY: '/u.nk', NATS_USER: 'u' }, /NATS_NKEY and NATS_USER: set one way/],
    ])('%j stops start-up naming it', async (env, message) => {
      expect(await configError(() => loadConfig({ env }))).toMatch(message);
    });
  });

  it('refuses half a TLS set-up from a YAML file too', async () => {
    const file = join(dir, 'chio.yaml');
    writeFileSync(file, `tlsCert: ${pki.serverCert}\n`);
    expect(await configError(() => loadConfig({ env: {}, configFile: file }))).toMatch(/CHIO_TLS_KEY is not/);
  });

  it('accepts complete set-ups', () => {
    const c = loadConfig({ env: { CHIO_TLS_CERT: '/c', CHIO_TLS_KEY: '/k', CHIO_TLS_CLIENT_CA: '/ca', NATS_CA: '/nca', NATS_CERT: '/nc', NATS_KEY: '/nk', NATS_TOKEN: 't' } });
    expect(c).toMatchObject({ tlsCert: '/c', tlsKey: '/k', tlsClientCa: '/ca', natsToken: 't' });
  });
});

describe('loadListenerTls', () => {
  it('is off without settings, and reads a certificate, its key and a client CA', () => {
    expect(loadListenerTls({})).toBeUndefined();
    const tls = loadListenerTls({ tlsCert: pki.serverCert, tlsKey: pki.serverKey, tlsClientCa: pki.caCert });
    expect(tls?.clientCa?.toString()).toContain('BEGIN CERTIFICATE');
  });

  it('refuses a key file group or others may read, naming it', async () => {
    const key = copyWithMode(pki.serverKey, 'listener-0644.key', 0o644);
    const message = await configError(() => loadListenerTls({ tlsCert: pki.serverCert, tlsKey: key }));
    expect(message).toContain(`CHIO_TLS_KEY: ${key} is readable or writable by group or others (mode 0644)`);
  });

  it('refuses a key that is not the certificate\'s, a missing file, and a client CA that is not a certificate', async () => {
    expect(await configError(() => loadListenerTls({ tlsCert: pki.serverCert, tlsKey: pki.clientKey }))).toMatch(/not a PEM certificate and its private key/);
    expect(await configError(() => loadListenerTls({ tlsCert: join(dir, 'absent.pem'), tlsKey: pki.serverKey }))).toMatch(/CHIO_TLS_CERT: cannot read/);
    const garbage = join(dir, 'garbage-ca.pem');
    writeFileSync(garbage, 'not a certificate\n');
    expect(await configError(() => loadListenerTls({ tlsCert: pki.serverCert, tlsKey: pki.serverKey, tlsClientCa: garbage }))).toMatch(`CHIO_TLS_CLIENT_CA ${garbage} is not a PEM certificate`);
  });
});

describe('Chio signing keys', () => {
  it.each(['0640', '0604', '0660'])('refuses a key file with mode %s, naming the file', async (mode) => {
    const keyDir = tempDir('chio-keys-');
    generateKeys(keyDir, 'chio.local/receipts');
    expect(loadKey(keyDir, 'kernel').name).toBe('chio-kernel');
    chmodSync(join(keyDir, 'kernel.key'), parseInt(mode, 8));
    expect(await configError(() => loadKey(keyDir, 'kernel'))).toContain(`the kernel key: ${join(keyDir, 'kernel.key')} is readable or writable by group or others (mode ${mode})`);
  });
});

describe('NATS credential files', () => {
  // Refused before any connection is tried: no server is needed to see it.
  const connectWith = (env: Record<string, string>) => connectNats(natsSettings(loadConfig({ env }), ['nats://127.0.0.1:1'], 'chio-test'));

  it.each([
    ['NATS_CREDS', 'user.creds'],
    ['NATS_NKEY', 'user.nk'],
  ])('%s open to group or others is refused, naming the file', async (setting, name) => {
    const file = join(dir, name);
    writeFileSync(file, 'SUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4\n', { mode: 0o644 });
    chmodSync(file, 0o644);
    expect(await configError(() => connectWith({ [setting]: file }))).toContain(`${setting}: ${file} is readable or writable by group or others (mode 0644)`);
  });

  it('NATS_KEY open to group or others is refused, naming the file', async () => {
    const key = copyWithMode(pki.clientKey, 'nats-client-0640.key', 0o640);
    expect(await configError(() => connectWith({ NATS_CA: pki.caCert, NATS_CERT: pki.clientCert, NATS_KEY: key }))).toContain(`NATS_KEY: ${key} is readable`);
  });
});
