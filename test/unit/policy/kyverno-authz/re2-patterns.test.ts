import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RE2JS } from 're2js';
import { evaluateCelPolicies } from '../../../../src/policy/kyverno-authz/verdicts.js';
import { MAX_COMPILE_UNITS, compileUnits } from '../../../../src/policy/kyverno-authz/re2-patterns.js';
import { answerOf, compile, policy, request } from '../../../support/cel-policies.js';


const h = 'object.attributes.request.http.headers';
const path = 'object.attributes.request.http.path';
const spent = { kind: 'error', message: `matches compiled patterns costing more than ${MAX_COMPILE_UNITS} units in one Check`, limit: true };

describe('matches with a pattern that is not a literal of the policy', () => {
  // The clock stands still: the 250 ms evaluation backstop, a limit error too, must not be
  // what stops these evaluations; the compile budget is. The spy only watches RE2JS.compile.
  let compiled: string[];
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['performance'] });
    compiled = [];
    const compileRe2 = RE2JS.compile.bind(RE2JS);
    vi.spyOn(RE2JS, 'compile').mockImplementation((pattern: string, flags?: number) => {
      compiled.push(pattern);
      return compileRe2(pattern, flags);
    });
  });
  afterEach(() => {
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  describe('when the pattern comes from a request header', () => {
    const fromHeader = compile(policy(`  failurePolicy: Ignore
  validations:
  - expression: '${path}.matches(${h}[?"x-pattern"].orValue("^$")) ? envoy.Denied(403).Response() : null'
`, 'from-header'));
    it('refuses a pattern of 100,000 RE2 instructions before compiling it, and denies under Ignore', () => {
      // 700 characters: some 950 ms of re2js compiling, held on the event loop.
      const pathological = 'a{1000}'.repeat(100);
      const outcome = fromHeader.evaluate(request({ 'x-pattern': pathological }));
      expect(outcome).toMatchObject({ ...spent, rule: 'spec.validations[0].expression', failurePolicy: 'Ignore' });
      expect(compiled).not.toContain(pathological);
      const allowAll = compile(policy(`  validations:\n  - expression: envoy.Allowed().Response()\n`, 'z-allow-all'));
      expect(evaluateCelPolicies([fromHeader, allowAll], request({ 'x-pattern': pathological })).deny).toMatchObject({ policy: 'from-header' });
    });
    it('answers an ordinary pattern from the header', () => {
      expect(answerOf(fromHeader.evaluate(request({ 'x-pattern': '^/api/v[0-9]+/x$' }, '/api/v2/x')))).toMatchObject({ verdict: 'deny', status: 403 });
      expect(fromHeader.evaluate(request({ 'x-pattern': '^/web' }))).toEqual({ kind: 'skip' });
    });
  });

  it('charges a comprehension compiling a different pattern for each of 1,000 headers', () => {
    const each = compile(policy(`  validations:\n  - expression: '${h}.exists(k, k.startsWith("x-p") && ${path}.matches(${h}[k])) ? envoy.Denied(403).Response() : null'\n`));
    const headers = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`x-p${i}`, `^/q${i}$`]));
    expect(each.evaluate(request(headers))).toMatchObject(spent);
    expect(compiled.length).toBeLessThan(1000);
  });

  it('charges a pattern whether or not an earlier Check compiled it: the decision does not depend on a cache', () => {
    // 20 patterns of some 1,000 instructions each, fewer than any cache holds.
    const big = compile(policy(`  validations:\n  - expression: '${h}.exists(k, k.startsWith("x-p") && ${path}.matches(${h}[k])) ? envoy.Denied(403).Response() : null'\n`));
    const headers = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`x-p${i}`, `^[a-z]{1000}${i}`]));
    for (let i = 0; i < 3; i++) expect(big.evaluate(request(headers))).toMatchObject(spent);
  });

  it('charges a pattern once in one Check: patterns from variables tried on every header, a list of prefixes', () => {
    const patterns = compile(policy(`  variables:
  - name: script
    expression: '"(?i)<script"'
  - name: sql
    expression: '"(?i)(union|select)" + ".*from"'
  validations:
  - expression: '${h}.exists(k, ${h}[k].matches(variables.script) || ${h}[k].matches(variables.sql)) || ["^/a", "^/b"].exists(p, ${path}.matches(p)) ? envoy.Denied(403).Response() : null'
`));
    const headers = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`x-h${i}`, `value ${i}`]));
    expect(patterns.evaluate(request(headers, '/web'))).toEqual({ kind: 'skip' });
    expect(answerOf(patterns.evaluate(request({ ...headers, 'x-q': '<SCRIPT>' }, '/web')))).toMatchObject({ verdict: 'deny' });
    expect(answerOf(patterns.evaluate(request({}, '/b/c')))).toMatchObject({ verdict: 'deny' });
  });

  it('does not charge literal patterns, compiled when the policy loads', () => {
    const literals = Array.from({ length: 20 }, (_, i) => `${h}[k].matches("^[a-z]{1000}${19 - i}")`).join(' || ');
    const p = compile(policy(`  validations:\n  - expression: '${h}.exists(k, ${literals}) ? envoy.Denied(403).Response() : null'\n`));
    compiled.length = 0;
    expect(p.evaluate(request({ 'x-a': 'b' }))).toEqual({ kind: 'skip' });
    expect(answerOf(p.evaluate(request({ 'x-a': `${'b'.repeat(1000)}19` })))).toMatchObject({ verdict: 'deny' });
    expect(compiled).toEqual([]);
  });
});

