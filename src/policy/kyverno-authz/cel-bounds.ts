/**
 * What one CEL expression may cost, checked when the policy loads (SPEC §4 item 5): a policy
 * over a bound is refused with a message naming the field, never run. cel-js evaluates
 * synchronously and cannot be interrupted, so the work per Check is bounded before it starts:
 *
 *   - size: at most MAX_EXPRESSION_CHARS characters, MAX_AST_NODES nodes, MAX_NESTING_DEPTH deep;
 *   - cost: an estimate in the spirit of Kubernetes' CEL cost estimator — one unit per node,
 *     and a comprehension (all, exists, exists_one, map, filter, sortBy) costs its range plus
 *     COMPREHENSION_RANGE_BOUND (the most entries any list or map of a request can hold) times
 *     its body, so nested comprehensions multiply. An expression over MAX_EXPRESSION_COST, or a
 *     policy whose expressions add up to more than MAX_POLICY_COST, is refused. What is linear
 *     in a list counts COMPREHENSION_RANGE_BOUND too: `split` (the list it builds), `join`,
 *     and `in` unless its right side is a map or a list literal;
 *   - lists: `split` and `+` refuse, as an evaluation error, to build a list of more than
 *     COMPREHENSION_RANGE_BOUND entries (a 96 KiB header holds tens of thousands of commas),
 *     so that no list a policy builds is longer than the estimate assumes; the request's own
 *     lists hold at most MAX_MAP_ENTRIES (kyverno-input, metadata lists included);
 *   - values: what a variable holds is measured after it is evaluated (MAX_VALUE_CHARS,
 *     MAX_VALUE_ENTRIES), since variables can double a string each;
 *   - regex work: `matches`, `find` and `findAll` may scan MAX_MATCHED_CHARS characters in one Check, all its
 *     policies together (a pattern of more than MATCH_INSTRUCTIONS_PER_CHAR instructions counts each
 *     character more than once). The cost estimate counts a call as one node whatever the length of the text,
 *     and re2js scans about 6 MB/s: five header-scanning patterns over 93 KB of headers (under
 *     the 96 KiB bound) took 63 ms a Check. Compiling a pattern that is not a literal of the
 *     policy is charged too (./re2-patterns.ts, MAX_COMPILE_UNITS);
 *   - string work: `contains`, `startsWith`, `endsWith`, `indexOf`, `lastIndexOf`,
 *     `lowerAscii`, `upperAscii`, `trim`, `substring` and `size` of a string may scan
 *     MAX_SCANNED_CHARS characters in one Check, all its policies together (./bounded-strings.ts says
 *     what each call counts). Each counts as one node whatever the length of its text, so a
 *     comprehension over a 1,024-part split with 190 `contains` on a 90 KB header loaded and
 *     scanned 17.5 G characters a Check: 213 ms on ordinary text, 110 s on `a…a` searched
 *     for `aa0` (V8's search of a short pattern compares each position). `+` on strings
 *     and bytes and the conversions between them (`bytes()`, `string()`, `.hex()`, …) count
 *     what they build (chargeBuiltValues), as do `base64.encode` and `base64.decode`
 *     (./encoders.ts); string `==` is not counted;
 *   - `duration(string)` reads at most MAX_DURATION_CHARS characters, and only a string of
 *     duration parts reaches cel-js's parser, cubic otherwise (checkDurations);
 *   - time: a Check whose ValidatingPolicies, both kinds, run past MAX_POLICY_EVALUATION_MS
 *     together (../check-clock.ts) is a limit error (a deny whatever the failurePolicy),
 *     checked after each expression: a backstop, the bounds above are the guard.
 *
 * The run-time budgets (matches, string work, compiling, time) are the Check's, shared by every
 * policy it evaluates (./check-budget.ts): N policies do not get N budgets.
 *
 * `matches` calls are renamed to the RE2 implementation (./re2-patterns.ts) here, and literal
 * patterns (of `find` and `findAll` too) are compiled now so that a bad one is a load error (the others are charged what
 * compiling them costs, MAX_COMPILE_UNITS, when a Check first uses them); `split` calls to splitBounded,
 * and the string calls above to their counting forms (BOUNDED_STRING_CALLS).
 */
import { activeBudget } from './check-budget.js';

