/**
 * The files `chio policy eval` (--request, --payload) and `chio policy test` (a test file, the
 * request file and bearerFile it names) read come from elsewhere: a manifest to scan, a test
 * directory in a pull request. Each is read under its bound (1 MiB), whatever it is: a link to
 * /dev/zero has size 0 by stat and never ends, so the command must stop at the bound, not read
 * on (it grew to gigabytes). Run as installed, killed if it does not end.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../support/nats.js';
import { SPAWN_LIMIT_MS, runChioFor } from '../../support/run-chio.js';
import { HEADER_GATE_POLICY as POLICY } from '../../fixtures/kyverno-authz.js';
import { PODS_POLICY } from '../../fixtures/kyverno-json-pods.js';

const dir = tempDir('chio-policy-input-');
writeFileSync(join(dir, 'p.yaml'), POLICY);
writeFileSync(join(dir, 'pods.yaml'), PODS_POLICY);
symlinkSync('/dev/zero', join(dir, 'zero.json'));
const env = { CHIO_KEY_DIR: join(dir, 'keys') };

describe('chio policy eval', () => {
  it.each([
    ['--request', join(dir, 'p.yaml')],
    ['--payload', join(dir, 'pods.yaml')],
  ])('refuses a %s file that never ends (a link to /dev/zero) at its bound, exit 2', async (flag, policies) => {
    const run = await runChioFor(SPAWN_LIMIT_MS, ['policy', 'eval', '--policies', policies, flag, join(dir, 'zero.json')], env);
    expect(run.signal).toBeNull();
    expect(run.stderr).toBe(`chio: ${join(dir, 'zero.json')}: larger than 1048576 bytes\n`);
    expect(run.exit).toBe(2);
  }, SPAWN_LIMIT_MS + 15_000);

  it('names a --request file that cannot be read, exit 2', async () => {
    const run = await runChioFor(SPAWN_LIMIT_MS, ['policy', 'eval', '--policies', join(dir, 'p.yaml'), '--request', dir], env);
    expect(run.stderr).toMatch(new RegExp(`^chio: ${dir}: cannot be read \\(a directory\\)\n$`));
    expect(run.exit).toBe(2);
  }, SPAWN_LIMIT_MS + 15_000);

  it('still reads a --payload from a pipe with a writer, as <(…) gives', async () => {
    const fifo = join(dir, 'payload.fifo');
    execFileSync('mkfifo', [fifo]);
    const [run] = await Promise.all([
      runChioFor(SPAWN_LIMIT_MS, ['policy', 'eval', '--policies', join(dir, 'pods.yaml'), '--payload', fifo], env),
      writeFile(fifo, 'kind: Pod\nmetadata: { name: web }\n'),
    ]);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('- pods / named / PASSED');
    expect(run.exit).toBe(0);
  }, SPAWN_LIMIT_MS + 15_000);
});

describe('chio policy test', () => {
  const GOOD_CASE = 'tests:\n  - { name: ok, request: {}, expect: { verdict: deny } }\n';

  it.each([
    ['its request file', 'tests:\n  - { name: r, request: ../zero.json, expect: { verdict: deny } }\n', 'case "r": request: '],
    ['its bearerFile', 'tests:\n  - { name: b, request: { bearerFile: ../zero.json }, expect: { verdict: deny } }\n', 'case "b": request.bearerFile: '],
  ])('refuses %s when it is a link to /dev/zero, and runs the other files, exit 2', async (what, text, where) => {
    const set = join(dir, `set-${what.replace(/\W/g, '')}`);
    mkdirSync(set);
    writeFileSync(join(set, 'p.yaml'), POLICY);
    writeFileSync(join(set, 'a.test.yaml'), text);
    writeFileSync(join(set, 'b.test.yaml'), GOOD_CASE);
    const run = await runChioFor(SPAWN_LIMIT_MS, ['policy', 'test', set, '--json'], env);
    expect(run.signal).toBeNull();
    const rows = JSON.parse(run.stdout) as Array<{ outcome: string; name?: string; detail?: string }>;
    expect(rows.find((r) => r.name === 'ok')?.outcome).toBe('pass');
    expect(rows.find((r) => r.outcome === 'error')?.detail).toContain(`${where}${join(dir, 'zero.json')}: not a regular file`);
    expect(run.exit).toBe(2);
  }, SPAWN_LIMIT_MS + 15_000);

  it('refuses a test file that is a link to /dev/zero', async () => {
    const set = join(dir, 'set-linked-test-file');
    mkdirSync(set);
    writeFileSync(join(set, 'p.yaml'), POLICY);
    symlinkSync('/dev/zero', join(set, 'a.test.yaml'));
    const run = await runChioFor(SPAWN_LIMIT_MS, ['policy', 'test', set, '--json'], env);
    expect(run.signal).toBeNull();
    expect(JSON.parse(run.stdout)).toEqual([{ file: join(set, 'a.test.yaml'), outcome: 'error', detail: `${join(set, 'a.test.yaml')}: not a regular file` }]);
    expect(run.exit).toBe(2);
  }, SPAWN_LIMIT_MS + 15_000);
});
