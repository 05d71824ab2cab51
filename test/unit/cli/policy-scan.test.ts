/**
 * `chio policy eval --payload`, run as installed (bin/chio.js): a json.kyverno.io
 * ValidatingPolicy against a YAML document that is not a CheckRequest, each rule reported as
 * passed, failed with its messages, or skipped, in text and in JSON; a list payload item by item.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runChio, type Run } from '../../support/run-chio.js';
import { PODS_POLICY as POLICY } from '../../fixtures/kyverno-json-pods.js';


const POD = `kind: Pod
metadata:
  name: web
  labels: { app: web }
spec:
  containers:
    - { name: web, image: 'nginx:latest' }
`;

describe('chio policy eval --payload', () => {
  const dir = mkdtempSync(join(tmpdir(), 'chio-policy-scan-'));
  let text: Run;
  let json: Run;

  beforeAll(async () => {
    writeFileSync(join(dir, 'policy.yaml'), POLICY);
    writeFileSync(join(dir, 'pod.yaml'), POD);
    writeFileSync(join(dir, 'list.yaml'), '- { kind: Deployment, metadata: { name: api }, spec: { replicas: 1 } }\n- { kind: Deployment, metadata: { name: db }, spec: { replicas: 3 } }\n');
    const env = { CHIO_KEY_DIR: join(dir, 'keys') };
    const policies = join(dir, 'policy.yaml');
    [text, json] = await Promise.all([
      runChio(['policy', 'eval', '--policies', policies, '--payload', join(dir, 'pod.yaml')], env),
      runChio(['policy', 'eval', '--policies', policies, '--payload', join(dir, 'list.yaml'), '--json'], env),
    ]);
  }, 120_000);

  it('prints each rule as passed, failed with every message and path, or skipped, and the totals', () => {
    expect(text.stderr).toBe('');
    expect(text.exit).toBe(0);
    expect(text.stdout).toBe([
      '- pods / no-latest / FAILED',
      '    images must not use the latest tag',
      "      spec.~.containers[0].(ends_with(image, ':latest')): expected false, got true",
      '    the team label is required',
      "      metadata.labels.(contains(keys(@), 'team')): expected true, got false",
      '- pods / replicas / SKIPPED (match not satisfied)',
      '- pods / named / PASSED',
      '1 passed, 1 failed, 1 skipped, 0 in error',
      '',
    ].join('\n'));
  });

  it('with --json, reports a list payload item by item', () => {
    expect(json.stderr).toBe('');
    const rows = JSON.parse(json.stdout) as Array<{ policy: string; item: number; rule: string; result: string; violations: Array<{ message: string }> }>;
    expect(rows.map((r) => [r.item, r.rule, r.result, r.violations.map((v) => v.message)])).toEqual([
      [0, 'no-latest', 'skip', []],
      [0, 'replicas', 'fail', ['at least two replicas']],
      [0, 'named', 'pass', []],
      [1, 'no-latest', 'skip', []],
      [1, 'replicas', 'pass', []],
      [1, 'named', 'pass', []],
    ]);
    expect(rows.every((r) => r.policy === 'pods')).toBe(true);
  });
});