export const MAX_EXPRESSION_CHARS = 8 * 1024;
export const MAX_AST_NODES = 2000;
export const MAX_NESTING_DEPTH = 48;
/** The most entries a request's list or map holds (kyverno-input MAX_MAP_ENTRIES). */
export const COMPREHENSION_RANGE_BOUND = 1024;
export const MAX_EXPRESSION_COST = 1_000_000;
export const MAX_POLICY_COST = 4_000_000;
export const MAX_VALUE_CHARS = 256 * 1024;
export const MAX_VALUE_ENTRIES = 16 * 1024;
/**
 * Characters `matches` may scan in one Check, all its CEL policies together, past which it
 * is a limit error: a request's headers at their largest (96 KiB) about two and a half times,
 * some 40 ms of re2js; a request of ordinary size, hundreds of times.
 */
export const MAX_MATCHED_CHARS = 256 * 1024;
/**
 * Characters the string calls of BOUNDED_STRING_CALLS may scan in one Check, all its CEL
 * policies together, past which it is a limit error. Measured here (Node 20, one core): the
 * slowest a charged character goes is about 150 M/s (`contains`/`indexOf` of a 2 to 6
 * character pattern in `a…a`, and case conversion charged for what it reads and writes,
 * `ﬃ`.upperAscii() or `İ`.lowerAscii()), so 8 Mi characters stop within some 55 ms; ordinary
 * text goes at 1 to 60 G/s. And 8 Mi characters are the largest headers (96 KiB) scanned some
 * 85 times in one Check, the longest path (16 KiB) 500 times, or a body as large as a
 * CheckRequest may be (4 MiB) twice.
 */
export const MAX_SCANNED_CHARS = 8 * 1024 * 1024;
/** The longest string `duration()` reads: `-2562047h47m16.854775807s`, the largest, is 25 (see checkDurations). */
export const MAX_DURATION_CHARS = 64;

/**
 * One of Chio's own run-time bounds was met (match budget, time, a value's size): not the
 * policy's doing, so not its failurePolicy's either. Such an evaluation denies even under
 * `Ignore`: otherwise a client could pad its headers until a deny policy erred and was skipped.
 */
export class CelLimitExceeded extends Error {}

/**
 * A presence test (`m.?f`, `m[?"f"]`, `"f" in m`) on a message of `object` (a CelMessage): in
 * kyverno-authz it says whether the field is set, which Chio cannot tell (every field is set
 * here, an unset one at its zero value), so it is not answered. Not the policy's failure either:
 * kyverno-authz would have answered, and skipping the policy under `Ignore` could let through a
 * request it denies, so this denies whatever the failurePolicy, as a limit does.
 */
export class PresenceOnMessage extends CelLimitExceeded {
  constructor(test: string) {
    super(`${test} on a field of a message of object is not supported: every field of it is always present here (an unset one reads as its zero value, "" or 0), so compare with that instead`);
  }
}

/**
 * Instructions of a pattern whose characters count once. RE2 runs a pattern's states side by
 * side over each character, up to one per instruction: `[a-z]{1000}[0-9]` (1,003) took 7 s over
 * 256 Ki characters, 27 µs a character, where the patterns of ordinary policies (under 25)
 * take 0.1 to 1 µs. A larger pattern counts each character instructions / 24 times, so that no
 * pattern scans past some 24 × 256 Ki steps in one Check (about 0.2 s at the slowest).
 */
export const MATCH_INSTRUCTIONS_PER_CHAR = 24;

/**
 * Charge a search (`matches`, `find`, `findAll`) of `chars` characters with a pattern of
 * `instructions`; throws once the Check has scanned too much.
 */
export function chargeMatch(chars: number, instructions: number): void {
  const budget = activeBudget();
  budget.matchedChars += chars * Math.max(1, instructions / MATCH_INSTRUCTIONS_PER_CHAR);
  if (budget.matchedChars > MAX_MATCHED_CHARS) throw MATCH_SPENT;
}

/** One error for every `matches` past the budget, as SCAN_SPENT below. */
const MATCH_SPENT = new CelLimitExceeded(`matches scanned more than ${MAX_MATCHED_CHARS} characters in one Check`);

/** Charge a string call for `chars` characters; throws once the Check has scanned too much. */
export function chargeScan(chars: number): void {
  const budget = activeBudget();
  budget.scannedChars += chars;
  if (budget.scannedChars > MAX_SCANNED_CHARS) throw SCAN_SPENT;
}

