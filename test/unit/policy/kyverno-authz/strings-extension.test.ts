/** cel-go's strings extension (replace, charAt, reverse) as kyverno-authz has it, with cel-go's documented answers. */
import { describe, expect, it } from 'vitest';
import { answerOf, compile, policy, request } from '../../../support/cel-policies.js';
import { createEnvoyEnvironment } from '../../../../src/policy/kyverno-authz/envoy-library.js';
import { CelCheckBudget } from '../../../../src/policy/kyverno-authz/check-budget.js';

const env = createEnvoyEnvironment();
const evaluate = (expression: string) => env.evaluate(expression);

describe('in a policy', () => {
  // A tenant header normalised before it is compared and passed on.
  const TENANT = compile(policy(`  variables:
  - name: tenant
    expression: object.attributes.request.http.headers[?"x-tenant"].orValue("").replace("_", "-").lowerAscii()
  validations:
  - expression: >-
      variables.tenant.charAt(0) == "t" && variables.tenant.reverse().startsWith("dorp-")
        ? envoy.Allowed().WithHeader("x-tenant", variables.tenant.replace("-prod", "", 1)).Response()
        : envoy.Denied(403).Response()
`));

  it('answers as cel-go would', () => {
    expect(answerOf(TENANT.evaluate(request({ 'x-tenant': 'T_Acme_Prod' })))).toMatchObject({ verdict: 'allow', headers: [{ key: 'x-tenant', value: 't-acme' }] });
    expect(answerOf(TENANT.evaluate(request({ 'x-tenant': 'acme_prod' })))).toMatchObject({ verdict: 'deny' });
  });

  it('charAt at the end is "", past it an evaluation error (failurePolicy applies)', () => {
    expect(answerOf(TENANT.evaluate(request({})))).toMatchObject({ verdict: 'deny' });
    const SECOND = compile(policy(`  validations:
  - expression: >-
      object.attributes.request.http.headers[?"x-tenant"].orValue("").charAt(1) == "x" ? null : envoy.Denied(403).Response()
`));
    expect(SECOND.evaluate(request({}))).toMatchObject({ kind: 'error', failurePolicy: 'Fail', message: expect.stringContaining('index out of range') });
  });
});

describe("cel-go's examples and Go's strings.Replace", () => {
  it.each([
    ['"hello hello".replace("he", "we")', 'wello wello'],
    ['"hello hello".replace("he", "we", -1)', 'wello wello'],
    ['"hello hello".replace("he", "we", 1)', 'wello hello'],
    ['"hello hello".replace("he", "we", 0)', 'hello hello'],
    ['"aaaa".replace("aa", "b")', 'bb'],
    ['"aaa".replace("aa", "b")', 'ba'],
    ['"abc".replace("", "-")', '-a-b-c-'],
    ['"abc".replace("", "-", 2)', '-a-bc'],
    ['"abc".replace("", "-", 4)', '-a-b-c-'],
    ['"abc".replace("", "-", 9)', '-a-b-c-'],
    ['"".replace("", "-")', '-'],
    ['"a😀b".replace("", ".")', '.a.😀.b.'],
    ['"abc".replace("x", "y")', 'abc'],
    ['"abc".replace("b", "")', 'ac'],
    ['"hello".charAt(4)', 'o'],
    ['"hello".charAt(5)', ''],
    ['"a😀b".charAt(1)', '😀'],
    ['"a😀b".charAt(2)', 'b'],
    ['"gums".reverse()', 'smug'],
    ['"John Smith".reverse()', 'htimS nhoJ'],
    ['"a😀b".reverse()', 'b😀a'],
    ['"".reverse()', ''],
  ])('%s is %j', (expression, expected) => {
    expect(evaluate(expression)).toBe(expected);
  });

  it.each(['"hello".charAt(-1)', '"hello".charAt(6)', '"a😀b".charAt(4)'])('%s is an evaluation error', (expression) => {
    expect(() => evaluate(expression)).toThrow(/index out of range/);
  });
});

describe('the string budget', () => {
  it('charges what replace builds before building it: 1,024 parts each growing a 60 KB header 1,000-fold is a limit error', () => {
    const p = compile(policy(`  validations:
  - expression: >-
      object.attributes.request.http.headers["x-parts"].split(",").exists(part,
        object.attributes.request.http.headers["x-blob"].replace("a", "aaaaaaaaaa").size() == 0) ? null : envoy.Denied(403).Response()
`));
    const budget = new CelCheckBudget();
    const outcome = p.evaluate(request({ 'x-parts': ','.repeat(1023), 'x-blob': 'a'.repeat(60_000) }), budget);
    expect(outcome).toMatchObject({ kind: 'error', limit: true, message: expect.stringMatching(/string functions scanned more than/) });
  });

  it('charges replace, charAt and reverse by their text', () => {
    const p = compile(policy(`  validations:
  - expression: >-
      object.attributes.request.http.headers["x-blob"].replace("b", "cc").charAt(0) == "a" && object.attributes.request.http.headers["x-blob"].reverse() != "" ? null : envoy.Denied(403).Response()
`));
    const budget = new CelCheckBudget();
    expect(p.evaluate(request({ 'x-blob': 'ab'.repeat(500) }), budget)).toMatchObject({ kind: 'skip' });
    // replace: searched twice (2 × 1,001), built 1,500 and 24 for each of its 500 pieces;
    // charAt: its 1,500 (no surrogate: indexed at once); reverse: 6 for each of its 1,000.
    expect(budget.scannedChars).toBe(2 * 1001 + 1500 + 24 * 500 + 1500 + 6 * 1000);
  });
});
