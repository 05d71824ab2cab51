/** cel-go's lists extension (lists.range, slice, flatten, distinct, reverse, sort, sortBy) and optional first/last as kyverno-authz has them, with cel-go's documented answers. */
import { describe, expect, it } from 'vitest';
import { Optional } from '@marcbachmann/cel-js';
import { answerOf, compile, evaluator, policy, request, scannedBy } from '../../../support/cel-policies.js';
import { CelCheckBudget } from '../../../../src/policy/kyverno-authz/check-budget.js';
import { createEnvoyEnvironment } from '../../../../src/policy/kyverno-authz/envoy-library.js';
import { estimateCost, type AstNode } from '../../../../src/policy/kyverno-authz/cel-bounds.js';

const evaluate = evaluator();

describe('in a policy', () => {
  // The client's regions, each once, in order whatever their case, the first two passed on.
  const REGIONS = compile(policy(`  variables:
  - name: regions
    expression: >-
      object.attributes.request.http.headers[?"x-regions"].orValue("").split(",").distinct().sortBy(r, r.lowerAscii())
  validations:
  - expression: >-
      variables.regions.first().orValue("") != "" && variables.regions.last().orValue("") != "zz"
        ? envoy.Allowed().WithHeader("x-regions", variables.regions.slice(0, 2).join(",")).WithHeader("x-last", variables.regions.reverse()[0]).Response()
        : envoy.Denied(403).Response()
`));

  it('answers as cel-go would', () => {
    expect(answerOf(REGIONS.evaluate(request({ 'x-regions': 'US,eu,ap,eu' })))).toMatchObject({ verdict: 'allow', headers: [{ key: 'x-regions', value: 'ap,eu' }, { key: 'x-last', value: 'US' }] });
    expect(answerOf(REGIONS.evaluate(request({ 'x-regions': 'zz,eu' })))).toMatchObject({ verdict: 'deny' });
    expect(answerOf(REGIONS.evaluate(request({})))).toMatchObject({ verdict: 'deny' });
  });
});

describe("cel-go's examples", () => {
  it.each([
    ['[1, 2, 2, 3, 3, 3].distinct()', [1n, 2n, 3n]],
    ['["b", "b", "c", "a", "c"].distinct()', ['b', 'c', 'a']],
    ['[1, "b", 2, "b"].distinct()', [1n, 'b', 2n]],
    ['[1, 1.0, 1u, [1], [1.0]].distinct()', [1n, [1n]]],
    ['lists.range(5)', [0n, 1n, 2n, 3n, 4n]],
    ['lists.range(0)', []],
    ['[5, 3, 1, 2].reverse()', [2n, 1n, 3n, 5n]],
    ['[1, 2, 3, 4].slice(1, 3)', [2n, 3n]],
    ['[1, 2, 3, 4].slice(2, 4)', [3n, 4n]],
    ['[1, 2, 3, 4].slice(4, 4)', []],
    ['[1, [2, 3], [4]].flatten()', [1n, 2n, 3n, 4n]],
    ['[1, [2, [3, 4]]].flatten()', [1n, 2n, [3n, 4n]]],
    ['[1, 2, [], [], [3, 4]].flatten()', [1n, 2n, 3n, 4n]],
    ['[1, [2, [3, [4]]]].flatten(2)', [1n, 2n, 3n, [4n]]],
    ['[1, [2]].flatten(0)', [1n, [2n]]],
    ['[3, 2, 1].sort()', [1n, 2n, 3n]],
    ['["b", "c", "a"].sort()', ['a', 'b', 'c']],
    ['[2.5, -1.0, 0.0].sort()', [-1, 0, 2.5]],
    ['["\u{10000}", "\uffff"].sort()', ['\uffff', '\u{10000}']],
    ['[{"name": "foo", "score": 0}, {"name": "bar", "score": -10}, {"name": "baz", "score": 1000}].sortBy(e, e.score).map(e, e.name)', ['bar', 'foo', 'baz']],
    ['["ccc", "a", "bb"].sortBy(s, size(s))', ['a', 'bb', 'ccc']],
    ['["x", "y", "z"].sortBy(s, 0)', ['x', 'y', 'z']],
    ['[].sortBy(s, s)', []],
    ['[1, 2].first().value()', 1n],
    ['[1, 2].last().value()', 2n],
    ['[].first().hasValue() || [].last().hasValue()', false],
    ['"gums".reverse()', 'smug'],
  ])('%s is %s', (expression, expected) => {
    expect(evaluate(expression)).toEqual(expected);
  });

  it('first and last are optionals', () => {
    expect(evaluate('[7].first()')).toBeInstanceOf(Optional);
    expect(evaluate('[].last()')).toBe(Optional.none());
  });

  it.each([
    ['[1, [2, [3, [4]]]].flatten(-1)', 'level must be non-negative'],
    ['lists.range(-1)', 'size must be non-negative'],
    ['[1, 2].slice(-1, 1)', 'negative indexes not supported'],
    ['[1, 2].slice(2, 1)', 'start index must be less than or equal to end index'],
    ['[1, 2].slice(0, 3)', 'list is length 2'],
    ['dyn([1, "b"]).sort()', 'list elements must have the same type'],
    ['dyn([1, 2.0]).sort()', 'list elements must have the same type'],
    ['dyn([[1]]).sort()', 'no matching overload'],
    ['dyn([1.0, double("NaN")]).sort()', 'NaN values cannot be ordered'],
    ['[1, 2].sortBy(e, e == 1 ? dyn(1) : dyn("a"))', 'list elements must have the same type'],
  ])('%s is an error: %s', (expression, message) => {
    expect(() => evaluate(expression)).toThrow(message);
  });

  it.each([
    ['[[1, 2, 3]].sort()', /found no matching overload/],
    ['[[1]].sortBy(e, e)', /sortBy key must be of a comparable type/],
    ['[1].sortBy(1, 2)', /invalid iteration variable/],
  ])('%s is refused when the policy loads', (expression, message) => {
    expect(() => createEnvoyEnvironment().check(expression).error && (() => { throw createEnvoyEnvironment().check(expression).error; })()).toThrow(message);
  });
});

