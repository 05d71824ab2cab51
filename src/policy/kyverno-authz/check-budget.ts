/**
 * What the CEL policies of one Check may spend together at run time (SPEC §4 item 5): the
 * characters `matches` scans (MAX_MATCHED_CHARS), the characters the string calls scan and `+`
 * and the conversions build (MAX_SCANNED_CHARS), the units of the patterns compiled at run time
 * (./re2-patterns.ts MAX_COMPILE_UNITS), and the time on the Check's clock, which the
 * kyverno-json policies evaluated before them have already counted (../check-clock.ts
 * MAX_POLICY_EVALUATION_MS). One budget for the whole Check, not one per policy: the Check path is
 * single-threaded, and a set of N policies each compiling or scanning what the request chose
 * would otherwise let one request hold the event loop N times what the bounds say.
 *
 * The counting calls (cel-bounds.ts chargeMatch, chargeScan; re2-patterns.ts) are registered in
 * the CEL environment and get no context from cel-js, so they charge the active budget: the one
 * the policy being evaluated was handed (useBudget). Evaluation is synchronous and one policy at
 * a time (cel-js cannot yield), so what a policy charges always lands in its own Check's budget.
 */
export class CelCheckBudget {
  matchedChars = 0;
  scannedChars = 0;
  compileUnits = 0;
  /**
   * @param startedAt when the Check's clock started (performance.now()): the time backstop
   *   counts from here. By default now, for CEL policies evaluated alone.
   */
  constructor(readonly startedAt = performance.now()) {}
}

let active = new CelCheckBudget();

/** From now until the next call, every charge goes to `budget`. */
export function useBudget(budget: CelCheckBudget): void {
  active = budget;
}

/** The budget of the Check whose policy is being evaluated. */
export function activeBudget(): CelCheckBudget {
  return active;
}
