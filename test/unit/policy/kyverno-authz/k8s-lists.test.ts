/** The Kubernetes lists library (isSorted, sum, min, max, indexOf, lastIndexOf) as kyverno-authz has it, with Kubernetes' documented answers. */
import { describe, expect, it } from 'vitest';
import { answerOf, compile, evaluator, policy, request, scannedBy } from '../../../support/cel-policies.js';
import { activeBudget, CelCheckBudget, useBudget } from '../../../../src/policy/kyverno-authz/check-budget.js';
import { CelLimitExceeded } from '../../../../src/policy/kyverno-authz/cel-bounds.js';
import { listLastIndexOf } from '../../../../src/policy/kyverno-authz/k8s-lists.js';

const evaluate = evaluator();

describe('in a policy', () => {
  // Requested priorities must be given in order and add up to at most 10.
  const PRIORITIES = compile(policy(`  variables:
  - name: asked
    expression: object.attributes.request.http.headers[?"x-priorities"].orValue("0").split(",").map(p, int(p))
  validations:
  - expression: >-
      variables.asked.isSorted() && variables.asked.sum() <= 10 && variables.asked.max() < 8 && variables.asked.indexOf(0) == -1
        ? envoy.Allowed().WithHeader("x-first", string(variables.asked.min())).Response()
        : envoy.Denied(403).Response()
`));

  it('answers as Kubernetes would', () => {
    expect(answerOf(PRIORITIES.evaluate(request({ 'x-priorities': '1,2,3' })))).toMatchObject({ verdict: 'allow', headers: [{ key: 'x-first', value: '1' }] });
    expect(answerOf(PRIORITIES.evaluate(request({ 'x-priorities': '3,2' })))).toMatchObject({ verdict: 'deny' });
    expect(answerOf(PRIORITIES.evaluate(request({ 'x-priorities': '1,9' })))).toMatchObject({ verdict: 'deny' });
    expect(answerOf(PRIORITIES.evaluate(request({ 'x-priorities': '5,5,5' })))).toMatchObject({ verdict: 'deny' });
    expect(answerOf(PRIORITIES.evaluate(request({})))).toMatchObject({ verdict: 'deny' });
  });
});

describe("Kubernetes' examples", () => {
  it.each([
    ['[1, 2, 3].isSorted()', true],
    ["['a', 'b', 'b', 'c'].isSorted()", true],
    ['[2.0, 1.0].isSorted()', false],
    ['[1].isSorted()', true],
    ['[].isSorted()', true],
    ['[1, 3].sum()', 4n],
    ['[1.0, 3.0].sum()', 4],
    ["[duration('1m'), duration('1s')].sum() == duration('1m1s')", true],
    ['[].sum()', 0n],
    ['[1, 3].min()', 1n],
    ['[1, 3].max()', 3n],
    ['[1].min()', 1n],
    ['([0] + []).min()', 0n],
    ['[1, 2, 2, 3].indexOf(2)', 1n],
    ["['a', 'b', 'b', 'c'].lastIndexOf('b')", 2n],
    ['[1.0].indexOf(1.1)', -1n],
    ["[].indexOf('string')", -1n],
  ])('%s is %s', (expression, expected) => {
    expect(evaluate(expression)).toEqual(expected);
  });

  it.each([
    ['[].min()', 'min called on empty list'],
    ['[].max()', 'max called on empty list'],
    ['[9223372036854775807, 1].sum()', 'integer overflow'],
    ['[18446744073709551615u, 1u].sum()', 'overflow'],
    ['[1.0, double("NaN")].isSorted()', 'NaN values cannot be ordered'],
    ['dyn([1, "a"]).max()', 'no such overload'],
    ['dyn([1, 2.5]).sum()', 'no such overload'],
  ])('%s is an error: %s', (expression, message) => {
    expect(() => evaluate(expression)).toThrow(message);
  });

  it.each([
    ['[1u, 2u].sum()', 3n],
    ['[3u, 1u].min()', 1n],
    ['dyn([1, 2.5, 2u]).max()', 2.5],
    ['dyn([1, 1.5, 2u]).isSorted()', true],
    ['[b"ab", b"b"].isSorted()', true],
    ['["\uffff", "\u{10000}"].isSorted()', true],
    ['[timestamp("2024-01-02T00:00:00Z"), timestamp("2024-01-01T00:00:00Z")].min() == timestamp("2024-01-01T00:00:00Z")', true],
    ['[true, false].isSorted()', false],
    ['dyn([1, 2u, 3.0]).indexOf(2)', 1n],
    ['dyn([[1], [2, 3]]).indexOf([2.0, 3u])', 1n],
    ['[duration("1s"), duration("2s")].indexOf(duration("2s"))', 1n],
  ])('%s is %s (CEL ordering and equality)', (expression, expected) => {
    expect((evaluate(expression) as { valueOf(): unknown }).valueOf()).toEqual(expected);
  });

  it('refuses, when the policy loads, a list whose elements cannot be ordered', () => {
    expect(() => evaluate('[[1], [2]].isSorted()')).toThrow(/found no matching overload/);
  });
});

describe('the string budget', () => {
  const list = 'object.attributes.request.http.headers["x-a"].split(",")';

  it('charges isSorted, min and max the walk and 8 an ordering: 9 an element of weight 1', () => {
    expect(scannedBy(`${list}.isSorted()`, 'a,b,c,d')).toBe(9 * 4);
    expect(scannedBy(`${list}.min() != ""`, 'a,b,c,d')).toBe(9 * 4);
    expect(scannedBy(`${list}.max() != ""`, 'a,b,c,d')).toBe(9 * 4);
  });

  it('charges sum 4 an element', () => {
    expect(scannedBy(`${list}.map(p, size(p)).sum() > 0`, 'a,b,c')).toBe(3 * 4 + 3);
  });

  it('charges indexOf and lastIndexOf the lighter of the list and the element times the list', () => {
    // min(3 × 1, 1 × 3) = 3 comparisons of 4, after weighing both (3 + 1).
    expect(scannedBy(`${list}.indexOf("z") == -1`, 'a,b,c')).toBe(3 + 1 + 4 * 3);
    expect(scannedBy(`${list}.lastIndexOf("z") == -1`, 'a,b,c')).toBe(3 + 1 + 4 * 3);
  });

  it('charges each call before it walks: 1,024 strings of 2,560 characters searched for another such string 149 times is a limit error', () => {
    const long = Array.from({ length: 1024 }, (_, i) => String(i).padEnd(2560, '.'));
    useBudget(new CelCheckBudget());
    // Each call: the walk (1,024 × 11, then 11) and min(1,024 × 11, 1 × 11,264) comparisons of 4: 56,331.
    expect(() => {
      for (let i = 0; i < 200; i++) listLastIndexOf(long, 'y'.repeat(2560));
    }).toThrow(CelLimitExceeded);
    expect(activeBudget().scannedChars).toBe(149 * 56_331);
  });
});
