/**
 * `kind: ValidatingPolicy` (`apiVersion: json.kyverno.io/v1alpha1`), the kyverno-json policy
 * format that kyverno-envoy-plugin evaluates against each Check (SPEC §4 item 4). The input is
 * the request's AttributeContext in protobuf JSON form (toKyvernoInput, ./kyverno-input.ts).
 *
 * Shape (kyverno/kyverno-json pkg/apis/policy/v1alpha1 and its CRD; unknown fields refused):
 *
 *   apiVersion: json.kyverno.io/v1alpha1
 *   kind: ValidatingPolicy
 *   metadata: { name: test-policy }
 *   spec:
 *     rules:
 *     - name: deny-external-calls-testapp-1     # ≤ 63 characters, unique in the policy
 *       match:   { any: [tree…], all: [tree…] } # optional; at least one non-empty list
 *       exclude: { any: [tree…], all: [tree…] } # optional; same
 *       assert:                                  # at least one non-empty list
 *         all: [{ message: "The GET method is restricted to the /book path.", check: tree }]
 *         any: [{ message?, check: tree }]
 *
 * Trees are assertion trees (./assertion-tree.ts). kyverno-json's `context`, `identifier`,
 * `feedback`, `engine`/`compiler` and templated `{{ }}` messages are not supported: a policy
 * using the first four is refused, a message is used as written.
 *
 * Semantics (kyverno-envoy-plugin pkg/json-engine/engine.go, pkg/matching/match.go):
 *   - match holds when every tree of `all` holds and, if `any` is given, one of its trees
 *     does; a rule applies when match holds (or is absent) and exclude does not hold;
 *   - `assert.any` is checked first: one check must hold; then every check of `assert.all`;
 *   - an applying rule whose asserts hold allows; one whose assert fails denies with the
 *     first failing assertion's message (or a generated one naming the rule);
 *   - an evaluation error (a type mismatch, a failing expression, the budget spent) anywhere
 *     in a rule denies: fail closed, as the plugin turns a rule error into a violation;
 *   - across the rules of a policy: the first denying rule decides; otherwise the first rule
 *     that applied allows; otherwise the policy did not match;
 *   - the budget (steps, and the time of ../check-clock.ts) is the Check's, shared by all its
 *     kyverno-json policies (./verdicts.ts).
 *
 * `report` runs the same rules over any JSON value and keeps every rule's result and every
 * failing assertion, as `kyverno-json scan` does (`chio policy eval --payload`).
 */
import { z } from 'zod';
import { ChioError } from '../../errors/index.js';
import { metadataSchema } from '../metadata.js';
import { compileAssertionTree, DEFAULT_EVALUATION_STEPS, evaluateAssertionTree } from './assertion-tree.js';
import type { AssertionTree, EvaluationBudget, TreeFailure } from './assertion-tree.js';

export { toKyvernoInput } from './kyverno-input.js';
export type { JsonObject, JsonValue } from './kyverno-input.js';
export type { TreeFailure } from './assertion-tree.js';

/** Trees in one `any` or `all` list. */
export const MAX_TREES_PER_LIST = 64;
export const MAX_RULES = 256;
export const MAX_MESSAGE_LENGTH = 1024;

// The CRD types every tree as an object (x-kubernetes-preserve-unknown-fields).
const tree = z.record(z.string(), z.unknown());
const trees = z.array(tree).max(MAX_TREES_PER_LIST);
const nonEmpty = (v: { any?: unknown[] | undefined; all?: unknown[] | undefined }) => (v.any?.length ?? 0) + (v.all?.length ?? 0) > 0;

const matchSchema = z
  .strictObject({ any: trees.optional(), all: trees.optional() })
  .refine(nonEmpty, 'an empty match is not valid: give any or all');
const assertionSchema = z.strictObject({ message: z.string().max(MAX_MESSAGE_LENGTH).optional(), check: tree });
const assertSchema = z
  .strictObject({ any: z.array(assertionSchema).max(MAX_TREES_PER_LIST).optional(), all: z.array(assertionSchema).max(MAX_TREES_PER_LIST).optional() })
  .refine(nonEmpty, 'an empty assert is not valid: give any or all');
const ruleSchema = z.strictObject({
  name: z.string().min(1).max(63),
  match: matchSchema.optional(),
  exclude: matchSchema.optional(),
  assert: assertSchema,
});

