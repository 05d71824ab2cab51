/**
 * Comparisons across int, uint and double, as kyverno-authz's cel-go environment makes them with
 * CrossTypeNumericComparisons: the ordering operators (<, <=, >, >=) take any two of the three
 * and compare their values; `==` and `!=` are not part of that option, so `1 == 1.0` is a type
 * error when the policy loads, while values whose type is known only at run time (dyn) are
 * equal when their numbers are. Expected values are cel-spec's conformance vectors
 * (tests/simple/testdata/comparisons.textproto) and cel-go's common/types comparisons.
 */
import { describe, expect, it } from 'vitest';
import { compile, policy, request } from '../../../support/cel-policies.js';

/** The policy allows when `condition` is true and denies when false. */
const decide = (condition: string, failurePolicy = 'Fail') => compile(policy(`  failurePolicy: ${failurePolicy}
  validations:
  - expression: >-
      (${condition}) ? envoy.Allowed().Response() : envoy.Denied(403).Response()
`));

/** true, false, or the outcome when the expression did not answer. */
function valueOf(condition: string, headers: Record<string, string> = {}): unknown {
  const outcome = decide(condition).evaluate(request(headers));
  return outcome.kind === 'answer' ? outcome.answer.verdict === 'allow' : outcome;
}

describe('cross-type numeric comparisons', () => {
  describe('ordering across int, uint and double', () => {
    it.each([
      ['1 < 1.5', true],
      ['size("abc") > 2.5', true],
      ['2 > 1u', true],
      ['1.5 >= 1u', true],
      ['3.14 > 3', true],
      ['5 < 10u', true],
      ['dyn(1) < 2u', true],
      ['dyn(1) < 2.0', true],
      ['dyn(1u) < 2', true],
      ['dyn(1u) < 2.0', true],
      ['dyn(1.0) < 2', true],
      ['dyn(1.0) < 2u', true],
      ['dyn(1) < 1.0', false],
      ['dyn(1u) < 1', false],
      ['dyn(1.0) < 1u', false],
      ['dyn(1) <= 1.0', true],
      ['dyn(2u) <= 1.0', false],
      ['dyn(2.0) >= 1u', true],
      ['dyn(0) >= 1.0', false],
      ['dyn(-1) < 0u', true],
      ['dyn(-1) > 0u', false],
      ['dyn(1) < 9223372036854775808u', true],
      ['dyn(9223372036854775808u) > 1', true],
      ['dyn(1u) > -9223372036854775808', true],
      ['dyn(18446744073709551615u) < -1.0', false],
      ['dyn(18446744073709551615u) < 18446744073709590000.0', true],
      ['dyn(18446744073709553665.0) > 18446744073709551615u', true],
      ['dyn(9223372036854775807) < 9223372036854777857.0', true],
      ['dyn(-9223372036854775808) > -9223372036854777857.0', true],
      ['1.0/0.0 > 9223372036854775807', true],
      ['-1.0/0.0 < -9223372036854775808', true],
    ])('%s is %s', (condition, expected) => {
      expect(valueOf(condition)).toBe(expected);
    });

    it('compares an int past 2^53 with a double by their exact values, as cel-go compares them (math/big)', () => {
      // 2^53 + 1 has no double: converting the int first would make the two equal.
      expect(valueOf('9007199254740993 > 9007199254740992.0')).toBe(true);
      expect(valueOf('dyn(9223372036854775807) < 9223372036854775808.0')).toBe(true);
    });

    it('orders a number read from a header against a bound of another type', () => {
      expect(valueOf('int(object.attributes.request.http.headers[?"x-n"].orValue("0")) > 2.5', { 'x-n': '3' })).toBe(true);
      expect(valueOf('double(object.attributes.request.http.headers[?"x-n"].orValue("0")) <= 2', { 'x-n': '2.5' })).toBe(false);
    });
  });

  describe('equality, which the option leaves out', () => {
    it.each(['1 == 1.0', '1u != 1', '1 in [1.0]'])('%s is refused when the policy loads, as by cel-go\'s type check', (condition) => {
      expect(() => decide(condition)).toThrow(/no such overload/);
    });

    it.each([
      ['dyn(1) == 1.0', true],
      ['dyn(1) == 1u', true],
      ['dyn(1u) == 1.0', true],
      ['dyn(1.0) == 1u', true],
      ['dyn(2) == 1.0', false],
      ['dyn(24) != 24.1', true],
      ['dyn(1) != 1u', false],
      ['dyn(1) == 0.0/0.0', false],
      ['dyn(1) != 0.0/0.0', true],
      ['0.0/0.0 == 0.0/0.0', false],
      ['dyn(1) in [1.0, 2.0]', true],
      ['{1: "a"}[dyn(1.0)] == "a"', true],
    ])('at run time %s is %s (heterogeneous equality)', (condition, expected) => {
      expect(valueOf(condition)).toBe(expected);
    });
  });

  describe('equality inside lists and maps, and in', () => {
    // cel-spec comparisons.textproto (eq_list_mixed_type_numbers, eq_map_mixed_type_numbers and
    // their not_ forms) and in.textproto's membership across the numeric types.
    it.each([
      ['[1.0, 2.0, 3] == [1u, 2, 3u]', true],
      ['[1.0, 2.1] == [1u, 2]', false],
      ['[1.0, 2.0, 3] != [1u, 2, 3u]', false],
      ['{1: 1.0, 2u: 3u} == {1u: 1, 2: 3.0}', true],
      ['{1: 1.0, 2u: 3u} == {1u: 1, 2: 3.1}', false],
      ['{1: 1.0, 2u: 3u} != {1u: 1, 2: 3.0}', false],
      ['dyn(3u) in [5, 4, 3, 2, 1]', true],
      ['dyn(3.0) in [5u, 4u, 3u]', true],
      ['dyn(22) in [22u]', true],
      ['dyn(22) in [21u, 23u]', false],
      ['dyn(22.5) in [22u, 23u]', false],
      ['dyn([[1u], [2u]]) == [[1], [2.0]]', true],
      ['dyn({"a": [1u]}) == {"a": [1.0]}', true],
      ['dyn({"a": [1u]}) == {"b": [1.0]}', false],
      ['dyn([1u]) == {"a": 1}', false],
      ['dyn(-1) in [18446744073709551615u]', false],
      ['dyn(9223372036854775807) in [9223372036854775807u]', true],
      ['dyn(9007199254740993) in [9007199254740992.0]', false],
      ['[0.0/0.0] == [0.0/0.0]', false],
      ['dyn(0.0/0.0) in [0.0/0.0]', false],
      ['[duration("1s"), 1u] == [duration("1000ms"), 1]', true],
      ['[duration("1s")] == [duration("2s")]', false],
      ['[timestamp("2024-01-01T00:00:00Z")] == [timestamp("2024-01-01T00:00:00Z")]', true],
      ['[b"a", "a", true, null] == [b"a", "a", true, null]', true],
      ['dyn(["1"]) == [1]', false],
      ['dyn(1) in ["1"]', false],
    ])('%s is %s', (condition, expected) => {
      expect(valueOf(condition)).toBe(expected);
    });

    it('[1.0, 2.0] == [1u, 2u] is refused when the policy loads, as by cel-go\'s type check (list(double) and list(uint) do not agree); written with dyn it holds', () => {
      expect(() => decide('[1.0, 2.0] == [1u, 2u]')).toThrow(/no such overload/);
      expect(valueOf('dyn([1.0, 2.0]) == [1u, 2u]')).toBe(true);
    });

    it('holds inside a comprehension, where the list is a variable\'s', () => {
      expect(valueOf('[1, 2, 3].exists(x, dyn(x) in [3u])')).toBe(true);
      expect(valueOf('[1u, 2u].all(x, dyn(x) in [1, 2])')).toBe(true);
    });
  });

  describe('NaN', () => {
    it.each(['0.0/0.0 < 1.0', '1 < 0.0/0.0', '1u >= 0.0/0.0', '0.0/0.0 > 1', 'dyn(0.0/0.0) <= 1u'])(
      '%s is an evaluation error (cel-go: NaN values cannot be ordered), not false',
      (condition) => {
        expect(valueOf(condition)).toMatchObject({ kind: 'error', message: expect.stringMatching(/NaN values cannot be ordered/) });
      },
    );

    it('cannot turn a policy that denies below a bound into an allow with a header of NaN', () => {
      const p = compile(policy(`  validations:
  - expression: >-
      double(object.attributes.request.http.headers[?"x-score"].orValue("0")) < 0.5
        ? envoy.Denied(403).Response() : envoy.Allowed().Response()
`));
      expect(p.evaluate(request({ 'x-score': '0.9' }))).toMatchObject({ kind: 'answer', answer: { verdict: 'allow' } });
      expect(p.evaluate(request({ 'x-score': '0.1' }))).toMatchObject({ kind: 'answer', answer: { verdict: 'deny' } });
      expect(p.evaluate(request({ 'x-score': 'NaN' }))).toMatchObject({ kind: 'error', failurePolicy: 'Fail' });
    });

    it('is an error inside a comprehension too', () => {
      expect(valueOf('[0.0/0.0, 1.0].exists(x, x < 0.5)')).toMatchObject({ kind: 'error' });
      expect(valueOf('[1.0, 2.0].all(x, x > 0.5)')).toBe(true);
    });

    it('an error on one side of || or && gives way to the other side deciding, as in CEL', () => {
      expect(valueOf('true || 0.0/0.0 < 1.0')).toBe(true);
      expect(valueOf('0.0/0.0 < 1.0 || true')).toBe(true);
      expect(valueOf('false && 0.0/0.0 < 1.0')).toBe(false);
    });
  });
});
