/** The Kubernetes regex library (find, findAll) as kyverno-authz has it: Go's regexp answers, over RE2 (re2js). */
import { describe, expect, it } from 'vitest';
import { RE2JS } from 're2js';
import { answerOf, compile, evaluator, policy, request } from '../../../support/cel-policies.js';
import { CelCheckBudget } from '../../../../src/policy/kyverno-authz/check-budget.js';

const evaluate = evaluator();

describe('in a policy', () => {
  // The API version in the path must be one of the supported ones.
  const VERSION = compile(policy(`  variables:
  - name: version
    expression: object.attributes.request.http.path.find("v[0-9]+")
  validations:
  - expression: >-
      variables.version in ["v1", "v2"] && object.attributes.request.http.path.findAll("[0-9]+").size() <= 2
        ? envoy.Allowed().WithHeader("x-api-version", variables.version).Response()
        : envoy.Denied(404).Response()
`));

  it('answers as kyverno-authz would', () => {
    expect(answerOf(VERSION.evaluate(request({}, '/api/v2/items/7')))).toMatchObject({ verdict: 'allow', headers: [{ key: 'x-api-version', value: 'v2' }] });
    expect(answerOf(VERSION.evaluate(request({}, '/api/v3/items')))).toMatchObject({ verdict: 'deny', status: 404 });
    expect(answerOf(VERSION.evaluate(request({}, '/api/v1/items/7/parts/8')))).toMatchObject({ verdict: 'deny' });
  });

  it('refuses a literal pattern that is not RE2 when the policy loads', () => {
    expect(() => compile(policy(`  validations:
  - expression: >-
      object.attributes.request.http.path.findAll("(a") == [] ? null : envoy.Denied(403).Response()
`))).toThrow(/pattern "\(a" is not a valid RE2 expression/);
  });
});

describe("Kubernetes' examples, as Go's regexp answers them", () => {
  it.each([
    ['"abc 123".find("[0-9]+")', '123'],
    ['"abc 123".find("xyz")', ''],
    // The documentation says '123' for `[0-9]*`: Go's FindString finds the empty match at 0 first.
    ['"abc 123".find("[0-9]*")', ''],
    ['"123 abc 456".findAll("[0-9]+")', ['123', '456']],
    ['"123 abc 456".findAll("[0-9]+", 1)', ['123']],
    ['"123 abc 456".findAll("[0-9]+", 0)', []],
    ['"123 abc 456".findAll("xyz")', []],
    // And ['123', '456'] for `[0-9]*`: Go's FindAllString keeps the empty matches not right after one.
    ['"123 abc 456".findAll("[0-9]*")', ['123', '', '', '', '', '456']],
    ['"a😀b".findAll("")', ['', '', '', '']],
    ['"aXbX".findAll("^.")', ['a']],
    ['"1, 2, 3, 4".findAll("[0-9]+").map(x, int(x)).exists(n, n > 3)', true],
  ])('%s is %j', (expression, expected) => {
    expect(evaluate(expression)).toEqual(expected);
  });

  it('agrees with re2js FindAll, the port of Go\'s', () => {
    const texts = ['', 'abc', '123 abc 456', 'a😀b😀', 'xaxbxx', 'aaa', '\n\nb\n'];
    const patterns = ['', 'a*', 'x*', '[0-9]*', 'b|', '(?m)^', '$', '.', '😀?', 'a|aa', '\\b'];
    for (const text of texts) {
      for (const pattern of patterns) {
        const expected = RE2JS.compile(pattern).re2().findAll(text, -1) ?? [];
        expect(evaluate(`${JSON.stringify(text)}.findAll(${JSON.stringify(pattern)})`), `${text} ${pattern}`).toEqual(expected);
      }
    }
  });
});

describe('the match budget', () => {
  it('charges each search of findAll from where it starts: (.*X)? over 8 KB searches 8 K times, a limit error', () => {
    const p = compile(policy(`  validations:
  - expression: >-
      object.attributes.request.http.headers["x-blob"].findAll("(.*X)?", 900).size() > 0 ? null : envoy.Denied(403).Response()
`));
    const outcome = p.evaluate(request({ 'x-blob': 'a'.repeat(8_000) }), new CelCheckBudget());
    expect(outcome).toMatchObject({ kind: 'error', limit: true, message: expect.stringMatching(/matches scanned more than/) });
  });

  it('finds no list longer than split may make: findAll("a") over 1,024 characters, each search charged from its start, is a limit error', () => {
    const p = compile(policy(`  validations:
  - expression: >-
      object.attributes.request.http.headers["x-blob"].findAll("a").size() > 0 ? null : envoy.Denied(403).Response()
`));
    expect(p.evaluate(request({ 'x-blob': 'a'.repeat(1_024) }), new CelCheckBudget())).toMatchObject({ kind: 'error', limit: true, message: expect.stringMatching(/matches scanned more than/) });
    const budget = new CelCheckBudget();
    expect(p.evaluate(request({ 'x-blob': 'a'.repeat(100) }), budget)).toMatchObject({ kind: 'skip' });
    // 101 searches (the last finds nothing), from 100, 99, … 0 characters before the end.
    expect(budget.matchedChars).toBe((100 * 101) / 2);
  });

  it('charges find the text it searches, as matches', () => {
    const p = compile(policy(`  validations:
  - expression: >-
      object.attributes.request.http.headers["x-blob"].find("b") == "" ? null : envoy.Denied(403).Response()
`));
    const budget = new CelCheckBudget();
    p.evaluate(request({ 'x-blob': 'a'.repeat(500) }), budget);
    expect(budget.matchedChars).toBe(500);
  });
});
