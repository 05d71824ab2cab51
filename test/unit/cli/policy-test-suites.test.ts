/**
 * The policy tests shipped with Chio, run the way CI runs them: `chio policy test DIR` as
 * installed (bin/chio.js), one process per policy set, for the demo set (deploy/policies) and
 * the seed scenarios (test/fixtures/policy-tests). Each must pass every case and exit 0; a
 * failing case must exit 1 and a test file that does not load 2 (the status table).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runChio, type Run } from '../../support/run-chio.js';

const SUITES: Record<string, number> = {
  'deploy/policies': 9,
  'test/fixtures/policy-tests/istio-jwt': 8,
  'test/fixtures/policy-tests/kyverno': 6,
  'test/fixtures/policy-tests/kyverno-authz': 9,
  'test/fixtures/policy-tests/mesh': 5,
};

const POLICY = `apiVersion: chio.dev/v1
kind: AuthorizationPolicy
metadata: { name: reads }
spec:
  rules: [{ to: [{ operation: { methods: [GET] } }] }]
`;

interface Row {
  file: string;
  name?: string;
  outcome: string;
  detail?: string;
}

describe('chio policy test', () => {
  const keyDir = mkdtempSync(join(tmpdir(), 'chio-policy-test-keys-'));
  const failing = mkdtempSync(join(tmpdir(), 'chio-policy-test-'));
  const broken = mkdtempSync(join(tmpdir(), 'chio-policy-test-'));
  let shipped: Run;
  let bad: Run;

  beforeAll(async () => {
    writeFileSync(join(failing, 'policy.yaml'), POLICY);
    writeFileSync(join(failing, 'reads.test.yaml'), 'tests:\n  - { name: POST is allowed, request: { method: POST }, expect: { verdict: allow } }\n  - { name: GET is allowed, request: { method: GET }, expect: { verdict: allow } }\n');
    writeFileSync(join(broken, 'policy.yaml'), POLICY);
    writeFileSync(join(broken, 'reads.test.yaml'), 'tests:\n  - { name: a typo, request: { method: GET }, expect: { verdict: allow, staus: 200 } }\n');
    // Two processes, at once: each spends most of its time loading the CLI.
    const env = { CHIO_KEY_DIR: keyDir };
    [shipped, bad] = await Promise.all([runChio(['policy', 'test', ...Object.keys(SUITES), '--json'], env), runChio(['policy', 'test', failing, broken], env)]);
  }, 240_000);

  it('exits 0 when every case of the shipped sets passes', () => {
    expect(shipped.stderr).toBe('');
    expect(shipped.exit).toBe(0);
  });
  for (const [dir, cases] of Object.entries(SUITES)) {
    it(`passes every case of ${dir}`, () => {
      const rows = (JSON.parse(shipped.stdout) as Row[]).filter((r) => r.file.startsWith(`${dir}/`));
      expect(rows.filter((r) => r.outcome !== 'pass')).toEqual([]);
      expect(rows).toHaveLength(cases);
    });
  }
  it('prints a table naming a failing case and what differed', () => {
    expect(bad.stdout).toMatch(/FAIL +\S+reads\.test\.yaml +POST is allowed +verdict: expected "allow", got "deny"/);
    expect(bad.stdout).toMatch(/PASS +\S+reads\.test\.yaml +GET is allowed/);
  });
  it('names the file, the case and the field of a test file that does not load', () => {
    expect(bad.stdout).toMatch(/ERROR +\S+reads\.test\.yaml +- +\S+reads\.test\.yaml case "a typo": field expect\.staus: unknown field/);
    expect(bad.stdout).toContain('1 passed, 1 failed, 1 errors');
  });
  it('exits 2 (bad configuration) when a test file does not load, even beside a failing case', () => {
    expect(bad.exit).toBe(2);
  });
});
