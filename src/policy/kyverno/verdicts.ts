/**
 * How the kyverno-json ValidatingPolicies of one Check decide together (SPEC §4 item 4,
 * docs/policies.md): each policy, in the set's order (namespace, then name), denies, allows or
 * says nothing; the first deny decides, else the first allow.
 *
 * The policies share one budget (./assertion-tree.ts EvaluationBudget): the steps of the Check
 * (DEFAULT_EVALUATION_STEPS) and its clock (../check-clock.ts), which the CEL policies evaluated
 * after them go on counting. A policy that meets either bound cannot be evaluated, which denies
 * naming it (kyverno-json has no failurePolicy: every evaluation error denies), and evaluation
 * stops there: the Check is denied whatever the rest would answer, and with the budget spent
 * their trees would only fail again.
 */
import type { ValidatingVerdicts } from '../istio/authorization-policy.js';
import { MAX_POLICY_EVALUATION_MS } from '../check-clock.js';
import { DEFAULT_EVALUATION_STEPS, type EvaluationBudget } from './assertion-tree.js';
import type { CompiledValidatingPolicy } from './validating-policy.js';

/**
 * Evaluate the policies against `input` (toKyvernoInput's document) on the Check's clock, which
 * started at `startedAt` (performance.now()). Never throws for anything in `input`.
 */
export function evaluateValidatingPolicies(policies: readonly CompiledValidatingPolicy[], input: unknown, startedAt = performance.now()): ValidatingVerdicts {
  const budget: EvaluationBudget = { steps: DEFAULT_EVALUATION_STEPS, deadline: startedAt + MAX_POLICY_EVALUATION_MS };
  const out: ValidatingVerdicts = {};
  for (const policy of policies) {
    const outcome = policy.evaluate(input, budget);
    if (!outcome.matched) continue;
    if (outcome.verdict === 'deny') return { deny: { policy: policy.name, reason: outcome.message, rule: outcome.rule } };
    if (out.allow === undefined) {
      out.allow = policy.name;
      out.allowRule = outcome.rule;
    }
  }
  return out;
}
