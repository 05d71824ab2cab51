/**
 * A policy path that is missing or holds no policy is named by where the user gave it: the
 * `--policies` option, the argument of `chio policy check`, a test file's `policies:`; only
 * the services, which read CHIO_POLICIES, name that setting. `chio policy eval --policies nodir`
 * said "CHIO_POLICIES: nodir does not exist", and a user who never set CHIO_POLICIES went
 * looking for it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { loadPolicySet } from '../../../src/policy/policy-set.js';
import { runPolicyTests } from '../../../src/cli/policy-test.js';
import { tempDir } from '../../support/nats.js';
import { chio } from '../../support/chio-cli.js';

const dir = tempDir('chio-policy-paths-');
const empty = join(dir, 'empty');
mkdirSync(empty);
const missing = join(dir, 'nowhere.yaml');

async function refusal(...args: string[]): Promise<string> {
  try {
    await chio(...args);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`chio ${args.join(' ')} succeeded`);
}

describe('chio policy eval --policies', () => {
  it('names --policies for a path that does not exist', async () => {
    expect(await refusal('policy', 'eval', '--policies', missing)).toBe(`--policies: ${missing} does not exist`);
  });

  it('names --policies for a directory without policy files', async () => {
    expect(await refusal('policy', 'eval', '--policies', empty)).toBe(`--policies: no .yaml files in ${empty}`);
  });
});

describe('chio policy check', () => {
  it('names the file by its absolute path, as its other errors do, and not CHIO_POLICIES', async () => {
    let said = '';
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((said += String(chunk)), true));
    const before = process.exitCode;
    try {
      await chio('policy', 'check', 'nowhere-at-all.yaml');
      expect(process.exitCode).toBe(2);
    } finally {
      stderr.mockRestore();
      process.exitCode = before;
    }
    expect(said).toBe(`${resolve('nowhere-at-all.yaml')} does not exist\n`);
  });
});

describe('chio policy test', () => {
  it("names the test file's policies: for a set that is not there", async () => {
    const tests = join(dir, 'suite');
    mkdirSync(tests);
    writeFileSync(join(tests, 'a.test.yaml'), 'policies: nowhere.yaml\ntests:\n  - { name: r, request: {}, expect: { verdict: deny } }\n');
    const [result] = await runPolicyTests(tests, { keyDir: join(dir, 'keys'), defaultVerdict: 'deny' });
    expect(result?.detail).toBe(`${join(tests, 'a.test.yaml')}: its policy set does not load: policies: ${join(tests, 'nowhere.yaml')} does not exist`);
  });
});

describe('the services', () => {
  it('still name CHIO_POLICIES, the setting they read', () => {
    expect(() => loadPolicySet(missing, join(dir, 'keys'))).toThrow(`CHIO_POLICIES: ${missing} does not exist`);
  });
});
