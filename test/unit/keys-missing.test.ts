/**
 * A key file that is not there. In the key directory `chio keygen` makes it; a file named on
 * the command line (`chio token issue --issuer-key test-issuer.key`, `chio export --export-key`)
 * is not one keygen writes nor one CHIO_KEY_DIR moves, so that advice sent the user astray.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadKey, loadKeyFile, loadVerifierKey } from '../../src/keys.js';
import { tempDir } from '../support/nats.js';

const dir = tempDir('chio-keys-missing-');

describe('a missing key file', () => {
  it('in the key directory: run chio keygen', () => {
    expect(() => loadKey(dir, 'export')).toThrow(`the export key ${join(dir, 'export.key')} is missing: run \`chio keygen\` (or set CHIO_KEY_DIR)`);
  });
  it('named by the user: says there is no such file, not to run keygen', () => {
    let err: Error | undefined;
    try {
      loadKeyFile('test-issuer.key', 'the issuer key');
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).toBe('the issuer key test-issuer.key: no such file; name a signer key file (PRIVATE+KEY+…; `CHIO_KEY_DIR=<dir> chio keygen` writes new keys into <dir>)');
    expect((err as { code?: string }).code).toBe('CONFIG_INVALID');
  });

  // `chio prove` run from another directory than `chio up`'s said only "verifier key file
  // …/.chio/keys/log.pub cannot be read": neither why nor where the keys are.
  it('a verifier key the key directory lacks: why, and where keys are', () => {
    expect(() => loadVerifierKey(join(dir, 'log.pub'))).toThrow(
      `verifier key file ${join(dir, 'log.pub')} cannot be read (no such file): set CHIO_KEY_DIR to the key directory (\`chio up\` makes .chio/keys where it runs), or give the key with the command's option (see --help)`,
    );
  });
});
