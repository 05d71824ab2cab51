/**
 * What one CEL expression may cost, checked when the policy loads (SPEC §4 item 5): a policy
 * over a bound is refused with a message naming the field, never run. cel-js evaluates
 * synchronously and cannot be interrupted, so the work per Check is bounded before it starts:
 *
 *   - size: at most MAX_EXPRESSION_CHARS characters, MAX_AST_NODES nodes, MAX_NESTING_DEPTH deep;
 *   - cost: an estimate in the spirit of Kubernetes' CEL cost estimator — one unit per node,
 *     and a comprehension (all, exists, exists_one, map, filter) costs its range plus
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
 *   - regex work: `matches` may scan MAX_MATCHED_CHARS characters in one evaluation of a
 *     policy. The cost estimate counts a call as one node whatever the length of the text,
 *     and re2js scans about 6 MB/s: five header-scanning patterns over 93 KB of headers (under
 *     the 96 KiB bound) took 63 ms a Check;
 *   - string work: `contains`, `startsWith`, `endsWith`, `indexOf`, `lastIndexOf`,
 *     `lowerAscii`, `upperAscii`, `trim`, `substring` and `size` of a string may scan
 *     MAX_SCANNED_CHARS characters in one evaluation of a policy (./bounded-strings.ts says
 *     what each call counts). Each counts as one node whatever the length of its text, so a
 *     comprehension over a 1,024-part split with 190 `contains` on a 90 KB header loaded and
 *     scanned 17.5 G characters a Check: 213 ms on ordinary text, 110 s on `a…a` searched
 *     for `aa0` (V8's search of a short pattern compares each position). `+` on strings
 *     and bytes and the conversions between them (`bytes()`, `string()`, `.hex()`, …) count
 *     what they build (chargeBuiltValues); string `==` is not counted;
 *   - `duration(string)` reads at most MAX_DURATION_CHARS characters, and only a string of
 *     duration parts reaches cel-js's parser, cubic otherwise (checkDurations);
 *   - time: evaluating a whole policy past MAX_EVALUATION_MS is an evaluation error (its
 *     failurePolicy applies), checked after each expression: a backstop, the bounds above are the guard.
 *
 * `matches` calls are renamed to the RE2 implementation (./envoy-library.ts) here, and literal
 * patterns are compiled now so that a bad one is a load error; `split` calls to splitBounded,
 * and the string calls above to their counting forms (BOUNDED_STRING_CALLS).
 */
import { EvaluationError, Optional } from '@marcbachmann/cel-js';
import { RE2JS } from 're2js';
import { CelMessage } from '../kyverno/kyverno-input.js';

export const MAX_EXPRESSION_CHARS = 8 * 1024;
export const MAX_AST_NODES = 2000;
export const MAX_NESTING_DEPTH = 48;
/** The most entries a request's list or map holds (kyverno-input MAX_MAP_ENTRIES). */
export const COMPREHENSION_RANGE_BOUND = 1024;
export const MAX_EXPRESSION_COST = 1_000_000;
export const MAX_POLICY_COST = 4_000_000;
export const MAX_VALUE_CHARS = 256 * 1024;
export const MAX_VALUE_ENTRIES = 16 * 1024;
/** Generous: a cold start or a GC pause must not turn a good policy's answer into an error. */
export const MAX_EVALUATION_MS = 250;
/**
 * Characters `matches` may scan in one evaluation of one policy, past which it is an
 * evaluation error: a request's headers at their largest (96 KiB) about two and a half times,
 * some 40 ms of re2js; a request of ordinary size, hundreds of times.
 */
export const MAX_MATCHED_CHARS = 256 * 1024;
/**
 * Characters the string calls of BOUNDED_STRING_CALLS may scan in one evaluation of one
 * policy, past which it is an evaluation error. Measured here (Node 20, one core): the
 * slowest a charged character goes is about 150 M/s (`contains`/`indexOf` of a 2 to 6
 * character pattern in `a…a`, and case conversion charged for what it reads and writes,
 * `ﬃ`.upperAscii() or `İ`.lowerAscii()), so 8 Mi characters stop within some 55 ms; ordinary
 * text goes at 1 to 60 G/s. And 8 Mi characters are the largest headers (96 KiB) scanned some
 * 85 times in one evaluation, the longest path (16 KiB) 500 times, or a body as large as a
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

// Evaluation is synchronous and one policy at a time (cel-js cannot yield), so one count each serves.
let matchedChars = 0;
let scannedChars = 0;

/**
 * A policy's evaluation begins: its `matches` calls may scan MAX_MATCHED_CHARS again, its
 * string calls MAX_SCANNED_CHARS.
 */
