import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Environment } from '@marcbachmann/cel-js';
import { createEnvoyEnvironment, re2PatternsOf } from '../../../../src/policy/kyverno-authz/envoy-library.js';
import { BOUNDED_STRING_CALLS, useRe2Matches } from '../../../../src/policy/kyverno-authz/cel-bounds.js';
import { CelCheckBudget, useBudget } from '../../../../src/policy/kyverno-authz/check-budget.js';

// cel-js's own functions, and Chio's environment with the calls renamed as a policy's are.
const plain = new Environment();
const chio = createEnvoyEnvironment();
const addLiteral = (pattern: string) => re2PatternsOf(chio).addLiteral(pattern);
for (const env of [plain, chio]) {
  env.registerVariable('s', 'string');
  env.registerVariable('t', 'string');
  env.registerVariable('i', 'int');
  env.registerVariable('j', 'int');
  env.registerVariable('m', 'map<string, dyn>');
  env.registerVariable('l', 'list<dyn>');
}

type Run = (vars: Record<string, unknown>) => unknown;
const compileIn = (env: Environment, source: string, rename: boolean): Run => {
  const program = env.parse(source) as unknown as Run & { ast: any; check(): { valid: boolean } };
  if (rename) useRe2Matches(program.ast, addLiteral);
  expect(program.check().valid).toBe(true);
  return program;
};

/** The value, or the error's code and message as cel-js gives it (without the source excerpt). */
const outcome = (run: Run, vars: Record<string, unknown>) => {
  useBudget(new CelCheckBudget());
  try {
    return { value: run(vars) };
  } catch (err) {
    const e = err as { code?: string; summary?: string; message: string };
    return { code: e.code, error: e.summary ?? e.message };
  }
};

// Characters that make the answers differ: surrogates (whole and lone), case mappings that
// change length (ß, ﬃ, İ), whitespace trim removes, and a few ASCII letters to find.
const unit = fc.constantFrom('a', 'b', 'A', ' ', '\t', '\u00a0', 'é', 'ß', 'ﬃ', 'İ', 'Σ', '😀', '\ud800', '\udc00', '\u2028');
const text = fc.oneof(fc.array(unit, { maxLength: 12 }).map((u) => u.join('')), fc.string({ unit: 'binary', maxLength: 12 }));
// Mostly strings, sometimes another value: join refuses a list that holds one.
const list = fc.array(fc.oneof({ weight: 8, arbitrary: text }, { weight: 1, arbitrary: fc.constantFrom(1n, true, null) }), { maxLength: 5 });
const index = fc.oneof(fc.integer({ min: -2, max: 16 }), fc.constantFrom(-(2 ** 53), 2 ** 53)).map(BigInt);

const EXPRESSIONS = [
  's.contains(t)',
  's.startsWith(t)',
  's.endsWith(t)',
  's.indexOf(t)',
  's.indexOf(t, i)',
  's.lastIndexOf(t)',
  's.lastIndexOf(t, i)',
  's.lowerAscii()',
  's.upperAscii()',
  's.trim()',
  's.substring(i)',
  's.substring(i, j)',
  'size(s)',
  's.size()',
  'l.join()',
  'l.join(s)',
];

describe('the counting string functions', () => {
  it('rename every call of these functions, and only these', () => {
    for (const source of EXPRESSIONS) {
      const program = chio.parse(source) as unknown as { ast: any };
      useRe2Matches(program.ast, addLiteral);
      expect(Object.values(BOUNDED_STRING_CALLS)).toContain(program.ast.args[0]);
    }
  });

  describe.each(EXPRESSIONS)('%s', (source) => {
    const theirs = compileIn(plain, source, false);
    const ours = compileIn(chio, source, true);
    it("answers as cel-js's own, errors included", () => {
      fc.assert(
        fc.property(text, text, index, index, list, (s, t, i, j, l) => {
          const vars = { s, t, i, j, m: {}, l };
          expect(outcome(ours, vars)).toEqual(outcome(theirs, vars));
        }),
        { numRuns: 500 },
      );
    });
  });

  it('size of a list, a map and bytes, now that size is renamed', () => {
    const sizes = 'size([1, 2, 3]) + [1].size() + size({"a": 1}) + {"a": 1, "b": 2}.size() + size(b"ab") + b"abc".size() + size(m) + m.size()';
    const m = Object.assign(Object.create(null), { x: 'y', z: 'w' });
    expect(outcome(compileIn(chio, sizes, true), { m })).toEqual({ value: 16n });
    expect(outcome(compileIn(plain, sizes, false), { m })).toEqual({ value: 16n });
  });
});
