/**
 * The package's public surface (STYLE §13): package.json `exports` names two entries, `chio`
 * (src/index.ts) and `chio/verify` (src/verify/index.ts), each built by `npm run build` from a
 * source that exists, and each exporting an explicit list of names.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');
const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; exports: Record<string, unknown>; bin: Record<string, string> };

/** The source tsconfig.build.json compiles into a dist/ file (rootDir src, outDir dist). */
const sourceOf = (distFile: string): string => join(ROOT, distFile.replace(/^\.?\/?dist\//, 'src/').replace(/\.d\.ts$|\.js$/, '.ts'));

const VERIFY_NAMES = [
  'ChioError', 'EXPORT_SCHEMA', 'ExportBundleVerifier', 'GENESIS_PREV', 'KernelTrustSet', 'MAX_PROOF_LENGTH', 'MAX_RECEIPT_BYTES', 'MAX_TLOG_PROOF_CHARS',
  'MAX_TRUSTED_KERNEL_KEYS', 'RECEIPT_SCHEMA', 'TLOG_PROOF_EXTENSION', 'TLOG_PROOF_HEADER', 'checkChainLink', 'checkKernelKey', 'checkRecord', 'checkTree', 'formatTlogProof', 'isChioError',
  'leafHash', 'matchesExportFilter', 'openCheckpoint', 'parseTlogProof', 'parseVerifierKey', 'policyFileOf', 'receiptBytes', 'reportVerification', 'toVerifyRequest',
  'verifyConsistencyProof', 'verifyCorrection', 'verifyReceipt', 'verifyReceiptBytes', 'verifyReceiptProof', 'verifyTlogProof',
];
const NODE_ONLY_NAMES = [
  'GRPC', 'KEY_ROLES', 'clientReason', 'codeOfHttpStatus', 'connectNats', 'createLogger', 'generateKeys', 'loadConfig', 'loadKey',
  'loadKeyFile', 'loadVerifierKey', 'natsSettings', 'startAll', 'startAuthz', 'startLedger', 'startVerifier', 'statusOf', 'toChioError',
];

describe('package.json exports', () => {
  it('names the entries ".", "./verify" and "./package.json", no others', () => {
    expect(Object.keys(manifest.exports)).toEqual(['.', './verify', './package.json']);
    expect(manifest.exports['./package.json']).toBe('./package.json');
  });

  it.each([
    ['.', 'src/index.ts'],
    ['./verify', 'src/verify/index.ts'],
  ])('maps %s (JavaScript and types) to the build of %s', (entry, source) => {
    const targets = manifest.exports[entry] as { types: string; default: string };
    expect(targets.default).toMatch(/^\.\/dist\/.*\.js$/);
    expect(targets.types).toBe(targets.default.replace(/\.js$/, '.d.ts'));
    expect(sourceOf(targets.default)).toBe(join(ROOT, source));
    expect(existsSync(join(ROOT, source))).toBe(true);
  });

  it('resolves in Node by the package name, as a user imports it', async () => {
    const script = `console.log(JSON.stringify(['${manifest.name}', '${manifest.name}/verify', '${manifest.name}/package.json'].map((s) => import.meta.resolve(s))))`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT });
    expect((JSON.parse(stdout) as string[]).map((url) => new URL(url).pathname)).toEqual([
      join(ROOT, 'dist/index.js'), join(ROOT, 'dist/verify/index.js'), join(ROOT, 'package.json'),
    ]);
  });

  it('keeps bin/chio.js running the build of src/cli/program.ts', () => {
    const bin = readFileSync(join(ROOT, manifest.bin.chio!), 'utf8');
    const imported = [...bin.matchAll(/from '\.\.\/(dist\/[^']+)'/g)].map((m) => m[1]!);
    expect(imported).toContain('dist/cli/program.js');
    for (const file of imported) expect(existsSync(sourceOf(file)), file).toBe(true);
  });
});

describe('the entries', () => {
  it('chio/verify exports exactly the portable list', async () => {
    expect(Object.keys(await import('../../../src/verify/index.js')).sort()).toEqual(VERIFY_NAMES);
  });

  it('chio exports the portable list and the Node services, configuration, keys and status table', async () => {
    expect(Object.keys(await import('../../../src/index.js')).sort()).toEqual([...VERIFY_NAMES, ...NODE_ONLY_NAMES].sort());
  });
});