export function startMatchBudget(): void {
  matchedChars = 0;
  scannedChars = 0;
}

/** Charge a `matches` call over `text`; throws once the evaluation has scanned too much. */
export function chargeMatch(text: string): void {
  matchedChars += text.length;
  if (matchedChars > MAX_MATCHED_CHARS) throw MATCH_SPENT;
}

/** One error for every `matches` past the budget, as SCAN_SPENT below. */
const MATCH_SPENT = new CelLimitExceeded(`matches scanned more than ${MAX_MATCHED_CHARS} characters in one evaluation`);

/** Charge a string call for `chars` characters; throws once the evaluation has scanned too much. */
export function chargeScan(chars: number): void {
  scannedChars += chars;
  if (scannedChars > MAX_SCANNED_CHARS) throw SCAN_SPENT;
}

/**
 * One error for every call past the budget. cel-js cannot be stopped: `||`, `&&`, `exists` and
 * `all` go on past an error (their answer is then one no value of the failed calls could
 * change, or the error), so each later call fails in turn. For 190 `contains` in an `exists`
 * over 1,024 parts, a new Error each (a stack trace) took 1.3 s; one error 0.5 s, most of it
 * cel-js passing the 194,560 throws along (the same calls answering took 57 ms).
 */
const SCAN_SPENT = new CelLimitExceeded(`string functions scanned more than ${MAX_SCANNED_CHARS} characters in one evaluation`);

/** The name `matches` calls are renamed to: the RE2 implementation in ./envoy-library.ts. */
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

const COMPREHENSIONS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);

export interface AstNode {
  op: string;
  args: unknown;
}

function isNode(value: unknown): value is AstNode {
  return typeof value === 'object' && value !== null && typeof (value as AstNode).op === 'string';
}

