import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compare, exitStatusOf, findTestFiles, runPolicyTests } from '../../../src/cli/policy-test.js';
import { listPolicyFiles } from '../../../src/policy/policy-set.js';
import { expectCode } from '../../support/errors.js';
import { HEADER_GATE_POLICY as POLICY } from '../../fixtures/kyverno-authz.js';


/** A policy directory with `demo.yaml` and the given files beside it. */
function policyDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'chio-policy-test-'));
  writeFileSync(join(dir, 'demo.yaml'), POLICY);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

const run = (dir: string) => runPolicyTests(dir, { keyDir: join(dir, 'keys'), defaultVerdict: 'deny' });
const ALLOWED = "request: { headers: { x-force-authorized: 'true' } }";

describe('runPolicyTests', () => {
  describe('when every expectation holds', () => {
    it('passes each case, from *.test.yaml and from tests/', async () => {
      const dir = policyDir({
        'a.test.yaml': `tests:\n  - name: allowed\n    ${ALLOWED}\n    expect: { verdict: allow, status: 200, policy: demo, rule: "spec.validations[0]", headers: { x-validated-by: chio }, removedHeaders: [x-chio-capability-token] }\n`,
        'tests/b.test.yaml': 'tests:\n  - { name: denied, request: { path: /x }, expect: { verdict: deny, guard: Policy, status: 401, body: Authentication Failed, reason: denied by ValidatingPolicy demo } }\n',
      });
      const results = await run(dir);
      expect(results.map((r) => [r.name, r.outcome])).toEqual([['allowed', 'pass'], ['denied', 'pass']]);
      expect(exitStatusOf(results)).toBe(0);
    });
  });

  describe('when a case fails', () => {
    it('says a wrong verdict, and why the request was denied', async () => {
      const [r] = await run(policyDir({ 'a.test.yaml': 'tests:\n  - { name: wrong verdict, request: {}, expect: { verdict: allow } }\n' }));
      expect(r).toMatchObject({ name: 'wrong verdict', outcome: 'fail' });
      expect(r!.detail).toBe('verdict: expected "allow", got "deny"; (denied by Policy, 401: denied by ValidatingPolicy demo)');
    });
    it('says a wrong or missing header', async () => {
      const [r] = await run(policyDir({ 'a.test.yaml': `tests:\n  - name: wrong header\n    ${ALLOWED}\n    expect: { verdict: allow, headers: { x-validated-by: someone-else, x-other: "1" }, responseHeaders: { x-r: "1" }, removedHeaders: [cookie] }\n` }));
      expect(r!.outcome).toBe('fail');
      expect(r!.detail).toBe('request header x-validated-by: expected "someone-else", got "chio"; request header x-other: expected "1", got none; response header x-r: expected "1", got none; removed header cookie: expected removed, got kept');
    });
    it('exits 1', async () => {
      expect(exitStatusOf(await run(policyDir({ 'a.test.yaml': 'tests:\n  - { name: x, request: {}, expect: { verdict: allow } }\n' })))).toBe(1);
    });
  });

  describe('query parameters an allow sets and removes', () => {
    /** A second policy that allows with `x-tenant`, setting `tenant` upstream and removing `debug`. */
    const QUERY_POLICY = `apiVersion: policies.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata:
  name: tenant-query
spec:
  evaluation:
    mode: Envoy
  validations:
  - expression: >
      object.attributes.request.http.headers[?"x-tenant"].hasValue()
        ? envoy.Allowed().WithQueryParam("tenant", object.attributes.request.http.headers["x-tenant"]).WithoutQueryParam("debug").Response()
        : null
`;
    const TENANT = "request: { path: '/x?debug=1', headers: { x-force-authorized: 'true', x-tenant: blue } }";
    const caseExpecting = (expectation: string) => policyDir({ 'query.yaml': QUERY_POLICY, 'a.test.yaml': `tests:\n  - name: tenant\n    ${TENANT}\n    expect: { verdict: allow, ${expectation} }\n` });

    it('passes when they are as expected (these at least)', async () => {
      const [r] = await run(caseExpecting('queryParameters: { tenant: blue }, removedQueryParameters: [debug]'));
      expect(r).toMatchObject({ name: 'tenant', outcome: 'pass' });
    });
    it('says a wrong, missing or kept query parameter', async () => {
      const [r] = await run(caseExpecting('queryParameters: { tenant: red, region: eu }, removedQueryParameters: [debug, session]'));
      expect(r!.outcome).toBe('fail');
      expect(r!.detail).toBe('query parameter tenant: expected "red", got "blue"; query parameter region: expected "eu", got none; removed query parameter session: expected removed, got kept');
    });
  });

  describe('when a test file does not load', () => {
    const errorOf = async (text: string, extra: Record<string, string> = {}) => {
      const results = await run(policyDir({ 'bad.test.yaml': text, 'good.test.yaml': 'tests:\n  - { name: ok, request: {}, expect: { verdict: deny } }\n', ...extra }));
      expect(results.find((r) => r.name === 'ok')?.outcome).toBe('pass');
      expect(exitStatusOf(results)).toBe(2);
      const error = results.find((r) => r.outcome === 'error')!;
      expect(error.file).toMatch(/bad\.test\.yaml$/);
      return error.detail!;
    };
    it('names the file, the case and the field of a bad expectation', async () => {
      expect(await errorOf('tests:\n  - { name: typo, request: {}, expect: { verdict: permit } }\n')).toMatch(/bad\.test\.yaml case "typo": field expect\.verdict: Invalid option/);
    });
    it('names the case by number when it has no name', async () => {
      expect(await errorOf('tests:\n  - { request: {}, expect: { verdict: deny } }\n')).toMatch(/bad\.test\.yaml case 1: field name: /);
    });
    it('names a field of the short request form', async () => {
      expect(await errorOf('tests:\n  - { name: r, request: { methd: GET }, expect: { verdict: deny } }\n')).toMatch(/case "r": field request\.methd: unknown field$/);
    });
    // docs/policies.md: errors name the field. A misspelt case field was "field (document)".
    it('names a misspelt field of a case, and a case without its request', async () => {
      expect(await errorOf('tests:\n  - { name: r, requst: {}, expect: { verdict: deny } }\n')).toMatch(/case "r": field requst: unknown field$/);
      expect(await errorOf('tests:\n  - { name: r, expect: { verdict: deny } }\n')).toMatch(/case "r": field request: missing$/);
    });
    it('names a request file that cannot be read', async () => {
      expect(await errorOf('tests:\n  - { name: r, request: missing.json, expect: { verdict: deny } }\n')).toMatch(/case "r": request: cannot read .*missing\.json/);
    });
    it('names a request file that is not a CheckRequest', async () => {
      expect(await errorOf('tests:\n  - { name: r, request: r.json, expect: { verdict: deny } }\n', { 'r.json': '[1, 2]' })).toMatch(/case "r": request r\.json: not a CheckRequest/);
    });
    it('refuses YAML that does not parse, and a file without cases', async () => {
      expect(await errorOf('tests: [\n')).toMatch(/bad\.test\.yaml: /);
      expect(await errorOf('tests: []\n')).toMatch(/bad\.test\.yaml: field tests: a test file needs at least one case/);
    });
    // A test file holds tokens; the parser's message quoted the lines around the error.
    it('tells YAML that does not parse in one line, without the token on the line it points at', async () => {
      const detail = await errorOf('tests:\n  - name: r\n    request: { headers: { x-chio-capability-token: eyJTOKEN-8675309 }\n    expect: { verdict: deny }\n');
      expect(detail).toMatch(/bad\.test\.yaml: .* at line \d+, column \d+$/);
      expect(detail).not.toContain('8675309');
      expect(detail).not.toContain('\n');
    });
    it('says when its policy set does not load', async () => {
      expect(await errorOf('policies: nowhere.yaml\ntests:\n  - { name: r, request: {}, expect: { verdict: deny } }\n')).toMatch(/bad\.test\.yaml: its policy set does not load: .*nowhere\.yaml does not exist/);
    });
  });

  it('refuses a directory without test files', () => {
    expectCode(() => findTestFiles(policyDir({})), 'CONFIG_INVALID');
  });
});

describe('listPolicyFiles', () => {
  it('leaves test files out of the policy set', () => {
    const dir = policyDir({ 'demo.test.yaml': 'tests: []\n', 'other.test.yml': 'tests: []\n' });
    expect(listPolicyFiles(dir)).toEqual([join(dir, 'demo.yaml')]);
  });
});

describe('compare', () => {
  it('compares only what the case expects', () => {
    const got = { verdict: 'allow' as const, httpStatus: 200, headersToAdd: {}, headersToRemove: [], responseHeadersToAdd: {} };
    expect(compare({ verdict: 'allow' }, got)).toEqual([]);
    expect(compare({ verdict: 'allow', status: 201 }, got)).toEqual(['status: expected 201, got 200']);
  });
});
