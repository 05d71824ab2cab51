import { describe, expect, it, vi } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMPREHENSION_RANGE_BOUND, MAX_DURATION_CHARS, MAX_MATCHED_CHARS, MAX_SCANNED_CHARS } from '../../../../src/policy/kyverno-authz/cel-bounds.js';
import { toCheckInput } from '../../../../src/decision/check-input.js';
import { evaluateCelPolicies } from '../../../../src/policy/kyverno-authz/verdicts.js';
import { toCelCheckRequest } from '../../../../src/policy/kyverno/kyverno-input.js';
import { loadPolicySet } from '../../../../src/policy/policy-set.js';
import { buildCheckRequest } from '../../../../src/cli/envoy-request.js';
import { ADVANCED_SPEC, FORCE_AUTHORIZED_SPEC } from '../../../fixtures/kyverno-authz.js';
import { answerOf, compile, policy, request } from '../../../support/cel-policies.js';

const FORCE_AUTHORIZED = policy(FORCE_AUTHORIZED_SPEC);
const ADVANCED = policy(ADVANCED_SPEC);

describe('compileCelPolicy', () => {
  describe('when the kyverno-authz force-authorized example runs', () => {
    const p = compile(FORCE_AUTHORIZED);
    it('allows with the header set to true', () => {
      expect(answerOf(p.evaluate(request({ 'x-force-authorized': 'true' })))).toMatchObject({ verdict: 'allow' });
    });
    it('denies 403 without it', () => {
      expect(answerOf(p.evaluate(request()))).toMatchObject({ verdict: 'deny', status: 403, body: '' });
    });
  });

  describe('when validations carry bodies, headers and metadata', () => {
    const p = compile(ADVANCED);
    it('answers 401 with its body first', () => {
      expect(answerOf(p.evaluate(request({ 'x-force-unauthenticated': 'true', 'x-force-authorized': 'true' })))).toMatchObject({ verdict: 'deny', status: 401, body: 'Authentication Failed' });
    });
    it('answers 403 with its body next', () => {
      const outcome = p.evaluate(request());
      expect(outcome).toMatchObject({ kind: 'answer', rule: 'spec.validations[1]' });
      expect(answerOf(outcome)).toMatchObject({ verdict: 'deny', status: 403, body: 'Unauthorized Request' });
    });
    it('allows with headers to add and remove, response headers and metadata', () => {
      expect(answerOf(p.evaluate(request({ 'x-force-authorized': 'enabled' })))).toEqual({
        verdict: 'allow',
        headers: [{ key: 'x-validated-by', value: 'my-security-checkpoint' }],
        headersToRemove: ['x-force-authorized'],
        responseHeaders: [{ key: 'x-add-custom-response-header', value: 'added' }],
        queryParametersToSet: [],
        queryParametersToRemove: [],
        metadata: { 'my-new-metadata': 'my-new-value' },
      });
    });
  });

  describe('when match conditions are given', () => {
    const p = compile(policy(`  matchConditions:
  - name: has-header
    expression: object.attributes.request.http.headers[?"x-force-deny"].hasValue()
  - name: is-api
    expression: object.attributes.request.http.path.startsWith("/api/")
  validations:
  - expression: envoy.Denied(403).Response()
`));
    it('applies when all hold', () => expect(answerOf(p.evaluate(request({ 'x-force-deny': '1' })))).toMatchObject({ verdict: 'deny' }));
    it('is skipped when one does not', () => {
      expect(p.evaluate(request())).toEqual({ kind: 'skip' });
      expect(p.evaluate(request({ 'x-force-deny': '1' }, '/web'))).toEqual({ kind: 'skip' });
    });
  });

  describe('when every validation returns null', () => {
    it('makes no decision', () => {
      expect(compile(policy(`  validations:\n  - expression: 'null'\n  - expression: "false ? envoy.Allowed().Response() : null"\n`)).evaluate(request())).toEqual({ kind: 'skip' });
    });
  });

  describe('when evaluation fails', () => {
    const failing = (failurePolicy: string) => compile(policy(`  failurePolicy: ${failurePolicy}
  validations:
  - expression: 'object.attributes.request.http.headers["x-missing"] == "a" ? envoy.Allowed().Response() : null'
`));
    it('reports the error with the field and Fail', () => {
      expect(failing('Fail').evaluate(request())).toMatchObject({ kind: 'error', rule: 'spec.validations[0].expression', failurePolicy: 'Fail' });
    });
    it('reports Ignore when told to', () => {
      expect(failing('Ignore').evaluate(request())).toMatchObject({ kind: 'error', failurePolicy: 'Ignore' });
    });
    // A deny stays a deny whatever it carries: were it an error, failurePolicy Ignore would skip
    // it, and a client could have a deny dropped by sending a header the deny echoes.
    it.each([200, 0, 600])('answers a deny with status %i as 403', (status) => {
      expect(answerOf(compile(policy(`  failurePolicy: Ignore\n  validations:\n  - expression: envoy.Denied(${status}).Response()\n`)).evaluate(request()))).toMatchObject({ verdict: 'deny', status: 403 });
    });
    it('leaves out of a deny the headers and metadata that break a rule, and cuts its body', () => {
      const echo = compile(policy(`  failurePolicy: Ignore
  validations:
  - expression: >-
      envoy.Denied(401).WithHeader("x-request-id", object.attributes.request.http.headers[?"x-request-id"].orValue(""))
      .WithHeader("x-chio-verdict", "allow").WithHeader("x-ok", "1").WithBody(object.attributes.request.http.headers[?"x-body"].orValue("")).Response()
`));
      const answer = answerOf(echo.evaluate(request({ 'x-request-id': 'caf\u00e9', 'x-body': 'b'.repeat(70_000) })));
      expect(answer).toMatchObject({ verdict: 'deny', status: 401, headers: [{ key: 'x-ok', value: '1' }] });
      expect((answer as { body: string }).body).toHaveLength(64 * 1024);
    });
    it('still treats an allow that breaks a rule as an error', () => {
      expect(compile(policy(`  validations:\n  - expression: envoy.Allowed().WithHeader("x-chio-verdict", "allow").Response()\n`)).evaluate(request())).toMatchObject({ kind: 'error' });
    });
    it("treats setting Chio's own headers as an error", () => {
      expect(compile(policy(`  validations:\n  - expression: envoy.Allowed().WithHeader("x-chio-verdict", "allow").Response()\n`)).evaluate(request())).toMatchObject({ kind: 'error' });
    });
    it('treats a non-boolean match condition at run time as an error', () => {
      const p = compile(policy(`  matchConditions:\n  - name: dyn\n    expression: object.attributes.request.http.headers\n  validations:\n  - expression: envoy.Allowed().Response()\n`));
      expect(p.evaluate(request())).toMatchObject({ kind: 'error', rule: 'spec.matchConditions[0].expression' });
    });
  });

  describe('matches', () => {
    it('uses RE2: a backtracking pattern on a long value answers at once', () => {
      const p = compile(policy(`  validations:\n  - expression: 'object.attributes.request.http.headers[?"x-a"].orValue("").matches("^(a+)+$") ? envoy.Allowed().Response() : envoy.Denied(403).Response()'\n`));
      // 64 a's then a b: a backtracking engine tries 2^64 splits and never answers; RE2 is linear.
      // (Short on purpose, and after a first run on a short value that warms RE2JS: on a loaded
      // machine a cold first run could meet the 250 ms evaluation backstop, an error rather than
      // the deny this test is about.)
      expect(answerOf(p.evaluate(request({ 'x-a': 'aaa' })))).toMatchObject({ verdict: 'allow' });
      const started = performance.now();
      expect(answerOf(p.evaluate(request({ 'x-a': `${'a'.repeat(64)}b` })))).toMatchObject({ verdict: 'deny' });
      expect(performance.now() - started).toBeLessThan(5000);
    });

    describe('when a policy scans the headers with several patterns', () => {
      const scan = (pattern: string) => `  - expression: 'object.attributes.request.http.headers.exists(k, object.attributes.request.http.headers[k].matches("${pattern}")) ? envoy.Denied(403).Response() : null'\n`;
      const waf = compile(policy(`  variables:\n  - name: unused\n    expression: '1'\n  validations:\n${scan('(?i)(union|select).*from')}${scan('(?i)drop\\\\s')}${scan('(?i)<script')}`));
      it('scans at most MAX_MATCHED_CHARS in one Check: 3 × 93 KB of headers is an evaluation error, not 3 scans', () => {
        // The clock stands still: on a loaded machine the 250 ms evaluation backstop, a limit
        // error too, could fire before the budget this test is about.
        vi.useFakeTimers({ toFake: ['performance'] });
        try {
          expect(waf.evaluate(request({ 'x-junk': 'select'.repeat(15_500) }))).toMatchObject({ kind: 'error', message: `matches scanned more than ${MAX_MATCHED_CHARS} characters in one Check`, failurePolicy: 'Fail', limit: true });
        } finally {
          vi.useRealTimers();
        }
      });
      it('denies when the budget runs out under failurePolicy Ignore too: padding a request does not skip the policy', () => {
        const ignoring = compile(policy(`  failurePolicy: Ignore\n  validations:\n${scan('(?i)(union|select).*from')}${scan('(?i)drop\\\\s')}${scan('(?i)<script')}`, 'waf'));
        const allowAll = compile(policy(`  validations:\n  - expression: envoy.Allowed().Response()\n`, 'z-allow-all'));
        const padded = request({ 'x-pad': 'x'.repeat(90_000), 'x-q': '<script>' });
        expect(ignoring.evaluate(padded)).toMatchObject({ kind: 'error', failurePolicy: 'Ignore', limit: true });
        const verdicts = evaluateCelPolicies([ignoring, allowAll], padded);
        expect(verdicts.deny).toMatchObject({ policy: 'waf', reason: 'ValidatingPolicy waf could not be evaluated' });
        expect(verdicts.ignoredErrors).toEqual([]);
      });
      it('counts a long pattern\'s characters as often as it keeps states: [a-z]{1000}[0-9] over 16 KB is past the budget, not a second of scanning', () => {
        // RE2 runs a pattern's states side by side over each character: 1,003 of them over 16 KB
        // of headers were 16 M steps (0.45 s; over the budget's 256 Ki characters, 7 s), counted as 16 Ki.
        const long = compile(policy(`  validations:\n${scan('[a-z]{1000}[0-9]')}`));
        vi.useFakeTimers({ toFake: ['performance'] });
        try {
          expect(long.evaluate(request({ 'x-junk': 'a'.repeat(16_000) }))).toMatchObject({ kind: 'error', message: `matches scanned more than ${MAX_MATCHED_CHARS} characters in one Check`, limit: true });
        } finally {
          vi.useRealTimers();
        }
        expect(answerOf(long.evaluate(request({ 'x-id': `${'a'.repeat(1000)}7` })))).toMatchObject({ verdict: 'deny', status: 403 });
      });
      it('gives every Check the whole budget again', () => {
        // The clock stands still: cold, on a loaded machine, three scans of 80 KB could meet the 250 ms backstop.
        vi.useFakeTimers({ toFake: ['performance'] });
        try {
          const large = request({ 'x-junk': 'x'.repeat(80_000) });
          for (let i = 0; i < 3; i++) expect(waf.evaluate(large)).toEqual({ kind: 'skip' });
          expect(answerOf(waf.evaluate(request({ 'x-q': 'a union select b from t' })))).toMatchObject({ verdict: 'deny', status: 403 });
        } finally {
          vi.useRealTimers();
        }
      });
    });
  });

  describe('split: lists no longer than the cost estimate assumes', () => {
    const split = compile(policy(`  validations:\n  - expression: 'object.attributes.request.http.headers[?"x-a"].orValue("").split(",").exists(s, s == "admin") ? envoy.Denied(403).Response() : null'\n`));
    it('splits a short header', () => {
      expect(answerOf(split.evaluate(request({ 'x-a': 'user,admin' })))).toMatchObject({ verdict: 'deny', status: 403 });
      expect(split.evaluate(request({ 'x-a': 'user,guest' }))).toEqual({ kind: 'skip' });
    });
    it(`is an evaluation error past ${COMPREHENSION_RANGE_BOUND} parts, not a list of tens of thousands`, () => {
      expect(split.evaluate(request({ 'x-a': ','.repeat(COMPREHENSION_RANGE_BOUND - 1) }))).toEqual({ kind: 'skip' });
      expect(split.evaluate(request({ 'x-a': `${','.repeat(40_000)}admin` }))).toMatchObject({ kind: 'error', rule: 'spec.validations[0].expression', message: `split made a list of more than ${COMPREHENSION_RANGE_BOUND} entries`, failurePolicy: 'Fail', limit: true });
    });
    it('keeps the limit argument: the rest is the last part', () => {
      const p = compile(policy(`  validations:\n  - expression: 'object.attributes.request.http.headers[?"x-a"].orValue("").split(",", 2)[1] == "b,c" ? envoy.Denied(403).Response() : null'\n`));
      expect(answerOf(p.evaluate(request({ 'x-a': 'a,b,c' })))).toMatchObject({ verdict: 'deny' });
      expect(answerOf(p.evaluate(request({ 'x-a': `a,b,c${','.repeat(40_000)}` })))).toMatchObject({ kind: 'skip' });
    });
  });

  describe('string functions: what they scan is counted at run time', () => {
    const h = 'object.attributes.request.http.headers';
    // A comprehension over a 1,024-part split whose body searches a 90 KB header ten times.
    // Loads (each call is a node); before the budget it scanned 0.9 G characters a Check,
    // some 6 s on this text (V8 compares each position of `a…a` with `aa0`).
    const searches = Array.from({ length: 10 }, (_, i) => `variables.b.contains("aa${i}")`).join(' || ');
    const pathological = compile(
      policy(`  failurePolicy: Ignore
  variables:
  - name: b
    expression: '${h}[?"x-b"].orValue("")'
  validations:
  - expression: '${h}[?"x-a"].orValue("").split(",").exists(s, ${searches}) ? envoy.Denied(403).Response() : null'
`),
    );
    const spent = { kind: 'error', rule: 'spec.validations[0].expression', message: `string functions scanned more than ${MAX_SCANNED_CHARS} characters in one Check`, failurePolicy: 'Ignore', limit: true };
    it(`stops a policy that searches a long header for every part of a split past ${MAX_SCANNED_CHARS} characters`, () => {
      expect(pathological.evaluate(request({ 'x-a': ','.repeat(COMPREHENSION_RANGE_BOUND - 1), 'x-b': 'a'.repeat(90_000) }))).toMatchObject(spent);
      // The same policy over ordinary headers answers.
      expect(pathological.evaluate(request({ 'x-a': 'p,q', 'x-b': `${'a'.repeat(1000)}aa7` }))).toMatchObject({ kind: 'answer' });
    });
    it('counts what join builds, before building it: 1,024 copies of a 90 KB header are 90 MB', () => {
      const p = compile(policy(`  validations:
  - expression: '${h}[?"x-a"].orValue("").split(",").map(s, ${h}[?"x-b"].orValue("")).join("-") != "" ? envoy.Denied(403).Response() : null'
`));
      expect(p.evaluate(request({ 'x-a': ','.repeat(COMPREHENSION_RANGE_BOUND - 1), 'x-b': 'a'.repeat(90_000) }))).toMatchObject({ ...spent, failurePolicy: 'Fail' });
      expect(answerOf(p.evaluate(request({ 'x-a': 'p,q', 'x-b': 'b' })))).toMatchObject({ verdict: 'deny' });
    });
    it('counts lastIndexOf as every position times the pattern, since V8 compares each position', () => {
      const p = compile(policy(`  validations:
  - expression: '${h}[?"x-a"].orValue("").lastIndexOf(${h}[?"x-b"].orValue("")) >= 0 ? envoy.Denied(403).Response() : null'
`));
      expect(p.evaluate(request({ 'x-a': 'a'.repeat(60_000), 'x-b': `${'a'.repeat(5_000)}b` }))).toMatchObject({ ...spent, failurePolicy: 'Fail' });
      expect(answerOf(p.evaluate(request({ 'x-a': 'a'.repeat(60_000), 'x-b': 'ab' })))).toEqual({ kind: 'skip' });
    });
    it('leaves ordinary header-scanning policies over the largest request alone', () => {
      const scan = (body: string) => `  - expression: '${h}.exists(k, ${body}) ? envoy.Denied(403).WithBody("waf").Response() : null'\n`;
      const waf = compile(
        policy(
          `  validations:\n${[
            `${h}[k].lowerAscii().contains("<script")`,
            `${h}[k].upperAscii().indexOf("UNION SELECT") >= 0`,
            `${h}[k].lastIndexOf("../") >= 0`,
            `${h}[k].trim().startsWith("() {")`,
            `${h}[k].endsWith("%00")`,
            `size(${h}[k]) > 90000 || ${h}[k].size() < 0`,
            `${h}[k].substring(0, size(${h}[k]) / 2).contains("\\\\x00")`,
            `k.contains("evil") || k.startsWith("x-forwarded-host")`,
          ]
            .map(scan)
            .join('')}  - expression: 'object.attributes.request.http.path.lowerAscii().contains("/admin") ? envoy.Denied(403).Response() : null'\n`,
        ),
      );
      // Headers of 95.7 KB: 11 values of 8,500 characters and a :path of 2,000 (the bound is 96 KiB; toCheckInput checks).
      const headers = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`x-h${i}`, 'abcdefghi '.repeat(850)]));
      const largest = buildCheckRequest({ method: 'GET', path: `/${'p'.repeat(2_000)}`, host: 'svc.example.com', headers });
      expect(() => toCheckInput(largest)).not.toThrow();
      expect(waf.evaluate(toCelCheckRequest(largest))).toEqual({ kind: 'skip' });
      expect(answerOf(waf.evaluate(toCelCheckRequest(buildCheckRequest({ method: 'GET', path: '/', host: 'svc', headers: { ...headers, 'x-q': '1 union select 2' } }))))).toMatchObject({ verdict: 'deny', body: 'waf' });
    });
  });

  describe('values `+` builds: charged as the string calls are', () => {
    const h = 'object.attributes.request.http.headers';
    const spent = { kind: 'error', rule: 'spec.validations[0].expression', message: `string functions scanned more than ${MAX_SCANNED_CHARS} characters in one Check`, failurePolicy: 'Ignore', limit: true };
    // The clock stands still: the 250 ms backstop, a limit error too, must not be what stops these.
    const frozen = <T>(run: () => T): T => {
      vi.useFakeTimers({ toFake: ['performance'] });
      try {
        return run();
      } finally {
        vi.useRealTimers();
      }
    };
    /** A failurePolicy Ignore policy with one variable and one validation (both CEL expressions). */
    const withVariable = (name: string, variable: string, validation: string) => compile(policy(`  failurePolicy: Ignore
  variables:
  - name: ${name}
    expression: '${variable}'
  validations:
  - expression: '${validation}'
`));
    it('counts the strings `+` builds: 300 copies of a 90 KB header compared in a comprehension flattened 27 MB a part', () => {
      // V8 joins strings lazily, but `<` copies the whole 27 MB: over 1,024 parts, 94 s a Check, none of it counted.
      const copies = Array.from({ length: 300 }, () => 'variables.h').join('+');
      const p = withVariable('h', `${h}[?"x-a"].orValue("")`, `${h}[?"x-b"].orValue("").split(",").exists(s, ${copies} < "a") ? envoy.Denied(403).Response() : null`);
      expect(frozen(() => p.evaluate(request({ 'x-a': 'a'.repeat(90_000), 'x-b': ','.repeat(15) })))).toMatchObject(spent);
      expect(p.evaluate(request({ 'x-a': 'b', 'x-b': 'p' }))).toEqual({ kind: 'skip' });
    });
    it('counts the bytes `+` builds', () => {
      const copies = Array.from({ length: 300 }, () => 'bytes(variables.h)').join('+');
      const p = withVariable('h', `${h}[?"x-a"].orValue("")`, `size(${copies}) < 0 ? envoy.Denied(403).Response() : null`);
      expect(frozen(() => p.evaluate(request({ 'x-a': 'a'.repeat(90_000) })))).toMatchObject(spent);
      expect(p.evaluate(request({ 'x-a': 'b' }))).toEqual({ kind: 'skip' });
    });
    it(`refuses a list \`+\` makes of more than ${COMPREHENSION_RANGE_BOUND} entries, as split does, and counts each it copies`, () => {
      // 100 copies of a 1,024-part split in one expression: 5 M entries copied, 3.5 s a Check;
      // and a variable of 16 Ki entries ranged 16 times what the cost estimate assumes.
      const parts = `${h}[?"x-b"].orValue("").split(",")`;
      const copies = Array.from({ length: 100 }, () => 'variables.l').join('+');
      const p = withVariable('l', `${parts}`, `size(${copies}) < 0 ? envoy.Denied(403).Response() : null`);
      expect(frozen(() => p.evaluate(request({ 'x-b': ','.repeat(COMPREHENSION_RANGE_BOUND - 1) })))).toMatchObject({ ...spent, message: `+ made a list of more than ${COMPREHENSION_RANGE_BOUND} entries` });
      expect(p.evaluate(request({ 'x-b': 'p' }))).toEqual({ kind: 'skip' });
      // Under the cap, each entry copied counts: 1,000 entries copied 10 times for each of 1,024 parts.
      const appends = Array.from({ length: 10 }, (_, i) => `size(variables.l + [${i}]) < 0`).join(' || ');
      const q = withVariable('l', `${h}[?"x-a"].orValue("").split(",")`, `${parts}.exists(s, ${appends}) ? envoy.Denied(403).Response() : null`);
      expect(frozen(() => q.evaluate(request({ 'x-a': ','.repeat(999), 'x-b': ','.repeat(COMPREHENSION_RANGE_BOUND - 1) })))).toMatchObject(spent);
      expect(q.evaluate(request({ 'x-a': 'a,b', 'x-b': 'p,q' }))).toEqual({ kind: 'skip' });
    });
    it('counts what bytes and string conversions read and build: bytes(), string(bytes), .string(), .hex(), .base64(), .json()', () => {
      // Each is one node whatever its text: 40 `bytes(h).hex()` of a 90 KB header for each of 1,024 parts took 82 s a Check.
      const calls = ['bytes(variables.h).hex() == ""', 'bytes(variables.h).base64() == ""', 'string(bytes(variables.h)) == ""', 'bytes(variables.h).string() == ""', 'bytes(variables.h).json() == {}'];
      for (const call of calls) {
        const body = Array.from({ length: 10 }, () => call).join(' || ');
        const p = withVariable('h', `${h}[?"x-a"].orValue("")`, `${h}[?"x-b"].orValue("").split(",").exists(s, ${body}) ? envoy.Denied(403).Response() : null`);
        expect(frozen(() => p.evaluate(request({ 'x-a': `{"a":"${'a'.repeat(90_000)}"}`, 'x-b': ','.repeat(15) }))), call).toMatchObject(spent);
        expect(p.evaluate(request({ 'x-a': '{"b":1}', 'x-b': 'p' })), call).toEqual({ kind: 'skip' });
      }
    });
  });

  describe('duration() of a header', () => {
    // cel-js finds each part with /(\d*\.?\d*)(ns|…|h)/, unanchored: on digits with no unit it
    // tries every split of every run from every position, cubic. 2,000 digits took 4 s, a 90 KB
    // header would take days, in one call, of an ordinary-looking policy.
    const p = compile(policy(`  failurePolicy: Ignore
  validations:
  - expression: 'duration(object.attributes.request.http.headers[?"x-timeout"].orValue("1s")) > duration("5s") ? envoy.Denied(403).Response() : null'
`));
    it('answers for a duration, and an invalid one is the policy\'s error', () => {
      expect(answerOf(p.evaluate(request({ 'x-timeout': '1m30.5s' })))).toMatchObject({ verdict: 'deny' });
      expect(p.evaluate(request({ 'x-timeout': '2s' }))).toEqual({ kind: 'skip' });
      expect(p.evaluate(request({ 'x-timeout': '5 s' }))).toMatchObject({ kind: 'error', message: 'Invalid duration string: 5 s', failurePolicy: 'Ignore' });
      expect(p.evaluate(request({ 'x-timeout': `${'9'.repeat(MAX_DURATION_CHARS - 4)}x1s` }))).toMatchObject({ kind: 'error', message: 'Invalid duration string: 999999999999999999999999999999999999999999999999999999999999x1s', failurePolicy: 'Ignore' });
    });
    it(`is an evaluation error past ${MAX_DURATION_CHARS} characters, which denies: a client cannot pad the header to have the policy skipped`, () => {
      expect(p.evaluate(request({ 'x-timeout': '9'.repeat(1_200) }))).toMatchObject({ kind: 'error', message: `duration() of more than ${MAX_DURATION_CHARS} characters`, failurePolicy: 'Ignore', limit: true });
    });
  });

  describe("the request's own lists", () => {
    const withList = (n: number) => {
      const req = buildCheckRequest({ method: 'GET', path: '/', host: 'svc.example.com', headers: {} }) as { attributes: Record<string, unknown> };
      req.attributes.metadata_context = { filter_metadata: { jwt: { fields: { groups: { listValue: { values: Array.from({ length: n }, () => ({ stringValue: 'g' })) } } } } } };
      return () => toCelCheckRequest(req as never);
    };
    it(`hold at most ${COMPREHENSION_RANGE_BOUND} entries, metadata lists included, as the cost estimate assumes`, () => {
      expect(withList(COMPREHENSION_RANGE_BOUND)()).toBeDefined();
      expect(withList(COMPREHENSION_RANGE_BOUND + 1)).toThrow(`a metadata list of more than ${COMPREHENSION_RANGE_BOUND} entries`);
    });
  });

  // Chio sets every field of a message (an unset one reads as "" or 0), so a presence test on one
  // would always be true where kyverno-authz says whether it is set: these allowed every request.
  describe('presence tests on a message the load check cannot see', () => {
    const gate = (e: string, failurePolicy = 'Fail', variables = '') =>
      compile(policy(`  failurePolicy: ${failurePolicy}\n${variables}  validations:\n  - expression: '${e} ? envoy.Allowed().Response() : envoy.Denied(403).Response()'\n`));
    const hidden = [
      '[object.attributes.source].exists(s, s.?principal.hasValue())',
      '[object.attributes.source][0].?principal.hasValue()',
      '(true ? object.attributes.source : object.attributes.destination).?principal.hasValue()',
      '"principal" in [object.attributes.source][0]',
      '[object.attributes.source][0][?"principal"].hasValue()',
      'optional.of(object.attributes.source).?principal.hasValue()',
      '[object][0].?attributes.hasValue()',
      '{"s": object.attributes.source}.s.?address.?socket_address.hasValue()',
    ];
    it.each(hidden)('%s loads but denies, under failurePolicy Ignore too', (e) => {
      for (const failurePolicy of ['Fail', 'Ignore']) {
        const p = gate(e, failurePolicy);
        const outcome = p.evaluate(request());
        expect(outcome).toMatchObject({ kind: 'error', failurePolicy, limit: true });
        expect((outcome as { message: string }).message).toMatch(/on a field of a message of object is not supported/);
        expect(evaluateCelPolicies([p], request()).deny).toMatchObject({ policy: 'demo' });
      }
    });
    it('denies through a variable that is not a plain path, and through a comprehension over a message list', () => {
      const p = gate('variables.peers.exists(s, s.?principal.hasValue())', 'Ignore', '  variables:\n  - name: peers\n    expression: "[object.attributes.source, object.attributes.destination]"\n');
      expect(p.evaluate(request())).toMatchObject({ kind: 'error', limit: true });
    });
    it('still reads fields of a message however it is reached', () => {
      for (const e of ['[object.attributes.source].exists(s, s.principal == "")', '[object.attributes.source][0]["principal"] == ""', '(true ? object.attributes.source : object.attributes.destination).address.socket_address.port_value == 51234']) {
        expect(answerOf(gate(e).evaluate(request()))).toMatchObject({ verdict: 'allow' });
      }
      expect(gate('object.attributes.source.nope == ""').evaluate(request())).toMatchObject({ kind: 'error', failurePolicy: 'Fail' });
      expect(gate('object.attributes.source.nope == ""').evaluate(request())).not.toHaveProperty('limit');
    });
    it('compares messages field by field', () => {
      expect(answerOf(gate('object.attributes.metadata_context == object.attributes.route_metadata_context').evaluate(request()))).toMatchObject({ verdict: 'allow' });
      expect(answerOf(gate('object.attributes.source != object.attributes.destination').evaluate(request()))).toMatchObject({ verdict: 'allow' });
    });
    it('treats a comprehension over the fields of a message as an ordinary error, as kyverno-authz does', () => {
      const outcome = gate('object.attributes.source.exists(k, k == "principal")', 'Ignore').evaluate(request());
      expect(outcome).toMatchObject({ kind: 'error', failurePolicy: 'Ignore' });
      expect(outcome).not.toHaveProperty('limit');
    });
    it.each([
      ['object.attributes.request.http.headers.exists(k, k == "x-a")', ''],
      ['variables.h[?"x-a"].hasValue()', '  variables:\n  - name: h\n    expression: object.attributes.request.http.headers\n'],
      ['variables.h.?x_a.orValue("") == "" && "x-a" in variables.h', '  variables:\n  - name: h\n    expression: object.attributes.request.http.headers\n'],
      ['[object.attributes.request.http.headers].exists(h, h[?"x-a"].hasValue()) && "x-a" in [object.attributes.request.http.headers][0]', ''],
      ['"admin" in variables.roles', '  variables:\n  - name: roles\n    expression: object.attributes.request.http.headers[?"x-a"].orValue("").split(",")\n'],
      ['has(object.attributes.request.http.headers.x_a) || (true ? object.attributes.request.http.headers : {})[?"x-a"].hasValue()', ''],
      ['[object.attributes.source][0].labels.?app.orValue("") == "" && !object.attributes.context_extensions[?"k"].hasValue()', ''],
    ])('keeps presence tests on maps and `in` on lists: %s', (e, variables) => {
      expect(answerOf(gate(e, 'Fail', variables).evaluate(request({ 'x-a': 'user,admin' })))).toMatchObject({ verdict: 'allow' });
      expect(answerOf(gate(e, 'Fail', variables).evaluate(request({ 'x-b': 'user' })))).toMatchObject({ verdict: e.includes('labels') ? 'allow' : 'deny' });
    });
  });

  describe('refusals at load', () => {
    const refused = (spec: string) => () => compile(policy(spec));
    it('a syntax error names the field', () => {
      expect(refused(`  validations:\n  - expression: 'envoy.Allowed(.Response()'\n`)).toThrow(/field spec\.validations\[0\]\.expression/);
    });
    it('a type error names the functions as written, not their bounded forms', () => {
      expect(refused(`  validations:\n  - expression: 'size(1) > 0 ? null : null'\n`)).toThrow(/no matching overload for 'size\(int\)'/);
      expect(refused(`  validations:\n  - expression: '[1].contains(1) ? null : null'\n`)).toThrow(/'list\.contains\(int\)'/);
    });
    it('an unknown function', () => {
      expect(refused(`  validations:\n  - expression: envoy.Permitted().Response()\n`)).toThrow(/spec\.validations\[0\]\.expression: .*Permitted/);
    });
    it('a match condition that is not a boolean', () => {
      expect(refused(`  matchConditions:\n  - name: n\n    expression: '"yes"'\n  validations:\n  - expression: 'null'\n`)).toThrow(/spec\.matchConditions\[0\]\.expression: must be a boolean expression, not string/);
    });
    it('a validation that returns neither a response nor null', () => {
      expect(refused(`  validations:\n  - expression: 'true'\n`)).toThrow(/spec\.validations\[0\]\.expression: must return/);
    });
    it('a variable used before it is defined', () => {
      expect(refused(`  variables:\n  - name: a\n    expression: variables.b\n  - name: b\n    expression: '1'\n  validations:\n  - expression: 'null'\n`)).toThrow(/spec\.variables\[0\]\.expression: variables\.b is not defined/);
    });
    it('a runaway expression (nested comprehensions)', () => {
      expect(refused(`  validations:\n  - expression: 'object.attributes.request.http.headers.all(a, object.attributes.request.http.headers.all(b, object.attributes.request.http.headers.all(c, a != b))) ? null : null'\n`)).toThrow(/estimated cost \d+ is over the bound/);
    });
    it('a list scanned for every entry of another: `in` and split cost the list they scan or build', () => {
      // 40 KB of commas made this take seconds a Check while it was costed as a few nodes.
      expect(refused(`  validations:\n  - expression: 'object.attributes.request.http.headers[?"x-a"].orValue("").split(",").all(s, s in object.attributes.request.http.headers[?"x-b"].orValue("").split(",")) ? null : null'\n`)).toThrow(/estimated cost \d+ is over the bound/);
      expect(refused(`  variables:\n  - name: b\n    expression: 'object.attributes.request.http.headers[?"x-b"].orValue("").split(",")'\n  validations:\n  - expression: 'object.attributes.request.http.headers.exists(k, k in variables.b) ? null : null'\n`)).toThrow(/estimated cost \d+ is over the bound/);
      expect(refused(`  validations:\n  - expression: 'object.attributes.request.http.headers[?"x-a"].orValue("").split(",").all(s, object.attributes.request.http.headers[?"x-b"].orValue("").split(";").size() < 5) ? null : null'\n`)).toThrow(/estimated cost \d+ is over the bound/);
    });
    it('but not `in` on a list literal or a map', () => {
      expect(refused(`  validations:\n  - expression: 'object.attributes.request.http.headers.exists(k, k in ["x-a", "x-b"] || k in {"x-c": 1}) ? null : null'\n`)).not.toThrow();
    });
    it('an invalid RE2 pattern', () => {
      expect(refused(`  validations:\n  - expression: '"a".matches("(?<=a)b") ? null : null'\n`)).toThrow(/not a valid RE2 expression/);
    });
    it('has() on a field of a message, which Chio always sets (kyverno-authz: set or not)', () => {
      for (const path of ['attributes.source.principal', 'attributes.request.http', 'attributes.tls_session.sni', 'attributes']) {
        expect(refused(`  validations:\n  - expression: 'has(object.${path}) ? null : envoy.Denied(403).Response()'\n`)).toThrow(`has(object.${path}) is always true here`);
      }
    });
    it('has() through a variable or a comprehension, whose field cannot be known at load', () => {
      expect(refused(`  variables:\n  - name: src\n    expression: object.attributes.source\n  validations:\n  - expression: 'has(variables.src.principal) ? null : envoy.Denied(403).Response()'\n`)).toThrow(/has\(\) is taken only on a key of one of object's maps/);
      expect(refused(`  validations:\n  - expression: '[object.attributes.source].all(s, has(s.principal)) ? null : envoy.Denied(403).Response()'\n`)).toThrow(/has\(\) is taken only on a key/);
      expect(refused(`  validations:\n  - expression: 'has(object.attributes.nope.x) ? null : envoy.Denied(403).Response()'\n`)).toThrow(/has\(\) is taken only on a key/);
    });
    it('but not has() on a map key', () => {
      for (const path of ['attributes.request.http.headers.foo', 'attributes.source.labels.app', 'attributes.metadata_context.filter_metadata.ns.key', 'attributes.context_extensions.x']) {
        expect(refused(`  validations:\n  - expression: 'has(object.${path}) ? null : envoy.Denied(403).Response()'\n`)).not.toThrow();
      }
    });
    it('a presence test on a field of a message (.?field, [?"field"], "field" in), always true here as has() is', () => {
      // kyverno-authz: source.?principal is none when no principal was sent; Chio's was always set.
      for (const e of ['object.attributes.source.?principal.hasValue()', 'object.attributes.source[?"principal"].hasValue()', '"principal" in object.attributes.source', 'object.attributes.request.?http.hasValue()']) {
        expect(refused(`  validations:\n  - expression: '${e} ? envoy.Allowed().Response() : envoy.Denied(403).Response()'\n`)).toThrow(/is always true: every field of it is always present here/);
      }
    });
    it('a presence test on a field of a message reached through a variable, as always true as written out', () => {
      // variables.src.?principal was object.attributes.source.?principal by another name: allowed every request.
      for (const e of ['variables.src.?principal.hasValue()', 'variables.src[?"principal"].hasValue()', '"principal" in variables.src', 'variables.attrs.source.?principal.hasValue()']) {
        expect(refused(`  variables:\n  - name: attrs\n    expression: object.attributes\n  - name: src\n    expression: variables.attrs.source\n  validations:\n  - expression: '${e} ? envoy.Allowed().Response() : envoy.Denied(403).Response()'\n`)).toThrow(/is always true: every field of it is always present here/);
      }
      expect(refused(`  variables:\n  - name: h\n    expression: object.attributes.request.http.headers\n  validations:\n  - expression: 'variables.h.?foo.hasValue() ? envoy.Allowed().Response() : envoy.Denied(403).Response()'\n`)).not.toThrow();
    });
    it('but not a presence test on a map key', () => {
      for (const e of ['object.attributes.request.http.headers.?foo.hasValue()', 'object.attributes.request.http.headers[?"x-a"].hasValue()', '"x-a" in object.attributes.request.http.headers', 'object.attributes.source.labels.?app.hasValue()']) {
        expect(refused(`  validations:\n  - expression: '${e} ? envoy.Allowed().Response() : envoy.Denied(403).Response()'\n`)).not.toThrow();
      }
    });
    it('an unsupported field', () => {
      expect(refused(`  validations:\n  - expression: 'null'\n  auditAnnotations: []\n`)).toThrow(/spec: .*auditAnnotations/);
    });
  });
});

