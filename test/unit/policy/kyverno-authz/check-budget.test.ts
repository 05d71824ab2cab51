/**
 * The run-time budgets of CEL policies (matches' scan and compile, the string calls, the time
 * backstop) are one Check's, shared by every policy it evaluates: a policy set of N policies
 * must not let one request spend N budgets of the event loop.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_MATCHED_CHARS, MAX_SCANNED_CHARS } from '../../../../src/policy/kyverno-authz/cel-bounds.js';
import { MAX_POLICY_EVALUATION_MS, POLICIES_TOOK_TOO_LONG } from '../../../../src/policy/check-clock.js';
import { MAX_COMPILE_UNITS, compileUnits } from '../../../../src/policy/kyverno-authz/re2-patterns.js';
import { evaluateCelPolicies } from '../../../../src/policy/kyverno-authz/verdicts.js';
import { compile, policy, request } from '../../../support/cel-policies.js';

const h = 'object.attributes.request.http.headers';
const path = 'object.attributes.request.http.path';
const POLICIES = 5;
const allowAll = compile(policy(`  validations:\n  - expression: envoy.Allowed().Response()\n`, 'z-allow-all'));

/** POLICIES policies p0…p4, each denying when `test(i)` holds (its own header, x-h<i>), else saying nothing. */
const eachOwnHeader = (test: (i: number) => string, failurePolicy = 'Fail') =>
  Array.from({ length: POLICIES }, (_, i) =>
    compile(policy(`  failurePolicy: ${failurePolicy}\n  validations:\n  - expression: '${test(i)} ? envoy.Denied(403).Response() : null'\n`, `p${i}`)),
  );
const headersOf = (value: (i: number) => string) => Object.fromEntries(Array.from({ length: POLICIES }, (_, i) => [`x-h${i}`, value(i)]));

