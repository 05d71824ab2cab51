/**
 * The per-rule report of a json.kyverno.io ValidatingPolicy against a plain payload (what
 * `chio policy eval --payload` prints, as `kyverno-json scan` does): pass, fail with every
 * failing assertion's message, skip when match (or exclude) says the rule does not apply.
 */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { compileValidatingPolicy } from '../../../../src/policy/kyverno/validating-policy.js';
import { PODS_POLICY } from '../../../fixtures/kyverno-json-pods.js';

const POLICY = compileValidatingPolicy(parse(PODS_POLICY));

const pod = (image: string, labels: Record<string, string>, namespace = 'default') => ({ kind: 'Pod', metadata: { name: 'web', namespace, labels }, spec: { containers: [{ name: 'web', image }] } });

describe('ValidatingPolicy report', () => {
  it('passes every rule that applies and holds, and skips the one whose match does not hold', () => {
    expect(POLICY.report(pod('nginx:1.27', { team: 'a' }))).toEqual([
      { rule: 'no-latest', result: 'pass', violations: [] },
      { rule: 'replicas', result: 'skip', violations: [] },
      { rule: 'named', result: 'pass', violations: [] },
    ]);
  });

  it('fails a rule with the message and path of every failing assertion, not only the first', () => {
    const [noLatest] = POLICY.report(pod('nginx:latest', { app: 'web' }));
    expect(noLatest).toEqual({
      rule: 'no-latest',
      result: 'fail',
      violations: [
        { message: 'images must not use the latest tag', failures: [{ path: "spec.~.containers[0].(ends_with(image, ':latest'))", reason: 'expected false, got true' }] },
        { message: 'the team label is required', failures: [{ path: "metadata.labels.(contains(keys(@), 'team'))", reason: 'expected true, got false' }] },
      ],
    });
    // The decision over the same payload still stops at the first failing assertion.
    expect(POLICY.evaluate(pod('nginx:latest', { app: 'web' }))).toMatchObject({ verdict: 'deny', rule: 'no-latest', message: 'images must not use the latest tag' });
  });

  it('skips a rule its exclude holds for', () => {
    expect(POLICY.report(pod('nginx:latest', {}, 'kube-system'))[0]).toEqual({ rule: 'no-latest', result: 'skip', violations: [] });
  });

  it('fails an any-assert with each alternative that failed', () => {
    const named = POLICY.report({ kind: 'Deployment', metadata: {}, spec: { replicas: 3 } });
    expect(named.map((r) => r.result)).toEqual(['skip', 'pass', 'fail']);
    expect(named[2]!.violations.map((v) => v.message)).toEqual(['a name is required', 'or a generateName']);
  });

  it('reports a rule that cannot be evaluated as an error, naming it', () => {
    const strict = compileValidatingPolicy({
      apiVersion: 'json.kyverno.io/v1alpha1', kind: 'ValidatingPolicy', metadata: { name: 'strict' },
      spec: { rules: [{ name: 'three', assert: { all: [{ message: 'three replicas', check: { spec: { replicas: 3 } } }] } }] },
    });
    expect(strict.report({ spec: { replicas: 3 } })).toEqual([{ rule: 'three', result: 'pass', violations: [] }]);
    // A string where the check compares a number: a type mismatch, not a plain failure.
    expect(strict.report({ spec: { replicas: 'three' } })).toEqual([{
      rule: 'three', result: 'error',
      violations: [{ message: 'ValidatingPolicy strict rule three could not be evaluated', failures: [expect.objectContaining({ path: 'spec.replicas' })] }],
    }]);
  });
});