export const validatingPolicySchema = z.strictObject({
  apiVersion: z.literal('json.kyverno.io/v1alpha1'),
  kind: z.literal('ValidatingPolicy'),
  metadata: metadataSchema,
  spec: z.strictObject({
    rules: z
      .array(ruleSchema)
      .max(MAX_RULES)
      .superRefine((rules, ctx) => {
        const seen = new Set<string>();
        for (const [i, rule] of rules.entries()) {
          if (seen.has(rule.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `rule name ${rule.name} is used twice` });
          seen.add(rule.name);
        }
      }),
  }),
});

export type ValidatingPolicyDoc = z.output<typeof validatingPolicySchema>;

export type ValidatingOutcome =
  | { matched: false }
  | { matched: true; rule: string; verdict: 'allow' }
  | {
      matched: true;
      rule: string;
      verdict: 'deny';
      /** The assertion's message: the denial reason. */
      message: string;
      /** Where the tree failed or erred: for logs, never for the wire (it names the check). */
      failures?: TreeFailure[];
    };

export interface CompiledValidatingPolicy {
  readonly name: string;
  /**
   * Decide one input (toKyvernoInput's document). Never throws for anything in `input`.
   * `budget`: the Check's, shared with the other policies it evaluates (./verdicts.ts); a
   * budget of its own when this policy is the whole evaluation.
   */
  evaluate(input: unknown, budget?: EvaluationBudget): ValidatingOutcome;
  /** Every rule's result against any JSON value, as `kyverno-json scan` reports it. Never throws. */
  report(payload: unknown): RuleReport[];
}

/**
 * One rule against one payload: `skip` when its match does not hold (or its exclude does),
 * `fail` with each failing assertion, `error` when it could not be evaluated (which a
 * decision treats as a deny).
 */
export interface RuleReport {
  rule: string;
  result: 'pass' | 'fail' | 'skip' | 'error';
  violations: Array<{ message: string; failures: TreeFailure[] }>;
}

interface CompiledMatch {
  any: AssertionTree[];
  all: AssertionTree[];
}

interface CompiledAssertion {
  message: string | undefined;
  check: AssertionTree;
}

interface CompiledRule {
  name: string;
  match: CompiledMatch | undefined;
  exclude: CompiledMatch | undefined;
  any: CompiledAssertion[];
  all: CompiledAssertion[];
}

/**
 * Validate a ValidatingPolicy document and compile its trees. Throws ChioError('CONFIG_INVALID')
 * naming the field (and, inside a tree, the key) for anything malformed.
 */
export function compileValidatingPolicy(doc: unknown): CompiledValidatingPolicy {
  const parsed = validatingPolicySchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ChioError('CONFIG_INVALID', `field ${issue.path.join('.') || '(document)'}: ${issue.message}`);
  }
  const { metadata, spec } = parsed.data;
  const rules = spec.rules.map((rule, i) => compileRule(rule, `ValidatingPolicy ${metadata.name}: spec.rules[${i}]`));
  return {
    name: metadata.name,
    evaluate: (input, budget = { steps: DEFAULT_EVALUATION_STEPS }) => evaluatePolicy(metadata.name, rules, input, budget),
    report: (payload) => reportPolicy(metadata.name, rules, payload),
  };
}

type RuleDoc = ValidatingPolicyDoc['spec']['rules'][number];

function compileRule(rule: RuleDoc, where: string): CompiledRule {
  const match = (m: RuleDoc['match'], at: string): CompiledMatch | undefined =>
    m && {
      any: (m.any ?? []).map((t, i) => compileAssertionTree(t, `${where}.${at}.any[${i}]`)),
      all: (m.all ?? []).map((t, i) => compileAssertionTree(t, `${where}.${at}.all[${i}]`)),
    };
  const assertions = (list: Array<{ message?: string | undefined; check: unknown }> | undefined, at: string) =>
    (list ?? []).map((a, i) => ({ message: a.message, check: compileAssertionTree(a.check, `${where}.assert.${at}[${i}].check`) }));
  return {
    name: rule.name,
    match: match(rule.match, 'match'),
    exclude: match(rule.exclude, 'exclude'),
    any: assertions(rule.assert.any, 'any'),
    all: assertions(rule.assert.all, 'all'),
  };
}

interface Violation {
  message: string;
  failures: TreeFailure[];
}