describe('the run-time budgets of CEL policies are per Check', () => {
  // The clock stands still: the time backstop must not be what stops these; the budgets are.
  beforeEach(() => vi.useFakeTimers({ toFake: ['performance'] }));
  afterEach(() => {
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  describe('compiling patterns the request chose', () => {
    const policies = eachOwnHeader((i) => `${path}.matches(${h}[?"x-h${i}"].orValue("^$"))`, 'Ignore');
    // Distinct patterns (a pattern is charged once per Check), each some 3,000 units or 1,500.
    const pattern = (repeat: number) => (i: number) => `^/q${i}[a-z]{${repeat}}[0-9]{${repeat}}$`;

    it(`denies when ${POLICIES} policies each compile under ${MAX_COMPILE_UNITS} units but more together, under Ignore too`, () => {
      const units = Array.from({ length: POLICIES }, (_, i) => compileUnits(pattern(735)(i)));
      expect(Math.max(...units)).toBeLessThan(MAX_COMPILE_UNITS / 3);
      expect(units.reduce((a, b) => a + b)).toBeGreaterThan(MAX_COMPILE_UNITS);
      const verdicts = evaluateCelPolicies([...policies, allowAll], request(headersOf(pattern(735))));
      // In name order the budget runs out in p3 (p0…p2 spent some 9,000 units).
      expect(verdicts.deny).toEqual({ policy: 'p3', rule: 'spec.validations[0].expression', reason: 'ValidatingPolicy p3 could not be evaluated' });
      expect(verdicts.error).toBe(`p3: spec.validations[0].expression: matches compiled patterns costing more than ${MAX_COMPILE_UNITS} units in one Check`);
      expect(verdicts.ignoredErrors).toEqual([]);
    });

    it('still allows when the patterns of every policy stay under the budget together', () => {
      const units = Array.from({ length: POLICIES }, (_, i) => compileUnits(pattern(360)(i)));
      expect(units.reduce((a, b) => a + b)).toBeLessThan(MAX_COMPILE_UNITS);
      // Twice: each Check has the whole budget again.
      for (let round = 0; round < 2; round++) {
        const verdicts = evaluateCelPolicies([...policies, allowAll], request(headersOf(pattern(360))));
        expect(verdicts.deny).toBeUndefined();
        expect(verdicts.allows.map((a) => a.policy)).toEqual(['z-allow-all']);
      }
    });

    it('charges a pattern once per Check, whichever policy compiled it first', () => {
      const same = eachOwnHeader(() => `${path}.matches(${h}[?"x-h0"].orValue("^$"))`);
      const verdicts = evaluateCelPolicies([...same, allowAll], request(headersOf(pattern(735))));
      expect(verdicts.deny).toBeUndefined();
    });
  });

  it(`denies when policies each scan every header with matches under ${MAX_MATCHED_CHARS} characters but more together`, () => {
    // Headers of 90 KB, under the 96 KiB bound: each policy scans them once, the third goes past the budget.
    const policies = eachOwnHeader(() => `${h}.exists(k, ${h}[k].matches("(?i)<script"))`);
    const verdicts = evaluateCelPolicies([...policies, allowAll], request(headersOf(() => 'x'.repeat(18_000))));
    expect(verdicts.deny).toMatchObject({ policy: 'p2', reason: 'ValidatingPolicy p2 could not be evaluated' });
    expect(verdicts.error).toBe(`p2: spec.validations[0].expression: matches scanned more than ${MAX_MATCHED_CHARS} characters in one Check`);
    const smaller = evaluateCelPolicies([...policies, allowAll], request(headersOf(() => 'x'.repeat(8_000))));
    expect(smaller.deny).toBeUndefined();
    expect(smaller.allows.map((a) => a.policy)).toEqual(['z-allow-all']);
  });

  it(`denies when ${POLICIES} policies each scan with string calls under ${MAX_SCANNED_CHARS} characters but more together`, () => {
    // lastIndexOf counts every position times the pattern: 60,000 a's searched for 30 characters are some 1.8 M.
    const policies = eachOwnHeader(() => `${h}[?"x-a"].orValue("").lastIndexOf(${h}[?"x-b"].orValue("")) >= 0`);
    const verdicts = evaluateCelPolicies([...policies, allowAll], request({ 'x-a': 'a'.repeat(60_000), 'x-b': `${'a'.repeat(29)}b` }));
    expect(verdicts.deny).toMatchObject({ policy: 'p4', reason: 'ValidatingPolicy p4 could not be evaluated' });
    expect(verdicts.error).toBe(`p4: spec.validations[0].expression: string functions scanned more than ${MAX_SCANNED_CHARS} characters in one Check`);
    const shorter = evaluateCelPolicies([...policies, allowAll], request({ 'x-a': 'a'.repeat(40_000), 'x-b': `${'a'.repeat(29)}b` }));
    expect(shorter.deny).toBeUndefined();
  });

  it('stops evaluating once a bound is met: the Check is denied whatever the others answer', () => {
    const evaluated: string[] = [];
    const policies = eachOwnHeader((i) => `${path}.matches(${h}[?"x-h${i}"].orValue("^$"))`).map((p) => ({
      ...p,
      evaluate: (...args: Parameters<typeof p.evaluate>) => (evaluated.push(p.name), p.evaluate(...args)),
    }));
    const verdicts = evaluateCelPolicies(policies, request(headersOf((i) => `^/q${i}[a-z]{735}[0-9]{735}$`)));
    expect(verdicts.deny).toMatchObject({ policy: 'p3' });
    expect(evaluated).toEqual(['p0', 'p1', 'p2', 'p3']);
  });

  it(`stops the policies of one Check after ${MAX_POLICY_EVALUATION_MS} ms together, not each`, () => {
    // Each expression takes 100 ms by this clock: one policy is within the backstop, three are not.
    vi.useRealTimers();
    let now = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => (now += 100));
    const policies = eachOwnHeader(() => 'false', 'Ignore');
    const verdicts = evaluateCelPolicies([...policies, allowAll], request());
    expect(verdicts.deny).toMatchObject({ policy: 'p2', reason: 'ValidatingPolicy p2 could not be evaluated' });
    expect(verdicts.error).toBe(`p2: spec.validations[0].expression: ${POLICIES_TOOK_TOO_LONG}`);
    now = 0;
    expect(evaluateCelPolicies([policies[0]!, allowAll], request()).deny).toBeUndefined();
  });
});