describe('loadPolicySet with CEL policies', () => {
  const dirWith = (text: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'chio-cel-'));
    writeFileSync(join(dir, 'p.yaml'), text);
    return dir;
  };
  it('ignores another evaluation mode and says so', () => {
    const set = loadPolicySet(dirWith(policy(`  validations:\n  - expression: x\n`).replace('mode: Envoy', 'mode: Kubernetes')), '/nonexistent');
    expect(set.cel).toEqual([]);
    expect(set.ignored[0]).toMatch(/p\.yaml document 1: ValidatingPolicy demo has evaluation mode Kubernetes, not Envoy: ignored/);
  });
  it('refuses Envoy spelt otherwise, which would be ignored: a DENY in it would deny nothing', () => {
    for (const mode of ['envoy', 'ENVOY', '" Envoy"']) {
      const dir = dirWith(policy(`  validations:\n  - expression: x\n`).replace('mode: Envoy', `mode: ${mode}`));
      expect(() => loadPolicySet(dir, '/nonexistent'), mode).toThrow(/p\.yaml document 1: field spec\.evaluation\.mode: ".*" is not a mode \(modes are case-sensitive\): write Envoy/);
    }
  });
  it('names file, document, policy and field in a refusal', () => {
    const dir = dirWith(`${FORCE_AUTHORIZED}---\n${policy(`  validations:\n  - expression: envoy.Nope()\n`, 'broken')}`);
    expect(() => loadPolicySet(dir, '/nonexistent')).toThrow(/p\.yaml document 2: ValidatingPolicy broken: field spec\.validations\[0\]\.expression: envoy\.Nope is not supported by Chio$/);
  });
  it('sorts policies by name, as kyverno-authz runs them', () => {
    const set = loadPolicySet(dirWith(`${policy(`  validations:\n  - expression: 'null'\n`, 'zeta')}---\n${policy(`  validations:\n  - expression: 'null'\n`, 'alpha')}`), '/nonexistent');
    expect(set.cel.map((p) => p.name)).toEqual(['alpha', 'zeta']);
  });
});
