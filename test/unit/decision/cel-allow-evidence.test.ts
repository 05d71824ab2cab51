/**
 * What a receipt names when a CEL ValidatingPolicy allows beside a policy of another kind of the
 * same name (names are unique per kind only): the rule of the policy that decided, never the
 * CEL policy's.
 */
import { describe, expect, it } from 'vitest';
import { celValidatingPolicySchema, compileCelPolicy } from '../../../src/policy/kyverno-authz/validating-policy.js';
import { createEnvoyEnvironment } from '../../../src/policy/kyverno-authz/envoy-library.js';
import { authorizationPolicy, checkOf, later, pipelineOf, policySetOf } from './fixtures.js';

const celAllow = (name: string) => compileCelPolicy(celValidatingPolicySchema.parse({
  apiVersion: 'policies.kyverno.io/v1alpha1', kind: 'ValidatingPolicy', metadata: { name },
  spec: { evaluation: { mode: 'Envoy' }, validations: [{ expression: 'envoy.Allowed().WithHeader("x-seen-by", "cel").Response()' }] },
}), createEnvoyEnvironment());

const policyEvidence = async (set: Parameters<typeof policySetOf>[0]) => {
  const d = await pipelineOf(policySetOf(set)).pipeline.decide(checkOf({ method: 'GET', path: '/x', host: 'api.example' }), later());
  expect(d.verdict).toBe('allow');
  return d.evidence.find((e) => e.guard === 'Policy')?.details;
};

describe('the Policy evidence of an allow a CEL policy joined', () => {
  it('names no CEL rule when an AuthorizationPolicy of the same name decided', async () => {
    const details = await policyEvidence({ authorization: [authorizationPolicy('api', { action: 'ALLOW', rules: [{}] })], cel: [celAllow('api')] });
    expect(details).toMatchObject({ policy: 'api' });
    expect(details).not.toHaveProperty('rule');
  });
  it('names the CEL rule when the CEL policy decided', async () => {
    expect(await policyEvidence({ cel: [celAllow('api')] })).toMatchObject({ policy: 'api', rule: 'spec.validations[0]' });
  });
});