/**
 * One error for every call past the budget. cel-js cannot be stopped: `||`, `&&`, `exists` and
 * `all` go on past an error (their answer is then one no value of the failed calls could
 * change, or the error), so each later call fails in turn. For 190 `contains` in an `exists`
 * over 1,024 parts, a new Error each (a stack trace) took 1.3 s; one error 0.5 s, most of it
 * cel-js passing the 194,560 throws along (the same calls answering took 57 ms).
 */
const SCAN_SPENT = new CelLimitExceeded(`string functions scanned more than ${MAX_SCANNED_CHARS} characters in one Check`);

/** The name `matches` calls are renamed to: the RE2 implementation in ./re2-patterns.ts. */
export const RE2_MATCHES = 'matchesRe2';
/** The name `split` calls are renamed to: splitBounded, registered in ./envoy-library.ts. */
export const BOUNDED_SPLIT = 'splitBounded';
/**
 * The names string calls are renamed to: the forms in ./bounded-strings.ts, registered in
 * ./envoy-library.ts, which answer as cel-js's own and charge chargeScan. `size` has the
 * list, map and bytes overloads too (a call's type is not known when it is renamed).
 */
export const BOUNDED_STRING_CALLS: Readonly<Record<string, string>> = {
  contains: 'containsBounded',
  startsWith: 'startsWithBounded',
  endsWith: 'endsWithBounded',
  indexOf: 'indexOfBounded',
  lastIndexOf: 'lastIndexOfBounded',
  lowerAscii: 'lowerAsciiBounded',
  upperAscii: 'upperAsciiBounded',
  trim: 'trimBounded',
  substring: 'substringBounded',
  size: 'sizeBounded',
  join: 'joinBounded',
};

/**
 * CEL's `split` (cel-js semantics: `limit` 0 is [], negative is no limit, n keeps the rest
 * in the n-th part), refusing a list of more than COMPREHENSION_RANGE_BOUND entries: the cost
 * estimate ranges every list over at most that many, and a list the policy goes on to scan
 * (`in`, a comprehension) must not be longer. JavaScript's split stops at its limit, so a
 * refused split does not build the long list either.
 */
export function splitBounded(text: string, separator: string, limit = -1n): string[] {
  const n = Number(limit);
  if (n === 0) return [];
  const head = text.split(separator, n < 0 ? COMPREHENSION_RANGE_BOUND + 1 : Math.min(n, COMPREHENSION_RANGE_BOUND + 1));
  if (head.length > COMPREHENSION_RANGE_BOUND) throw new CelLimitExceeded(`split made a list of more than ${COMPREHENSION_RANGE_BOUND} entries`);
  if (n < 0 || head.length < n) return head;
  // n parts, the last one is the rest of the text after the (n-1)-th separator.
  const restAt = head.slice(0, n - 1).reduce((at, part) => at + part.length + separator.length, 0);
  return [...head.slice(0, n - 1), text.slice(restAt)];
}

/** Builds or reads a list of up to COMPREHENSION_RANGE_BOUND entries in one call. */
const LIST_LINEAR = new Set([BOUNDED_SPLIT, 'split', 'join', BOUNDED_STRING_CALLS.join!]);

/** The macros whose last arguments run once per element; sortBy's key too (./cel-sort-by.ts). */
export const COMPREHENSIONS: ReadonlySet<string> = new Set(['all', 'exists', 'exists_one', 'map', 'filter', 'sortBy']);

export interface AstNode {
  op: string;
  args: unknown;
}

export function isNode(value: unknown): value is AstNode {
  return typeof value === 'object' && value !== null && typeof (value as AstNode).op === 'string';
}

/** Every node directly below `node` (args hold nodes, lists of nodes and [key, value] pairs). */
export function childrenOf(node: AstNode): AstNode[] {
  const out: AstNode[] = [];
  const collect = (value: unknown): void => {
    if (isNode(value)) out.push(value);
    else if (Array.isArray(value)) value.forEach(collect);
  };
  collect(node.args);
  return out;
}

/** `node` and every node below it, parent before children (policies load once: no hot path). */
export function* walkAst(node: AstNode): Generator<AstNode> {
  yield node;
  for (const child of childrenOf(node)) yield* walkAst(child);
}

