/** cel-go's sets extension (sets.contains, sets.equivalent, sets.intersects) as kyverno-authz has it, with cel-go's documented answers. */
import { describe, expect, it } from 'vitest';
import { answerOf, compile, evaluator, policy, request } from '../../../support/cel-policies.js';
import { CelCheckBudget } from '../../../../src/policy/kyverno-authz/check-budget.js';

const evaluate = evaluator();

describe('in a policy', () => {
  // Every scope the client asks for must be one the route grants.
  const SCOPES = compile(policy(`  variables:
  - name: asked
    expression: object.attributes.request.http.headers[?"x-scopes"].orValue("").split(" ")
  validations:
  - expression: >-
      sets.contains(["read", "write", "list"], variables.asked) && sets.intersects(variables.asked, ["write"])
        ? envoy.Allowed().Response()
        : envoy.Denied(403).Response()
`));

  it('answers as cel-go would', () => {
    expect(answerOf(SCOPES.evaluate(request({ 'x-scopes': 'read write' })))).toMatchObject({ verdict: 'allow' });
    expect(answerOf(SCOPES.evaluate(request({ 'x-scopes': 'read' })))).toMatchObject({ verdict: 'deny' });
    expect(answerOf(SCOPES.evaluate(request({ 'x-scopes': 'write admin' })))).toMatchObject({ verdict: 'deny' });
  });
});

describe("cel-go's examples", () => {
  it.each([
    ['sets.contains([], [])', true],
    ['sets.contains([], [1])', false],
    ['sets.contains([1, 2, 3, 4], [2, 3])', true],
    ['sets.contains([1, 2.0, 3u], [1.0, 2u, 3])', true],
    ['sets.equivalent([], [])', true],
    ['sets.equivalent([1], [1, 1])', true],
    ['sets.equivalent([1], [1u, 1.0])', true],
    ['sets.equivalent([1, 2, 3], [3u, 2.0, 1])', true],
    ['sets.equivalent([1, 2], [1])', false],
    ['sets.intersects([1], [])', false],
    ['sets.intersects([], [1])', false],
    ['sets.intersects([1], [1, 2])', true],
    ['sets.intersects([[1], [2, 3]], [[1, 2], [2, 3.0]])', true],
    ['sets.intersects([[1], [2, 3]], [[1, 2], [3, 2]])', false],
    ['sets.contains([{"a": 1}], [{"a": 1u}])', true],
  ])('%s is %s', (expression, expected) => {
    expect(evaluate(expression)).toBe(expected);
  });
});

describe('the string budget', () => {
  it('charges every pair a call may compare: 1,024 parts against 1,024 parts, twice, is a limit error', () => {
    const p = compile(policy(`  variables:
  - name: parts
    expression: object.attributes.request.http.headers["x-parts"].split(",")
  validations:
  - expression: >-
      sets.contains(variables.parts, variables.parts) && sets.equivalent(variables.parts, variables.parts) ? null : envoy.Denied(403).Response()
`));
    const parts = Array.from({ length: 1024 }, (_, i) => `p${i}`).join(',');
    expect(p.evaluate(request({ 'x-parts': parts }), new CelCheckBudget())).toMatchObject({ kind: 'error', limit: true, message: expect.stringMatching(/string functions scanned more than/) });
  });

  it('charges the lighter side of each pair: 4 a comparison of scalars, and the walk of both lists', () => {
    const p = compile(policy(`  validations:
  - expression: >-
      sets.intersects(object.attributes.request.http.headers["x-a"].split(","), ["z", "y", "x"]) ? null : envoy.Denied(403).Response()
`));
    const budget = new CelCheckBudget();
    expect(p.evaluate(request({ 'x-a': 'a,b,c,d' }), budget)).toMatchObject({ kind: 'answer' });
    // min(4 × 3, 3 × 4) = 12 pairs of weight 1, 4 each, after weighing both lists (4 + 3); split charges nothing.
    expect(budget.scannedChars).toBe(4 + 3 + 4 * 12);
  });
});

describe('values cel-js makes anew', () => {
  it('finds a duration equal to one of the list, as cel-go compares durations by length', () => {
    expect(evaluate('sets.contains([duration("1s"), duration("1m")], [duration("60s")])')).toBe(true);
    expect(evaluate('sets.intersects([duration("1s")], [duration("2s")])')).toBe(false);
  });
});
