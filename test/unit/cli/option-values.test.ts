import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kernelKeysArg, parseWorkers } from '../../../src/cli/option-values.js';
import { buildProgram } from '../../../src/cli/program.js';
import { generateSignerKey } from '../../../src/tlog/index.js';
import { tempDir } from '../../support/nats.js';
import { signerSecret } from '../../support/secrets.js';

describe('parseWorkers (chio authz --workers)', () => {
  it('takes a whole number from 1 to 16', () => {
    expect(parseWorkers('4')).toBe(4);
    expect(parseWorkers('16')).toBe(16);
  });

  // Number() made 0x2 two, 1e1 ten and " 3 " three, where CHIO_AUTHZ_WORKERS refuses each:
  // a typo silently became a count of processes.
  it.each(['0x2', '1e1', '0b11', '', ' ', '2.0', '0', '17'])('refuses %j', (text) => {
    expect(() => parseWorkers(text)).toThrow('a whole number from 1 to 16');
  });
});

describe('kernelKeysArg (chio verify-export --kernel-key, repeatable)', () => {
  const dir = tempDir('chio-kernel-arg-');
  const older = generateSignerKey('chio-kernel');
  const newer = generateSignerKey('chio-kernel');
  const pub = join(dir, 'kernel.pub');
  writeFileSync(pub, `${newer.verifierKey}\n`);
  const yaml = join(dir, 'kernels.yaml');
  writeFileSync(yaml, `kernels:\n  - key: ${newer.verifierKey}\n  - key: ${older.verifierKey}\n    not_after: 2025-06-01T12:30:00Z\n`);

  it('takes a verifier key, a .pub file and a kernels.yaml, windows included', () => {
    expect(kernelKeysArg([older.verifierKey], '--kernel-key').entries).toEqual([{ key: older.verifierKey }]);
    expect(kernelKeysArg([pub], '--kernel-key').entries).toEqual([{ key: newer.verifierKey }]);
    expect(kernelKeysArg([yaml], '--kernel-key').entries).toEqual([{ key: newer.verifierKey }, { key: older.verifierKey, not_after: '2025-06-01T12:30:00Z' }]);
  });

  it('reads kernel.pub with a kernels.yaml that retires that key as the key directory is read: the window holds', () => {
    const retiring = join(dir, 'retiring.yaml');
    writeFileSync(retiring, `kernels:\n  - key: ${newer.verifierKey}\n    not_after: 2025-06-01T12:30:00Z\n`);
    expect(kernelKeysArg([pub, retiring], '--kernel-key').entries).toEqual([{ key: newer.verifierKey, not_after: '2025-06-01T12:30:00Z' }]);
    expect(kernelKeysArg([retiring, pub, newer.verifierKey], '--kernel-key').entries).toEqual([{ key: newer.verifierKey, not_after: '2025-06-01T12:30:00Z' }]);
  });

  it('refuses one key given with two different windows', () => {
    const other = join(dir, 'other.yaml');
    writeFileSync(other, `kernels:\n  - key: ${older.verifierKey}\n    not_after: 2026-01-01T00:00:00Z\n`);
    expect(() => kernelKeysArg([yaml, other], '--kernel-key')).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringMatching(/^--kernel-key: entry 3: .* is listed twice/) }));
  });

  it('refuses a signer key, given or in a file, without quoting it', () => {
    const secretFile = join(dir, 'kernel.key');
    writeFileSync(secretFile, `${older.signerKey}\n`);
    for (const value of [older.signerKey, secretFile]) {
      let message = '';
      try {
        kernelKeysArg([value], '--kernel-key');
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/signer/);
      expect(message).not.toContain(signerSecret(older.signerKey));
    }
  });

  it('refuses a file that is neither a key nor a kernels file', () => {
    const junk = join(dir, 'junk.txt');
    writeFileSync(junk, 'hello\n');
    expect(() => kernelKeysArg([junk], '--kernel-key')).toThrow(/junk\.txt: not a C2SP verifier key/);
    const badYaml = join(dir, 'bad.yaml');
    writeFileSync(badYaml, 'kernels:\n  - kee: x\n');
    expect(() => kernelKeysArg([badYaml], '--kernel-key')).toThrow(/kernel keys file .*bad\.yaml: entry 1/);
  });
});

describe('chio --config, given twice', () => {
  it('is refused: settings come from one file, and the first was silently not read', () => {
    expect(() => buildProgram().exitOverride().configureOutput({ writeErr: () => undefined }).parse(['node', 'chio', '--config', 'a.yaml', '--config', 'b.yaml', 'up'])).toThrow(/given twice \(a\.yaml and b\.yaml\)/);
  });
});