describe('compileUnits', () => {
  // Patterns as hostile clients write them, and ordinary ones: the estimate, made from the
  // text alone, must never be below the instructions re2js compiles the pattern to.
  const corpus = [
    'a', '^/api/v[0-9]+/users/[a-z0-9-]{1,64}$', '(?i)(union|select).*from', 'a{1000}', 'a{1000}'.repeat(10),
    '(a{10}){100}', '((a{10}){10}){10}', '(?:a|bc|def){1000}', 'a{0,1000}', 'a{2,}', '(a|b){1000}', '(?:a?){0,1000}',
    '[]a]{1000}', '[^]a]{999}', '[[:alpha:]]{1000}', '\\pL{1000}', '\\p{Greek}{1000}', '\\x{41}{1000}', '\\Qa{\\E{1000}',
    '(?P<n>ab){500}', '(?<n>ab){500}', '(?i:ab){500}', '(?i)k{1000}', '\\({1000}', '[(]{1000}', '(?:(?:a|b)*c){300}',
    'x'.repeat(5000), '(?s).{1000}', '\\d{1000}\\w{1000}', '(?:ab|cd|ef|gh){100}', '(?:\\Qa|b\\E){500}',
  ];
  const named = corpus.map((p) => [p.length > 40 ? `${p.slice(0, 40)}… (${p.length} characters)` : p, p]);
  it.each(named)('is at least the instructions of %s', (_, pattern) => {
    expect(compileUnits(pattern)).toBeGreaterThanOrEqual(RE2JS.compile(pattern).programSize() + pattern.length);
  });
  it('is at least the instructions of random patterns', () => {
    const atoms = ['a', 'b', '.', '[a-c]', '[^x]', '\\d', '\\pL', '(?i)', '\\x{42}', '\\Q+\\E', '[]]'];
    const ops = ['*', '+', '?', '{2}', '{3,}', '{2,5}', '{10}', '|'];
    let seed = 7;
    const next = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let round = 0; round < 2000; round++) {
      let pattern = '';
      for (let i = 0, n = 1 + next(12); i < n; i++) {
        const r = next(10);
        if (r < 5) pattern += atoms[next(atoms.length)];
        else if (r < 8) pattern += ops[next(ops.length)];
        else pattern += r === 8 ? '(' : ')';
      }
      let size: number;
      try {
        size = RE2JS.compile(pattern).programSize();
      } catch {
        continue;
      }
      expect(compileUnits(pattern), pattern).toBeGreaterThanOrEqual(size + pattern.length);
    }
  });
  it('counts a case-folded range of non-ASCII characters as the thousands of characters re2js folds one by one', () => {
    // (?i)[B-\x{1e942}] took 6 ms to parse: each code point of the range is folded.
    expect(compileUnits('(?i)[B-\\x{1e942}]')).toBeGreaterThan(MAX_COMPILE_UNITS / 4);
    expect(compileUnits('(?i)[a-z0-9]')).toBeLessThan(100);
  });
});