/** The estimated cost of evaluating `node` once, in nodes visited. */
export function estimateCost(node: AstNode): number {
  if (node.op === 'rcall') {
    const [name, receiver, args] = node.args as [string, AstNode, AstNode[]];
    if (COMPREHENSIONS.has(name) && args.length >= 2) {
      // args: the iteration variable(s), then the predicate or transform (and filter).
      const body = args.slice(1).reduce((sum, a) => sum + estimateCost(a), 1);
      return 1 + estimateCost(receiver) + COMPREHENSION_RANGE_BOUND * body;
    }
    if (LIST_LINEAR.has(name)) return COMPREHENSION_RANGE_BOUND + childrenOf(node).reduce((sum, child) => sum + estimateCost(child), 0);
  }
  if (node.op === 'in') {
    // A map answers `in` at once; a list is scanned; `dyn` (a field of `object`) may be either.
    const [, container] = node.args as [AstNode, AstNode & { checkedType?: { name?: string } }];
    const scan = container.op === 'list' ? childrenOf(container).length : String(container.checkedType?.name ?? '').startsWith('map') ? 1 : COMPREHENSION_RANGE_BOUND;
    return scan + childrenOf(node).reduce((sum, child) => sum + estimateCost(child), 0);
  }
  return childrenOf(node).reduce((sum, child) => sum + estimateCost(child), 1);
}

/**
 * Rename `matches` to its RE2 form, `split` to splitBounded and the string calls of
 * BOUNDED_STRING_CALLS to theirs in place, and hand each literal pattern to `addLiteral`
 * (Re2Patterns.addLiteral, which compiles it); returns the message of the first pattern that
 * is not valid RE2, if any.
 */
export function useRe2Matches(node: AstNode, addLiteral: (pattern: string) => void): string | undefined {
  let problem: string | undefined;
  const visit = (n: AstNode): void => {
    const args = n.args as unknown[];
    if (n.op === 'rcall' && args[0] === 'split') args[0] = BOUNDED_SPLIT;
    // Methods; `size` is the one also called as a function, size(x).
    if ((n.op === 'rcall' || (n.op === 'call' && args[0] === 'size')) && Object.hasOwn(BOUNDED_STRING_CALLS, args[0] as string)) {
      args[0] = BOUNDED_STRING_CALLS[args[0] as string];
    }
    const searches = (n.op === 'rcall' || n.op === 'call') && args[0] === 'matches';
    if (searches || (n.op === 'rcall' && (args[0] === 'find' || args[0] === 'findAll'))) {
      if (searches) args[0] = RE2_MATCHES;
      const params = (n.op === 'rcall' ? args[2] : args[1]) as AstNode[];
      // matches(text, pattern), text.matches(pattern); text.find(pattern), text.findAll(pattern[, limit]).
      const pattern = searches ? params[params.length - 1] : params[0];
      if (isNode(pattern) && pattern.op === 'value' && typeof pattern.args === 'string') {
        try {
          addLiteral(pattern.args);
        } catch (err) {
          problem ??= `pattern ${JSON.stringify(pattern.args)} is not a valid RE2 expression: ${err instanceof Error ? err.message : String(err)}`;
        }
      }
    }
    childrenOf(n).forEach(visit);
  };
  visit(node);
  return problem;
}

/** Undefined when `value` is within the bounds; else what is too large. */
export function oversized(value: unknown): string | undefined {
  let entries = 0;
  let chars = 0;
  const stack = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') chars += v.length;
    else if (v instanceof Uint8Array) chars += v.length;
    else if (Array.isArray(v)) {
      entries += v.length;
      stack.push(...v);
    } else if (v instanceof Map) {
      entries += v.size;
      for (const [k, x] of v) stack.push(k, x);
    } else if (typeof v === 'object' && v !== null && !(v instanceof Date)) {
      const keys = Object.keys(v);
      entries += keys.length;
      for (const k of keys) stack.push(k, (v as Record<string, unknown>)[k]);
    }
    if (chars > MAX_VALUE_CHARS) return `a value of more than ${MAX_VALUE_CHARS} characters`;
    if (entries > MAX_VALUE_ENTRIES) return `a value of more than ${MAX_VALUE_ENTRIES} entries`;
  }
  return undefined;
}