type RuleResult = { kind: 'skip' } | { kind: 'allow' } | { kind: 'deny'; violations: Violation[] } | { kind: 'error'; violation: Violation };

function evaluatePolicy(policy: string, rules: CompiledRule[], input: unknown, budget: EvaluationBudget): ValidatingOutcome {
  let allowedBy: string | undefined;
  for (const rule of rules) {
    const result = evaluateRule(policy, rule, input, budget, false);
    const denial = result.kind === 'error' ? result.violation : result.kind === 'deny' ? result.violations[0]! : undefined;
    if (denial) return { matched: true, rule: rule.name, verdict: 'deny', message: denial.message, failures: denial.failures };
    if (result.kind === 'allow') allowedBy ??= rule.name;
  }
  return allowedBy === undefined ? { matched: false } : { matched: true, rule: allowedBy, verdict: 'allow' };
}

function reportPolicy(policy: string, rules: CompiledRule[], payload: unknown): RuleReport[] {
  // One budget per payload: a policy's report never costs more than a Check could.
  const budget: EvaluationBudget = { steps: DEFAULT_EVALUATION_STEPS };
  return rules.map((rule): RuleReport => {
    const result = evaluateRule(policy, rule, payload, budget, true);
    switch (result.kind) {
      case 'skip': return { rule: rule.name, result: 'skip', violations: [] };
      case 'allow': return { rule: rule.name, result: 'pass', violations: [] };
      case 'deny': return { rule: rule.name, result: 'fail', violations: result.violations };
      case 'error': return { rule: rule.name, result: 'error', violations: [result.violation] };
    }
  });
}

/**
 * One rule against one input. `everyViolation`: go on past the first failing assertion and
 * report each one (a scan report); a decision needs only the first.
 */
function evaluateRule(policy: string, rule: CompiledRule, input: unknown, budget: EvaluationBudget, everyViolation: boolean): RuleResult {
  const broken = (error: TreeFailure): RuleResult => ({
    kind: 'error',
    violation: { message: `ValidatingPolicy ${policy} rule ${rule.name} could not be evaluated`, failures: [error] },
  });
  if (rule.match) {
    const applies = holds(rule.match, input, budget);
    if (applies !== true) return applies === false ? { kind: 'skip' } : broken(applies);
  }
  if (rule.exclude) {
    const excluded = holds(rule.exclude, input, budget);
    if (excluded !== false) return excluded === true ? { kind: 'skip' } : broken(excluded);
  }
  const violation = (assertion: CompiledAssertion, failures: TreeFailure[]): Violation => ({
    message: assertion.message ?? `denied by ValidatingPolicy ${policy} rule ${rule.name}`,
    failures,
  });
  const violations: Violation[] = [];
  if (rule.any.length > 0) {
    const failed: Violation[] = [];
    let passed = false;
    for (const assertion of rule.any) {
      const verdict = evaluateAssertionTree(assertion.check, input, { budget });
      if (verdict.status === 'error') return broken(verdict.error);
      if (verdict.status === 'pass') {
        passed = true;
        break;
      }
      failed.push(violation(assertion, verdict.failures));
    }
    if (!passed) {
      if (!everyViolation) return { kind: 'deny', violations: failed.slice(0, 1) };
      violations.push(...failed);
    }
  }
  for (const assertion of rule.all) {
    const verdict = evaluateAssertionTree(assertion.check, input, { budget });
    if (verdict.status === 'error') return broken(verdict.error);
    if (verdict.status === 'fail') {
      violations.push(violation(assertion, verdict.failures));
      if (!everyViolation) break;
    }
  }
  return violations.length > 0 ? { kind: 'deny', violations } : { kind: 'allow' };
}

/** true: the match holds; false: it does not; a TreeFailure: it could not be evaluated. */
function holds(match: CompiledMatch, input: unknown, budget: EvaluationBudget): boolean | TreeFailure {
  if (match.any.length > 0) {
    let any = false;
    for (const tree of match.any) {
      const verdict = evaluateAssertionTree(tree, input, { budget });
      if (verdict.status === 'error') return verdict.error;
      if (verdict.status === 'pass') {
        any = true;
        break;
      }
    }
    if (!any) return false;
  }
  for (const tree of match.all) {
    const verdict = evaluateAssertionTree(tree, input, { budget });
    if (verdict.status === 'error') return verdict.error;
    if (verdict.status === 'fail') return false;
  }
  return true;
}