describe('the list bound', () => {
  it('refuses lists.range past 1,024 and a flatten that would make more than 1,024 entries: limit errors, as split', () => {
    expect(evaluate('size(lists.range(1024))')).toBe(1024n);
    expect(() => evaluate('lists.range(1025)')).toThrow('lists.range made a list of more than 1024 entries');
    expect(evaluate('size(lists.range(32).map(i, lists.range(32)).flatten())')).toBe(1024n);
    expect(() => evaluate('lists.range(33).map(i, lists.range(32)).flatten()')).toThrow('flatten made a list of more than 1024 entries');
  });

  it('estimates sortBy as a comprehension: its key runs once per element', () => {
    const cost = (source: string) => {
      const env = createEnvoyEnvironment();
      const program = env.parse(source) as unknown as { ast: AstNode };
      return estimateCost(program.ast);
    };
    expect(cost('[1].sortBy(e, e + 1)')).toBeGreaterThan(1024 * 3);
    expect(() => compile(policy(`  validations:
  - expression: >-
      lists.range(3).sortBy(e, lists.range(3).filter(f, lists.range(3).exists(g, g == f + e)).size()).size() > 0 ? null : envoy.Denied(403).Response()
`))).toThrow(/estimated cost \d+ is over the bound/);
  });
});

describe('the string budget', () => {
  const list = 'object.attributes.request.http.headers["x-a"].split(",")';

  it('charges range, slice and reverse 1 an element built', () => {
    expect(scannedBy('size(lists.range(size(object.attributes.request.http.headers["x-a"]))) > 0', 'abcde')).toBe(5 + 5);
    expect(scannedBy(`size(${list}.slice(1, 3)) > 0`, 'a,b,c,d')).toBe(2);
    expect(scannedBy(`size(${list}.reverse()) > 0`, 'a,b,c,d')).toBe(4);
  });

  it('charges flatten 2 an element of every list it visits', () => {
    expect(scannedBy(`size([${list}, ${list}, ["x"]].flatten()) > 0`, 'a,b,c')).toBe(2 * (3 + 3 + 3 + 1));
  });

  it('charges distinct the walk and 4 for each element kept before an element', () => {
    // Kept before each: 0, 1, 2, 3 (the second "a", then found), 3.
    expect(scannedBy(`size(${list}.distinct()) > 0`, 'a,b,c,a,d')).toBe(5 + 4 * (0 + 1 + 2 + 3 + 3));
  });

  it('charges sort and sortBy the walk of the keys and 8 an ordering, as the sort makes them', () => {
    const sorted = scannedBy(`size(${list}.sort()) > 0`, 'a,b,c,d');
    // n - 1 to n log2 n orderings of 4 keys of weight 1.
    expect(sorted - 4).toBeGreaterThanOrEqual(8 * 3);
    expect(sorted - 4).toBeLessThanOrEqual(8 * 8);
    expect((sorted - 4) % 8).toBe(0);
    expect(scannedBy(`size(${list}.sortBy(s, s)) > 0`, 'a,b,c,d')).toBe(sorted);
  });

  it('stops a sort of 1,024 long strings done again and again: a limit error, not uncounted work', () => {
    const p = compile(policy(`  variables:
  - name: parts
    expression: object.attributes.request.http.headers["x-a"].split(",")
  validations:
  - expression: >-
      lists.range(128).all(i, variables.parts.sort().size() > 0) ? null : envoy.Denied(403).Response()
`));
    // Shuffled (617 is odd, so i × 617 mod 1,024 visits each number once): a sorted or reversed list sorts in n - 1 orderings.
    const parts = Array.from({ length: 1024 }, (_, i) => String((i * 617) % 1024).padStart(80, '0')).join(',');
    expect(p.evaluate(request({ 'x-a': parts }), new CelCheckBudget())).toMatchObject({ kind: 'error', limit: true, message: expect.stringMatching(/string functions scanned more than/) });
  });
});