/** Every node directly below `node` (args hold nodes, lists of nodes and [key, value] pairs). */
function childrenOf(node: AstNode): AstNode[] {
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
 * BOUNDED_STRING_CALLS to theirs in place, and compile literal patterns; returns the message
 * of the first pattern that is not valid RE2, if any.
 */
export function useRe2Matches(node: AstNode): string | undefined {
  let problem: string | undefined;
  const visit = (n: AstNode): void => {
    const args = n.args as unknown[];
    if (n.op === 'rcall' && args[0] === 'split') args[0] = BOUNDED_SPLIT;
    // Methods; `size` is the one also called as a function, size(x).
    if ((n.op === 'rcall' || (n.op === 'call' && args[0] === 'size')) && Object.hasOwn(BOUNDED_STRING_CALLS, args[0] as string)) {
      args[0] = BOUNDED_STRING_CALLS[args[0] as string];
    }
    if ((n.op === 'rcall' || n.op === 'call') && args[0] === 'matches') {
      args[0] = RE2_MATCHES;
      const params = (n.op === 'rcall' ? args[2] : args[1]) as AstNode[];
      const pattern = params[params.length - 1];
      if (isNode(pattern) && pattern.op === 'value' && typeof pattern.args === 'string') {
        try {
          RE2JS.compile(pattern.args);
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

/** The size `+` builds from a string or bytes operand: 0 for what is not one. */
const builtChars = (v: unknown): number => (typeof v === 'string' || v instanceof Uint8Array ? v.length : 0);

/**
 * After the expression is type-checked: charge each `+` on strings or bytes for what it builds
 * (chargeScan), and on lists as chargeListAppend says, before it builds it; and each
 * conversion of CONVERSIONS for what it reads and builds. cel-js does not let an environment replace an operator,
 * so the handler the check chose for each `+` node (`ast.handle`, called with both operands)
 * is wrapped. V8 joins strings lazily, but what then reads the string whole (`<`, a map key,
 * `bytes()`) copies it: 300 copies of a 90 KB header in one expression are 27 MB, and compared
 * in a comprehension over 1,024 parts they took 94 s a Check, none of it counted. Bytes are
 * copied at once, and a chain of `+` copies its left side again at each step.
 */
export function chargeBuiltValues(ast: AstNode): void {
  for (const node of walkAst(ast)) {
    const n = node as AstNode & { handle?: (...args: unknown[]) => unknown };
    if (typeof n.handle !== 'function') continue;
    const handle = n.handle;
    const converts = n.op === 'call' || n.op === 'rcall' ? CONVERSIONS[`${n.op}:${(n.args as unknown[])[0]}`] : undefined;
    if (converts) {
      // A call's handler takes its arguments (the receiver first) as a list, then the rest.
      n.handle = (args: unknown, ...rest: unknown[]) => {
        const read = (args as unknown[]).reduce<number>((sum, a) => sum + converts(a), 0);
        if (read === 0) return handle(args, ...rest);
        chargeScan(read);
        const built = handle(args, ...rest);
        chargeScan(builtChars(built));
        return built;
      };
      continue;
    }
    if (n.op !== '+') continue;
    n.handle = (left: unknown, right: unknown, ...rest: unknown[]) => {
      if (Array.isArray(left) && Array.isArray(right)) chargeListAppend(left.length + right.length);
      else chargeScan(builtChars(left) + builtChars(right));
      return handle(left, right, ...rest);
    };
  }
}

const bytesRead = (v: unknown): number => (v instanceof Uint8Array ? v.length : 0);
/**
 * The conversions between strings and bytes, by `op:name`, and the characters or bytes each
 * converts of an argument: what it reads, and then about what it builds (charged after, by
 * its size). Each is one node whatever its text: 40 `bytes(h).hex()` of a 90 KB header for
 * each of 1,024 parts took 82 s a Check. `string(string)` and `bytes(bytes)` convert nothing.
 */
const CONVERSIONS: Readonly<Record<string, (arg: unknown) => number>> = {
  'call:bytes': (v) => (typeof v === 'string' ? v.length : 0),
  'call:string': bytesRead,
  'rcall:string': bytesRead,
  'rcall:hex': bytesRead,
  'rcall:base64': bytesRead,
  'rcall:json': bytesRead,
};

/**
 * A list `+` of `entries` entries: refused past COMPREHENSION_RANGE_BOUND, as split is (the
 * cost estimate ranges every list over at most that many; 16 copies of a 1,024-part split in a
 * variable ranged 16 times as long), and each entry it copies charged to the string budget
 * (100 copies of such a split in one expression copied 5 M entries, 3.5 s a Check).
 */
function chargeListAppend(entries: number): void {
  if (entries > COMPREHENSION_RANGE_BOUND) throw LIST_TOO_LONG;
  chargeScan(entries);
}

const LIST_TOO_LONG = new CelLimitExceeded(`+ made a list of more than ${COMPREHENSION_RANGE_BOUND} entries`);

/** cel-js's duration units, in the order its pattern tries them. */
const DURATION_UNITS = ['ns', 'us', 'µs', 'ms', 's', 'm', 'h'];
const DURATION_TOO_LONG = new CelLimitExceeded(`duration() of more than ${MAX_DURATION_CHARS} characters`);
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;

/**
 * After the expression is type-checked: `duration(string)` reads at most MAX_DURATION_CHARS
 * characters, and a string that is no duration is refused before cel-js parses it. cel-js finds
 * each part with `/(\d*\.?\d*)(ns|us|µs|ms|s|m|h)/`, unanchored: on digits with no unit it
 * tries every split of every run from every position, cubic (2,000 digits took 4 s; a 90 KB
 * header, days), so an ordinary policy reading a duration from a header could be stalled by
 * one request. This answers as cel-js does (same error), in linear time: a part is the longest
 * run of digits, a dot and digits, then a unit; only a string of such parts reaches cel-js,
 * whose pattern then matches each part at once. Past the bound it is a limit error, so that a
 * padded header denies rather than skipping a policy under Ignore.
 */
export function checkDurations(ast: AstNode): void {
  for (const node of walkAst(ast)) {
    const n = node as AstNode & { handle?: (...args: unknown[]) => unknown };
    if (n.op !== 'call' || (n.args as unknown[])[0] !== 'duration' || typeof n.handle !== 'function') continue;
    const handle = n.handle;
    n.handle = (args: unknown, ...rest: unknown[]) => {
      const [text] = args as unknown[];
      if (typeof text === 'string') {
        if (text.length > MAX_DURATION_CHARS) throw DURATION_TOO_LONG;
        const parts = text[0] === '-' || text[0] === '+' ? text.slice(1) : text;
        for (let i = 0; i < parts.length; ) {
          let j = i;
          while (isDigit(parts.charCodeAt(j))) j++;
          if (parts[j] === '.') j++;
          while (isDigit(parts.charCodeAt(j))) j++;
          const unit = DURATION_UNITS.find((u) => parts.startsWith(u, j));
          if (unit === undefined) throw new EvaluationError({ code: 'invalid_duration', message: `Invalid duration string: ${parts.slice(i)}` } as never);
          i = j + unit.length;
        }
      }
      return handle(args, ...rest);
    };
  }
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

/**
 * Make the presence tests of a type-checked expression fail at run time on a message of
 * `object` (PresenceOnMessage), wherever the message comes from: a variable, a comprehension's
 * variable, a list, a ternary. The load-time refusals (validating-policy.ts unsupportedHas) name
 * the paths they can see; this is what holds behind them.
 *
 *   - `m.?f`, `m[?"f"]` (also on an optional holding a message): cel-js reads a registered type's
 *     field for these as it does for `m.f`, with no hook to tell them apart, so the handler its
 *     type check put on each such node (`handle`) is wrapped;
 *   - a comprehension over a message (`m.exists(k, k == "f")`, its field names): wrapped too; an
 *     ordinary evaluation error, as in kyverno-authz (a message is no range);
 *   - `"f" in m`: no overload but the one envoy-library.ts registers, which throws;
 *   - `has(m.f)`: refused at load unless on a key of one of object's maps, written out from
 *     `object`, which is always a map here.
 *
 * Returns false when a node has no handler to wrap (cel-js's internals changed): the caller
 * refuses the expression rather than run it unguarded.
 */
export function guardMessagePresence(ast: AstNode): boolean {
  const seen = new Set<AstNode>();
  const stack: AstNode[] = [ast];
  let guarded = true;
  while (stack.length > 0) {
    const n = stack.pop()! as AstNode & { handle?: Handle; meta?: { alternate?: AstNode } };
    if (seen.has(n)) continue;
    seen.add(n);
    if (n.op === '.?' || n.op === '[?]') guarded = wrapHandle(n, (left) => {
      const target = left instanceof Optional ? (left.hasValue() ? left.value() : undefined) : left;
      if (target instanceof CelMessage) throw new PresenceOnMessage(n.op === '.?' ? '.?field' : '[?"field"]');
    }) && guarded;
    if (n.op === 'comprehension') guarded = wrapHandle(n, (range) => {
      if (range instanceof CelMessage) throw new Error('a message of object is not a range: only lists and maps are');
    }) && guarded;
    // Macros (all, exists, map, …) keep their comprehension in meta.alternate.
    const alternate = n.meta?.alternate;
    if (isNode(alternate)) stack.push(alternate);
    const args = n.args;
    if (isNode(args)) stack.push(args);
    else if (Array.isArray(args)) stack.push(...childrenOf(n));
    else if (typeof args === 'object' && args !== null) for (const v of Object.values(args)) if (isNode(v)) stack.push(v);
  }
  return guarded;
}

type Handle = (first: unknown, ...rest: unknown[]) => unknown;

/** Run `check` on the first operand of `n` before its handler; false when `n` has none. */
function wrapHandle(n: AstNode & { handle?: Handle }, check: (first: unknown) => void): boolean {
  const handle = n.handle;
  if (typeof handle !== 'function') return false;
  n.handle = (first, ...rest) => {
    check(first);
    return handle(first, ...rest);
  };
  return true;
}
