/**
 * A key of the wrong kind named where a key is expected: a signer (private) key where a verifier
 * key is wanted (`--log-key log.key`, a log.pub overwritten with log.key), or the reverse. The
 * message names the file or flag and says which kind it is, and never quotes the key.
 */
import { chmodSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs';
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
});
