/**
 * The envoy library functions beyond headers and bodies (kyverno-authz "CEL extensions: envoy"):
 * query parameters, envoy.Response(…) and KeepEmptyValue, in policies written as a
 * kyverno-authz user writes them.
 */
import { describe, expect, it } from 'vitest';
import { answerOf, compile, policy, request } from '../../../support/cel-policies.js';
import { MAX_POLICY_HEADERS, MAX_POLICY_QUERY_PARAMETERS } from '../../../../src/policy/kyverno-authz/policy-answer.js';

const validation = (expression: string, failurePolicy = 'Fail') => compile(policy(`  failurePolicy: ${failurePolicy}
  variables:
  - name: tenant
    expression: object.attributes.request.http.headers[?"x-tenant"].orValue("none")
  validations:
  - expression: >-
      ${expression}
`));

describe('envoy library: query parameters', () => {
  it('sets a parameter given as key and value, or as envoy.QueryParam, and removes one', () => {
    const p = validation('envoy.Allowed().WithQueryParam("tenant", variables.tenant).WithQueryParam(envoy.QueryParam("via", "gateway")).WithoutQueryParam("debug").Response()');
    expect(answerOf(p.evaluate(request({ 'x-tenant': 'blue' })))).toMatchObject({
      verdict: 'allow',
      queryParametersToSet: [{ key: 'tenant', value: 'blue' }, { key: 'via', value: 'gateway' }],
      queryParametersToRemove: ['debug'],
    });
  });

  it('passes percent-encoded text as it is', () => {
    const p = validation('envoy.Allowed().WithQueryParam("q", "a%20b%26c").Response()');
    expect(answerOf(p.evaluate(request()))).toMatchObject({ queryParametersToSet: [{ key: 'q', value: 'a%20b%26c' }] });
  });

  describe('when a value copied from the request is not percent-encoded', () => {
    const copying = (failurePolicy: string) => validation('envoy.Allowed().WithQueryParam("tenant", variables.tenant).Response()', failurePolicy);
    it('is an evaluation error under failurePolicy Fail, so no `&` sets a parameter the policy never wrote', () => {
      expect(copying('Fail').evaluate(request({ 'x-tenant': 'blue&admin=true' }))).toMatchObject({ kind: 'error', failurePolicy: 'Fail', message: expect.stringMatching(/percent-encoded/) });
    });
    it.each(['a b', 'a#b', 'a+b', 'é'])('refuses %j', (value) => {
      expect(copying('Fail').evaluate(request({ 'x-tenant': value }))).toMatchObject({ kind: 'error' });
    });
  });

  it('refuses `=` in a key, an empty key, and a key to remove that is not encoded', () => {
    for (const expression of ['envoy.Allowed().WithQueryParam("a=b", "c").Response()', 'envoy.Allowed().WithQueryParam("", "c").Response()', 'envoy.Allowed().WithoutQueryParam("a&b").Response()']) {
      expect(validation(expression).evaluate(request()), expression).toMatchObject({ kind: 'error' });
    }
  });

  it('has no WithQueryParam on a denied response, as in kyverno-authz: refused at load', () => {
    expect(() => validation('envoy.Denied(403).WithQueryParam("a", "b").Response()')).toThrow(/WithQueryParam/);
  });
});

describe('envoy library: envoy.Response(…)', () => {
  it('envoy.Response(0) allows, changing nothing', () => {
    expect(answerOf(validation('envoy.Response(0)').evaluate(request()))).toMatchObject({ verdict: 'allow', headers: [], queryParametersToSet: [] });
  });
  it('any other gRPC code denies 403, as Envoy answers a status with no denied response', () => {
    for (const code of [7, 16, 14]) {
      expect(answerOf(validation(`envoy.Response(${code}).WithMessage("tenant " + variables.tenant + " is closed")`).evaluate(request({ 'x-tenant': 'red' })))).toMatchObject({
        verdict: 'deny',
        status: 403,
        message: 'tenant red is closed',
      });
    }
  });
  it('wraps an allowed or denied response as its .Response() does', () => {
    expect(answerOf(validation('envoy.Response(envoy.Allowed().WithHeader("x-tenant-checked", variables.tenant))').evaluate(request({ 'x-tenant': 'red' })))).toMatchObject({
      verdict: 'allow',
      headers: [{ key: 'x-tenant-checked', value: 'red' }],
    });
    expect(answerOf(validation('variables.tenant == "none" ? envoy.Response(envoy.Denied(401).WithBody("who are you?")) : null').evaluate(request()))).toMatchObject({
      verdict: 'deny',
      status: 401,
      body: 'who are you?',
    });
  });
});

describe('envoy library: KeepEmptyValue', () => {
  it('marks a header to be kept when its value is empty', () => {
    const p = validation('envoy.Allowed().WithHeader(envoy.Header("x-tenant-hint", "").KeepEmptyValue()).WithResponseHeader(envoy.Header("x-note", "").KeepEmptyValue(true)).Response()');
    expect(answerOf(p.evaluate(request()))).toMatchObject({
      headers: [{ key: 'x-tenant-hint', value: '', keepEmptyValue: true }],
      responseHeaders: [{ key: 'x-note', value: '', keepEmptyValue: true }],
    });
  });
  it('KeepEmptyValue(false) leaves Envoy\'s default', () => {
    const answer = answerOf(validation('envoy.Denied(403).WithHeader(envoy.Header("x-why", "").KeepEmptyValue(false)).Response()').evaluate(request()));
    expect(answer).toMatchObject({ verdict: 'deny', headers: [{ key: 'x-why', value: '' }] });
    expect((answer as { headers: object[] }).headers[0]).not.toHaveProperty('keepEmptyValue');
  });
});

/** An allow making `call` `times` times: in two steps, since one chain of 65 calls is past the parser's depth bound. */
const allowCalling = (call: string, times: number) => compile(policy(`  variables:
  - name: half
    expression: envoy.Allowed()${call.repeat(32)}
  validations:
  - expression: variables.half${call.repeat(times - 32)}.Response()
`));

describe('envoy library: how many changes an allow may make', () => {
  it.each([
    ['.WithHeader("x-k", "v")', MAX_POLICY_HEADERS, 'headers to add'],
    ['.WithoutHeader("x-k")', MAX_POLICY_HEADERS, 'headers to remove'],
    ['.WithResponseHeader("x-k", "v")', MAX_POLICY_HEADERS, 'response headers to add'],
    ['.WithQueryParam("k", "v")', MAX_POLICY_QUERY_PARAMETERS, 'query parameters to set'],
    ['.WithoutQueryParam("k")', MAX_POLICY_QUERY_PARAMETERS, 'query parameters to remove'],
  ])('%s: %i calls are answered, one more is an evaluation error naming the %s', (call, max, list) => {
    expect(allowCalling(call, max).evaluate(request())).toMatchObject({ kind: 'answer', answer: { verdict: 'allow' } });
    expect(allowCalling(call, max + 1).evaluate(request())).toMatchObject({ kind: 'error', failurePolicy: 'Fail', message: expect.stringContaining(`more than ${max} ${list}`) });
  });
});
