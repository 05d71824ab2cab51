import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluateRequest, formatEvaluation, parseCheckRequestText, readDataFile } from '../../../src/cli/policy-eval.js';
import { loadPolicySet } from '../../../src/policy/policy-set.js';
import { buildCheckRequest } from '../../../src/cli/envoy-request.js';
import { HEADER_GATE_POLICY as POLICY } from '../../fixtures/kyverno-authz.js';
import { policy } from '../../support/cel-policies.js';


const dir = mkdtempSync(join(tmpdir(), 'chio-eval-'));
writeFileSync(join(dir, 'p.yaml'), POLICY);
const set = loadPolicySet(dir, join(dir, 'keys'));

describe('evaluateRequest', () => {
  it('says the allow, the deciding policy and rule, and the header changes', async () => {
    const e = await evaluateRequest(set, buildCheckRequest({ method: 'GET', path: '/', host: 'a', headers: { 'x-force-authorized': 'true' } }));
    expect(e).toEqual({ verdict: 'allow', httpStatus: 200, policy: 'demo', rule: 'spec.validations[0]', headersToAdd: { 'x-validated-by': 'chio' }, headersToRemove: ['x-chio-capability-token', 'x-force-authorized', 'x-chio-shadow-verdict', 'x-chio-denial-guard', 'x-chio-denial-reason'], responseHeadersToAdd: {} });
    expect(formatEvaluation(e)).toContain('+ request header x-validated-by: chio');
  });
  it('says the deny with its status, guard, body and policy', async () => {
    const e = await evaluateRequest(set, buildCheckRequest({ method: 'GET', path: '/', host: 'a', headers: {} }));
    expect(e).toMatchObject({ verdict: 'deny', guard: 'Policy', httpStatus: 401, policy: 'demo', rule: 'spec.validations[0]', body: 'Authentication Failed' });
  });
  it('reads a CheckRequest in protobuf JSON', async () => {
    const text = readFileSync(new URL('../../fixtures/envoy-check-request.json', import.meta.url), 'utf8');
    const request = parseCheckRequestText(text, 'envoy-check-request.json');
    expect((request as any).attributes.source.address.socket_address.port_value).toBe(33880);
    expect(await evaluateRequest(set, request)).toMatchObject({ verdict: 'deny', httpStatus: 401 });
  });
  it('says in words why a --request or --payload file cannot be read', () => {
    expect(() => readDataFile(join(dir, 'missing.json'))).toThrow(`${join(dir, 'missing.json')}: cannot be read (no such file)`);
    expect(() => readDataFile(dir)).toThrow(`${dir}: cannot be read (a directory)`);
  });
  it('refuses a request that is not an object, naming the file', () => {
    expect(() => parseCheckRequestText('[1]', 'r.json')).toThrow(/r\.json: not a CheckRequest/);
  });
});

describe('evaluateRequest when CEL policies change the query', () => {
  // Two allowing policies: the answer carries both one's changes, in policy-name order.
  const queryPolicy = (name: string, change: string) => policy(`  validations:\n  - expression: 'envoy.Allowed()${change}.Response()'\n`, name);
  const queryDir = mkdtempSync(join(tmpdir(), 'chio-eval-query-'));
  writeFileSync(join(queryDir, 'p.yaml'), `${queryPolicy('a-tenant', '.WithQueryParam("tenant", "blue")')}---\n${queryPolicy('b-debug', '.WithoutQueryParam("debug")')}`);
  const querySet = loadPolicySet(queryDir, join(queryDir, 'keys'));
  it('says the parameters set and removed upstream', async () => {
    const e = await evaluateRequest(querySet, buildCheckRequest({ method: 'GET', path: '/?debug=1', host: 'a', headers: {} }));
    expect(e).toMatchObject({ verdict: 'allow', queryParametersToSet: { tenant: 'blue' }, queryParametersToRemove: ['debug'] });
    expect(formatEvaluation(e)).toContain('+ query parameter tenant=blue\n  - query parameter debug');
  });
});

describe('evaluateRequest with a kyverno-json ValidatingPolicy', () => {
  const jsonDir = mkdtempSync(join(tmpdir(), 'chio-eval-json-'));
  writeFileSync(join(jsonDir, 'books.yaml'), `apiVersion: json.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata:
  name: books-read-only
spec:
  rules:
    - name: only-get-on-books
      match:
        any:
          - request:
              http:
                host: books.demo.svc.cluster.local:8080
      assert:
        all:
          - message: "The books service is read-only."
            check:
              request:
                http:
                  method: GET
`);
  const books = loadPolicySet(jsonDir, join(jsonDir, 'keys'));
  const request = (method: string) => buildCheckRequest({ method, path: '/books', host: 'books.demo.svc.cluster.local:8080', headers: {} });

  // policies.md: eval prints "the policy and rule that decided", and a test's expect.rule is
  // compared: the rule was known (the assert that failed, the rule that held) but dropped.
  it('names the rule whose assert failed', async () => {
    const e = await evaluateRequest(books, request('POST'));
    expect(e).toMatchObject({ verdict: 'deny', reason: 'The books service is read-only.', policy: 'books-read-only', rule: 'only-get-on-books' });
    expect(formatEvaluation(e)).toContain('decided by: books-read-only only-get-on-books');
  });
  it('names the rule that allowed', async () => {
    expect(await evaluateRequest(books, request('GET'))).toMatchObject({ verdict: 'allow', policy: 'books-read-only', rule: 'only-get-on-books' });
  });
});
