/**
 * The ValidatingPolicies of one Check share its budgets: the kyverno-json policies one step
 * budget, and every ValidatingPolicy, JMESPath and CEL, one clock. N policies do not get N
 * budgets, nor does a set with both kinds get two clocks.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_EVALUATION_STEPS } from '../../../src/policy/kyverno/assertion-tree.js';
import { compileValidatingPolicy } from '../../../src/policy/kyverno/validating-policy.js';
import { MAX_POLICY_EVALUATION_MS } from '../../../src/policy/check-clock.js';
import type { PolicySet } from '../../../src/policy/policy-set.js';
import { compile as compileCel, policy as celPolicy } from '../../support/cel-policies.js';
import { authorizationPolicy, checkOf, later, pipelineOf, policySetOf } from './fixtures.js';

const allowAll = authorizationPolicy('allow-all', { action: 'ALLOW', rules: [{}] });

const jsonPolicy = (name: string, check: unknown) =>
  compileValidatingPolicy({ apiVersion: 'json.kyverno.io/v1alpha1', kind: 'ValidatingPolicy', metadata: { name }, spec: { rules: [{ name: 'r', assert: { all: [{ check }] } }] } });

const decide = async (set: { validating?: PolicySet['validating']; cel?: PolicySet['cel'] }, headers: Record<string, string> = {}) => {
  const d = await pipelineOf(policySetOf({ authorization: [allowAll], ...set })).pipeline.decide(checkOf({ method: 'GET', path: '/x', host: 'api.example', headers }), later());
  return { verdict: d.verdict, reason: 'reason' in d ? d.reason : undefined, policy: d.evidence.find((e) => e.guard === 'Policy')?.details?.policy };
};

/** `policy` with evaluate recording its name in `evaluated` and, before it runs, moving `clock` on by `ms`. */
function observed<P extends { name: string; evaluate: (...args: never[]) => unknown }>(policy: P, evaluated: string[], clock?: { now: number; ms: number }): P {
  const evaluate = policy.evaluate.bind(policy) as (...args: unknown[]) => unknown;
  return {
    ...policy,
    evaluate: (...args: unknown[]) => {
      evaluated.push(policy.name);
      if (clock) clock.now += clock.ms;
      return evaluate(...args);
    },
  } as P;
}

describe('the kyverno-json policies of a Check share one step budget', () => {
  // The clock stands still: the time bound must not be what stops these; the steps are.
  afterEach(() => vi.useRealTimers());

  // Each part of x-list costs two steps (a visit and a comparison): `parts` parts, 2 × parts steps.
  const eachPart = (name: string) => jsonPolicy(name, { request: { http: { "~.(split(headers.\"x-list\" || '', ','))": '' } } });
  const listOf = (parts: number) => ({ 'x-list': ','.repeat(parts - 1) });

  it(`denies when policies each spend under ${DEFAULT_EVALUATION_STEPS} steps but more together, naming the one that ran out, and stops there`, async () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const parts = 0.4 * DEFAULT_EVALUATION_STEPS;
    // One alone is within the budget.
    expect(await decide({ validating: [eachPart('p0')] }, listOf(parts))).toMatchObject({ verdict: 'allow' });
    const evaluated: string[] = [];
    const policies = ['p0', 'p1', 'p2'].map((name) => observed(eachPart(name), evaluated));
    expect(await decide({ validating: policies }, listOf(parts))).toEqual({ verdict: 'deny', reason: 'ValidatingPolicy p1 rule r could not be evaluated', policy: 'p1' });
    // The set's order (namespace, then name): p2 is never evaluated, the Check is denied whatever it answers.
    expect(evaluated).toEqual(['p0', 'p1']);
  });

  it('still allows when the policies stay under the budget together, and every Check has it whole again', async () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const policies = ['p0', 'p1', 'p2'].map(eachPart);
    for (let round = 0; round < 2; round++) {
      expect(await decide({ validating: policies }, listOf(0.1 * DEFAULT_EVALUATION_STEPS))).toMatchObject({ verdict: 'allow' });
    }
  });
});

describe(`the ValidatingPolicies of a Check, both kinds, may run for ${MAX_POLICY_EVALUATION_MS} ms together`, () => {
  // A clock the test moves: each policy "takes" clock.ms, spent as it begins.
  const clock = { now: 0, ms: 0 };
  const useClock = (ms: number) => {
    Object.assign(clock, { now: 0, ms });
    vi.spyOn(performance, 'now').mockImplementation(() => clock.now);
  };
  afterEach(() => vi.restoreAllMocks());

  const readsMethod = (name: string) => jsonPolicy(name, { '(request.http.method)': 'GET' });
  const celSilent = (name: string) => compileCel(celPolicy(`  validations:\n  - expression: 'false ? envoy.Denied(403).Response() : null'\n`, name));

  it('denies the kyverno-json policy that runs past the clock, though each alone is within it', async () => {
    const ms = MAX_POLICY_EVALUATION_MS * 0.8;
    useClock(ms);
    expect(await decide({ validating: [observed(readsMethod('p0'), [], clock)] })).toMatchObject({ verdict: 'allow' });
    useClock(ms);
    const evaluated: string[] = [];
    const policies = ['p0', 'p1', 'p2'].map((name) => observed(readsMethod(name), evaluated, clock));
    expect(await decide({ validating: policies })).toEqual({ verdict: 'deny', reason: 'ValidatingPolicy p1 rule r could not be evaluated', policy: 'p1' });
    expect(evaluated).toEqual(['p0', 'p1']);
  });

  it('still allows kyverno-json policies whose time together is within the clock', async () => {
    useClock(MAX_POLICY_EVALUATION_MS / 4);
    expect(await decide({ validating: ['p0', 'p1', 'p2'].map((name) => observed(readsMethod(name), [], clock)) })).toMatchObject({ verdict: 'allow' });
  });

  it('gives the CEL policies what the kyverno-json policies left: one clock, not one per kind', async () => {
    const ms = MAX_POLICY_EVALUATION_MS * 0.6;
    useClock(ms);
    const evaluated: string[] = [];
    const set = { validating: [observed(readsMethod('json'), evaluated, clock)], cel: [observed(celSilent('cel'), evaluated, clock)] };
    expect(await decide(set)).toEqual({ verdict: 'deny', reason: 'ValidatingPolicy cel could not be evaluated', policy: 'cel' });
    // The kyverno-json policies run first.
    expect(evaluated).toEqual(['json', 'cel']);
    useClock(MAX_POLICY_EVALUATION_MS / 3);
    expect(await decide(set)).toMatchObject({ verdict: 'allow' });
  });
});
