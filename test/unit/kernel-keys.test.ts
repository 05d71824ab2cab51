/**
 * The trusted-kernel-keys file (src/kernel-keys.ts): kernels.yaml beside the key directory's
 * own kernel key, validated strictly (a bad file is refused with its path and entry), merged
 * (a listed own key takes the window written for it), and read again while running (a bad edit
 * keeps the keys in force).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { generateKeys, loadKey } from '../../src/keys.js';
import { KERNEL_KEYS_FILE, KernelTrustWatcher, MAX_KERNEL_KEYS_FILE_BYTES, loadKernelTrust, parseKernelKeysFile } from '../../src/kernel-keys.js';
import { createLogger } from '../../src/log.js';
import { tempDir } from '../support/nats.js';
import { expectCode } from '../support/errors.js';
import { kernelOf } from './receipt/helpers.js';
import { newEd25519SignerKey } from '../../src/tlog/index.js';

const NEW = kernelOf(31).verifierKey;
const OTHER = kernelOf(32).verifierKey;
const FILE = '/keys/kernels.yaml';

describe('parseKernelKeysFile', () => {
  it('reads keys with optional windows, in YAML or JSON', () => {
    const yaml = `# after the rotation of June\nkernels:\n  - key: ${NEW}\n    not_before: 2025-06-01T11:00:00Z\n  - key: ${OTHER}\n    not_after: "2025-06-01T12:00:00.5+02:00"\n`;
    expect(parseKernelKeysFile(yaml, FILE)).toEqual([{ key: NEW, not_before: '2025-06-01T11:00:00Z' }, { key: OTHER, not_after: '2025-06-01T12:00:00.5+02:00' }]);
    expect(parseKernelKeysFile(JSON.stringify({ kernels: [{ key: NEW }] }), FILE)).toEqual([{ key: NEW }]);
    expect(parseKernelKeysFile('kernels: []\n', FILE)).toEqual([]);
  });

  it.each([
    ['not YAML', 'kernels: [', /kernel keys file \/keys\/kernels.yaml: not YAML/],
    ['empty', '', /kernel keys file \/keys\/kernels.yaml: .*expected \{kernels:/],
    ['a bare list', `- key: ${NEW}\n`, /expected \{kernels:/],
    ['an unknown top-level member', `kernels: []\nextra: 1\n`, /kernel keys file \/keys\/kernels.yaml: .*extra/],
    ['an entry without a key', `kernels:\n  - not_after: 2025-06-01T12:00:00Z\n`, /entry 1: key: /],
    ['a misspelt window member', `kernels:\n  - key: ${NEW}\n  - key: ${OTHER}\n    notafter: 2025-06-01T12:00:00Z\n`, /entry 2: .*notafter/],
    ['a time YAML reads as a number', `kernels:\n  - key: ${NEW}\n    not_after: 20250601\n`, /entry 1: not_after: /],
    ['a time that is not RFC 3339', `kernels:\n  - key: ${NEW}\n    not_after: 2025-06-01\n`, /entry 1: not_after "2025-06-01" is not an RFC 3339 time/],
    ['a window that ends before it starts', `kernels:\n  - key: ${NEW}\n    not_before: 2025-06-02T00:00:00Z\n    not_after: 2025-06-01T00:00:00Z\n`, /entry 1: not_before .* is after not_after/],
    ['a key that is not a verifier key', `kernels:\n  - key: ${NEW}\n  - key: chio-kernel+deadbeef+AAAA\n`, /entry 2: not a C2SP verifier key/],
    ['a private key pasted by mistake', `kernels:\n  - key: PRIVATE+KEY+chio-kernel+deadbeef+AAAA\n`, /entry 1: not a C2SP verifier key/],
    ['a key listed twice', `kernels:\n  - key: ${NEW}\n  - key: ${NEW}\n`, /entry 2: .* is listed twice/],
    ['an alias', `kernels:\n  - &k {key: ${NEW}}\n  - *k\n`, /not YAML/],
    ['too many entries', `kernels:\n${Array.from({ length: 33 }, (_, i) => `  - key: ${kernelOf(40 + i).verifierKey}\n`).join('')}`, /at most 32/],
    ['too large', `kernels: []\n${'#'.repeat(MAX_KERNEL_KEYS_FILE_BYTES)}\n`, /larger than 65536 bytes/],
  ])('refuses %s with a CONFIG_INVALID naming the file and entry', (_what, text, message) => {
    expectCode(() => parseKernelKeysFile(text, FILE), 'CONFIG_INVALID');
    expect(() => parseKernelKeysFile(text, FILE)).toThrow(message);
  });
});

describe('loadKernelTrust', () => {
  let keyDir: string;
  let own: string;
  const write = (text: string) => writeFileSync(join(keyDir, KERNEL_KEYS_FILE), text);

  beforeEach(() => {
    keyDir = join(tempDir('chio-kernel-keys-'), 'keys');
    generateKeys(keyDir, 'chio.local/receipts');
    own = loadKey(keyDir, 'kernel').verifierKey;
  });
  afterEach(() => rmSync(join(keyDir, '..'), { recursive: true, force: true }));

  it('without kernels.yaml trusts the own kernel key alone, without a window, as before', () => {
    expect(loadKernelTrust(keyDir, 'ledger').entries).toEqual([{ key: own }]);
    expect(loadKernelTrust(keyDir, 'verifier').entries).toEqual([{ key: own }]);
  });

  it('adds every listed key after the own one, and gives the own key the window written for it', () => {
    write(`kernels:\n  - key: ${NEW}\n`);
    expect(loadKernelTrust(keyDir, 'verifier').entries).toEqual([{ key: own }, { key: NEW }]);
    write(`kernels:\n  - key: ${NEW}\n  - key: ${own}\n    not_after: 2025-06-01T12:00:00Z\n`);
    const set = loadKernelTrust(keyDir, 'ledger');
    expect(set.entries).toEqual([{ key: NEW }, { key: own, not_after: '2025-06-01T12:00:00Z' }]);
    expectCode(() => set.check(own, '2025-06-01T12:00:01Z'), 'UNTRUSTED_KEY');
  });

  it('refuses a key written with its key ID in upper case, naming the entry: the own key so spelt escaped the window written for it', () => {
    // Keys are compared as text; the own key listed so was not found, and was trusted again without a window.
    unlinkSync(join(keyDir, 'kernel.key'));
    writeFileSync(join(keyDir, 'kernel.pub'), `${NEW}\n`);
    const upper = NEW.replace(/\+([0-9a-f]{8})\+/, (_all, id: string) => `+${id.toUpperCase()}+`);
    expect(upper).not.toBe(NEW);
    write(`kernels:\n  - key: ${upper}\n    not_after: 2025-06-01T12:00:00Z\n`);
    expectCode(() => loadKernelTrust(keyDir, 'verifier'), 'CONFIG_INVALID');
    expect(() => loadKernelTrust(keyDir, 'verifier')).toThrow(/kernels\.yaml: entry 1: not a C2SP verifier key \(.*canonical/);
  });

  it('the verifier reads kernel.pub only; the ledger, kernel.key when it has it (its Deployment mounts that one)', () => {
    unlinkSync(join(keyDir, 'kernel.key'));
    expect(loadKernelTrust(keyDir, 'ledger').keys).toEqual([own]);
    writeFileSync(join(keyDir, 'kernel.key'), `${loadKeyText(32)}\n`, { mode: 0o600 });
    expect(loadKernelTrust(keyDir, 'ledger').keys).toEqual([OTHER]);
    expect(loadKernelTrust(keyDir, 'verifier').keys).toEqual([own]);
  });

  it('needs no own kernel key when kernels.yaml lists one, and refuses a directory that trusts nothing', () => {
    unlinkSync(join(keyDir, 'kernel.key'));
    unlinkSync(join(keyDir, 'kernel.pub'));
    expect(() => loadKernelTrust(keyDir, 'ledger')).toThrow(/the kernel key .*kernel.key is missing: run `chio keygen`/);
    expect(() => loadKernelTrust(keyDir, 'verifier')).toThrow(/kernel.pub cannot be read/);
    write('kernels: []\n');
    expectCode(() => loadKernelTrust(keyDir, 'verifier'), 'CONFIG_INVALID');
    write(`kernels:\n  - key: ${NEW}\n`);
    expect(loadKernelTrust(keyDir, 'ledger').keys).toEqual([NEW]);
  });

  it('refuses a bad file with its path', () => {
    write(`kernels:\n  - key: ${NEW}\n    not_after: soon\n`);
    expect(() => loadKernelTrust(keyDir, 'ledger')).toThrow(`kernel keys file ${join(keyDir, KERNEL_KEYS_FILE)}: entry 1: not_after "soon"`);
  });

  it('refuses a kernels.yaml that is not a regular file with its path', () => {
    mkdirSync(join(keyDir, KERNEL_KEYS_FILE));
    expect(() => loadKernelTrust(keyDir, 'ledger')).toThrow(`kernel keys file ${join(keyDir, KERNEL_KEYS_FILE)}: not a regular file`);
  });

  describe('KernelTrustWatcher', () => {
    it('swaps in an edit, ignores a bad one (keeping the keys in force) and reports no change as such', () => {
      const lines: string[] = [];
      const destination = new PassThrough();
      destination.on('data', (chunk: Buffer) => lines.push(chunk.toString()));
      const log = createLogger('info', 'test', { format: 'json', destination });
      const watcher = new KernelTrustWatcher(keyDir, 'ledger', log, 60_000);
      expect(watcher.reload()).toBe('unchanged');
      write(`kernels:\n  - key: ${NEW}\n`);
      expect(watcher.reload()).toBe('swapped');
      expect(watcher.current().keys).toEqual([own, NEW]);
      write(`kernels:\n  - key: ${NEW}\n    not_after: [\n`);
      expect(watcher.reload()).toBe('refused');
      expect(watcher.current().keys).toEqual([own, NEW]);
      expect(lines.join('\n')).toContain('kernel keys change refused');
      // Never a private key in the log, whatever happened.
      expect(lines.join('\n')).not.toContain('PRIVATE+KEY');
    });
  });
});

/** The signer key string of kernelOf(byte), as kernel.key holds it. */
function loadKeyText(byte: number): string {
  return newEd25519SignerKey('chio-kernel', new Uint8Array(32).fill(byte)).signerKey;
}
