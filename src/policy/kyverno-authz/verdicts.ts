/**
 * How kyverno-authz CEL policies join Chio's order (SPEC §4 item 5, docs/policies.md): each
 * policy, in name order, answers denied, allowed or nothing.
 *
 *   - denied: a deny with the policy's status, headers and body (the first by name that denies);
 *   - an evaluation error under failurePolicy Fail, or one of Chio's own run-time bounds met
 *     under either (a client must not pad a request until a deny policy errs and is skipped):
 *     a deny (POLICY_UNEVALUABLE, 403);
 *   - allowed: an ALLOW match; the headers every allowing policy adds or removes are applied
 *     when the request is allowed in the end;
 *   - nothing, or any other error under failurePolicy Ignore: no decision.
 *
 * Unlike kyverno-authz, where the first policy by name to answer decides, any deny wins over
 * any allow, as DENY AuthorizationPolicies do: adding a policy never widens what is allowed.
 *
 * The policies share one run-time budget (./check-budget.ts): what the Check may scan, compile
 * and take is spent by the policies in name order, and the one that meets a bound denies,
 * naming itself. Evaluation then stops: the Check is denied whatever the rest would answer (a
 * deny wins, and an allow cannot undo it), and with the budget spent each of their charged
 * calls would only throw again (cel-js carries on past a throw in `exists`, `||`, …: 0.5 s of
 * throws for one comprehension over 1,024 parts).
 */
import type { CelObject } from '../kyverno/kyverno-input.js';
import type { PolicyAnswer } from './policy-answer.js';
import type { CompiledCelPolicy } from './validating-policy.js';
import { CelCheckBudget } from './check-budget.js';

export interface CelDeny {
  policy: string;
  rule: string;
  reason: string;
  /** Absent for an evaluation error (failurePolicy Fail). */
  answer?: Extract<PolicyAnswer, { verdict: 'deny' }>;
}

export interface CelVerdicts {
  deny?: CelDeny;
  allows: Array<{ policy: string; rule: string; answer: Extract<PolicyAnswer, { verdict: 'allow' }> }>;
  /** Policies skipped on an evaluation error (failurePolicy Ignore): `name: field: message`, for the log. */
  ignoredErrors: string[];
  /** The evaluation error behind a Fail deny, for the log (never the wire: it may quote the request). */
  error?: string;
}

/**
 * Evaluate the CEL policies (in name order, as the policy set holds them) against `object`
 * (toCelCheckRequest's), on the Check's clock, which started at `startedAt` (performance.now():
 * ../check-clock.ts). Never throws.
 */
export function evaluateCelPolicies(policies: readonly CompiledCelPolicy[], object: CelObject, startedAt = performance.now()): CelVerdicts {
  const out: CelVerdicts = { allows: [], ignoredErrors: [] };
  const budget = new CelCheckBudget(startedAt);
  for (const policy of policies) {
    const outcome = policy.evaluate(object, budget);
    if (outcome.kind === 'skip') continue;
    if (outcome.kind === 'error') {
      const detail = `${policy.name}: ${outcome.rule}: ${outcome.message}`;
      if (outcome.failurePolicy === 'Ignore' && !outcome.limit) {
        out.ignoredErrors.push(detail);
        continue;
      }
      out.deny ??= { policy: policy.name, rule: outcome.rule, reason: `ValidatingPolicy ${policy.name} could not be evaluated` };
      out.error ??= detail;
      if (outcome.limit) break;
      continue;
    }
    const { answer, rule } = outcome;
    if (answer.verdict === 'deny') out.deny ??= { policy: policy.name, rule, reason: answer.message ?? `denied by ValidatingPolicy ${policy.name}`, answer };
    else out.allows.push({ policy: policy.name, rule, answer });
  }
  return out;
}
