/**
 * A key of the wrong kind named where a key is expected: a signer (private) key where a verifier
 * key is wanted (`--log-key log.key`, a log.pub overwritten with log.key), or the reverse. The
 * message names the file or flag and says which kind it is, and never quotes the key.
 */
import { chmodSync, copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateKeys, loadKeyFile, loadVerifierKey } from '../../src/keys.js';
import { verifierKeyArg } from '../../src/cli/option-values.js';
import { tempDir } from '../support/nats.js';
import { signerSecret } from '../support/secrets.js';

const dir = tempDir('chio-keys-kind-');
generateKeys(dir, 'chio.local/receipts');
const signer = readFileSync(join(dir, 'log.key'), 'utf8').trim();
const seed = signerSecret(signer);

function messageOf(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('did not throw');
}

describe('a key of the wrong kind', () => {
  it('a signer key file read as a verifier key: names the file, says it is a signer key, never quotes it', () => {
    const message = messageOf(() => loadVerifierKey(join(dir, 'log.key')));
    expect(message).toContain(join(dir, 'log.key'));
    expect(message).toContain('signer (private) key');
    expect(message).not.toContain(seed);
  });

  it('a file that holds no key: names the file', () => {
    writeFileSync(join(dir, 'junk.pub'), 'not a key\n');
    expect(messageOf(() => loadVerifierKey(join(dir, 'junk.pub')))).toContain(`verifier key file ${join(dir, 'junk.pub')}: not a C2SP verifier key`);
  });

  it('a signer key given as --log-key: names the flag, says it is a signer key, never quotes it', () => {
    const message = messageOf(() => verifierKeyArg(signer, '--log-key'));
    expect(message).toContain('--log-key');
    expect(message).toContain('signer (private) key');
    expect(message).not.toContain(seed);
  });

  it('a verifier key file given as a signer key: says it is the public half', () => {
    copyFileSync(join(dir, 'log.pub'), join(dir, 'pub-as-key'));
    chmodSync(join(dir, 'pub-as-key'), 0o600);
    expect(messageOf(() => loadKeyFile(join(dir, 'pub-as-key'), 'the issuer key'))).toContain('verifier (public) key');
  });

  it('a .pub as chio keygen writes it (mode 0644) given as a signer key: says it is the public half, not to chmod it', () => {
    // `chio export --export-key export.pub` said "make it private with chmod 600", then, once
    // it was, that it holds a public key: the mode of a public key is no one's concern.
    expect(statSync(join(dir, 'export.pub')).mode & 0o077).not.toBe(0);
    const message = messageOf(() => loadKeyFile(join(dir, 'export.pub'), 'the export key'));
    expect(message).toContain('verifier (public) key; name the signer key (the .key)');
    expect(message).not.toContain('chmod');
  });

  it('a signer key open to others is still refused for its mode', () => {
    copyFileSync(join(dir, 'log.key'), join(dir, 'open.key'));
    chmodSync(join(dir, 'open.key'), 0o644);
    expect(messageOf(() => loadKeyFile(join(dir, 'open.key'), 'the export key'))).toContain(`make it private with \`chmod 600 ${join(dir, 'open.key')}\``);
  });
});
