/** Building and asking one kyverno-authz ValidatingPolicy (Envoy mode), as the CEL policy tests do. */
import { parse } from 'yaml';
import { celValidatingPolicySchema, compileCelPolicy, type CelPolicyOutcome } from '../../src/policy/kyverno-authz/validating-policy.js';
import { createEnvoyEnvironment } from '../../src/policy/kyverno-authz/envoy-library.js';
import { toCelCheckRequest } from '../../src/policy/kyverno/kyverno-input.js';
import { buildCheckRequest } from '../../src/cli/envoy-request.js';
import { CelCheckBudget, useBudget } from '../../src/policy/kyverno-authz/check-budget.js';

/** A ValidatingPolicy document in Envoy mode with `spec` (YAML lines indented by two) after its mode. */
export const policy = (spec: string, name = 'demo') => `apiVersion: policies.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata:
  name: ${name}
spec:
  evaluation:
    mode: Envoy
${spec}`;

/** Compile one document in an environment of its own, as a policy set of one. */
export const compile = (yaml: string) => compileCelPolicy(celValidatingPolicySchema.parse(parse(yaml)), createEnvoyEnvironment());

/** `object` for a GET of `path` on svc.example.com with `headers`. */
export const request = (headers: Record<string, string> = {}, path = '/api/x') => toCelCheckRequest(buildCheckRequest({ method: 'GET', path, host: 'svc.example.com', headers }));

/** The policy's answer when it gave one, else the whole outcome. */
export const answerOf = (o: CelPolicyOutcome) => (o.kind === 'answer' ? o.answer : o);

/** A CEL expression evaluated alone in a fresh environment of the library, on a budget of its own. */
export function evaluator(): (expression: string) => unknown {
  const env = createEnvoyEnvironment();
  return (expression) => {
    useBudget(new CelCheckBudget());
    return env.evaluate(expression);
  };
}

/**
 * The characters of the string budget a policy answering `expression ? null : deny` charged
 * for a request whose header `x-a` is `header`; throws unless the expression held (no answer).
 */
export function scannedBy(expression: string, header: string): number {
  const p = compile(policy(`  validations:
  - expression: >-
      ${expression} ? null : envoy.Denied(403).Response()
`));
  const budget = new CelCheckBudget();
  const outcome = p.evaluate(request({ 'x-a': header }), budget);
  if (outcome.kind !== 'skip') throw new Error(`expected the expression to hold, got ${JSON.stringify(outcome)}`);
  return budget.scannedChars;
}
