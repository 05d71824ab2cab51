/**
 * How long the ValidatingPolicies of one Check may run, both kinds together (SPEC §4 items 4
 * and 5): the kyverno-json policies' JMESPath expressions (kyverno/jmespath-bounds.ts), then the
 * kyverno-authz CEL policies (kyverno-authz/check-budget.ts). One clock per Check, started when
 * the Policy guard begins on its ValidatingPolicies (decision/guards.ts), not one per policy nor
 * one per kind: the Check path is single-threaded, and N policies, or a set of both kinds, must
 * not hold the event loop N times (or twice) what this bound says. Past it is a limit error,
 * which denies, naming the policy that was running.
 *
 * Generous: a cold start or a GC pause must not turn a good policy's answer into an error. The
 * work bounds of each kind (steps, characters scanned, compile units) are the guard; this is the
 * backstop.
 */
export const MAX_POLICY_EVALUATION_MS = 250;

/** The reason of the limit error, for either kind. */
export const POLICIES_TOOK_TOO_LONG = `the Check's ValidatingPolicies took longer than ${MAX_POLICY_EVALUATION_MS} ms`;
