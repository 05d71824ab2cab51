/**
 * The bounds that run inside cel-js's evaluation of a type-checked expression (the cost
 * estimate and the counting calls are in ./cel-bounds.ts). cel-js lets an environment replace
 * no operator and gives no hook for `.?`, so each is the handler cel-js's type check put on a
 * node (`handle`), wrapped: `+` and the string/bytes conversions charged for what they build
 * (chargeBuiltValues), `duration()` bounded before cel-js parses it (checkDurations), presence
 * tests on a message refused (guardMessagePresence), NaN refused by `<` and the other
 * orderings (refuseNaNOrdering), `==`, `!=` and `in` on lists and maps comparing numbers by
 * value (compareNumbersByValue). They depend on cel-js 8 keeping `handle`;
 * the tests of each would catch an upgrade that does not.
 */
import { EvaluationError, Optional } from '@marcbachmann/cel-js';
import { CelMessage } from '../kyverno/kyverno-input.js';
import { celEquals, listIncludes, type OtherEquality } from './cel-equality.js';
import {
  CelLimitExceeded, COMPREHENSION_RANGE_BOUND, MAX_DURATION_CHARS, PresenceOnMessage,
  chargeScan, childrenOf, isNode, walkAst, type AstNode,
} from './cel-bounds.js';

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
    wrapHandle(n, (left, right) => {
      if (Array.isArray(left) && Array.isArray(right)) chargeListAppend(left.length + right.length);
      else chargeScan(builtChars(left) + builtChars(right));
    });
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
    if (node.op !== 'call' || (node.args as unknown[])[0] !== 'duration') continue;
    // A call's handler takes its arguments as a list.
    wrapHandle(node, (args) => {
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
    });
  }
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
  let guarded = true;
  for (const n of evaluatedNodes(ast)) {
    if (n.op === '.?' || n.op === '[?]') guarded = wrapHandle(n, (left) => {
      const target = left instanceof Optional ? (left.hasValue() ? left.value() : undefined) : left;
      if (target instanceof CelMessage) throw new PresenceOnMessage(n.op === '.?' ? '.?field' : '[?"field"]');
    }) && guarded;
    if (n.op === 'comprehension') guarded = wrapHandle(n, (range) => {
      if (range instanceof CelMessage) throw new Error('a message of object is not a range: only lists and maps are');
    }) && guarded;
  }
  return guarded;
}

const ORDERINGS = new Set(['<', '<=', '>', '>=']);
const isNaNValue = (v: unknown): boolean => typeof v === 'number' && Number.isNaN(v);

/**
 * Make an ordering (`<`, `<=`, `>`, `>=`) with a NaN operand an evaluation error, as in cel-go
 * (common/types, each number's Compare: "NaN values cannot be ordered"), where cel-js answers
 * false. A double is NaN from `double("NaN")` of a header as easily as from `0.0/0.0`, and false
 * would take the other branch: `score < 0.5 ? deny : allow` would allow; as an error, the
 * policy's failurePolicy applies. Across int, uint and double cel-js already orders by exact
 * value, as cel-go does with CrossTypeNumericComparisons. Returns false when a node has no
 * handler to wrap (cel-js's internals changed): the caller refuses the expression.
 */
export function refuseNaNOrdering(ast: AstNode): boolean {
  let guarded = true;
  for (const n of evaluatedNodes(ast)) {
    if (typeof n.op !== 'string' || !ORDERINGS.has(n.op)) continue;
    guarded = wrapHandle(n, (left, right) => {
      if (isNaNValue(left) || isNaNValue(right)) throw new Error('NaN values cannot be ordered');
    }) && guarded;
  }
  return guarded;
}

const EQUALITIES = new Set(['==', '!=', 'in']);
const isAggregate = (v: unknown): boolean => {
  if (typeof v !== 'object' || v === null || v instanceof CelMessage) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return Array.isArray(v) || v instanceof Map || proto === null || proto === Object.prototype;
};

/** What cel-js's run time gives each handler after its operands: its registry and the type of a value. */
interface Evaluator {
  debugType(v: unknown): unknown;
  registry: { findBinaryOverload(op: string, left: unknown, right: unknown): { handler: Handle } | undefined };
}

/**
 * Make `==`, `!=` and `in` on a list or a map compare numbers by value across int, uint and
 * double, at any depth, as cel-spec's equality does (./cel-equality.ts): cel-js equates no uint
 * with an int or a double inside a list or a map, so `dyn(22) in [22u]` was false, and so was
 * `port_value in [22, 23]` had it not been refused at load. Comparisons of two scalars are left
 * to cel-js, which already makes them so. Values cel-equality does not know (a duration, an
 * optional) are compared as cel-js compares them, by the `==` overload of their type. Returns
 * false when a node has no handler to wrap (cel-js's internals changed): the caller refuses the
 * expression.
 */
export function compareNumbersByValue(ast: AstNode): boolean {
  let guarded = true;
  for (const n of evaluatedNodes(ast)) {
    if (typeof n.op !== 'string' || !EQUALITIES.has(n.op)) continue;
    const handle = n.handle;
    const op = n.op;
    if (typeof handle !== 'function') {
      guarded = false;
      continue;
    }
    // Scalars and `in` on a map (most comparisons) go to cel-js as they came, with nothing made for them.
    n.handle = (left, right, node, ev) => {
      if (op === 'in') return Array.isArray(right) ? listIncludes(right, left, byOverload(node, ev as Evaluator)) : handle(left, right, node, ev);
      if (!isAggregate(left) && !isAggregate(right)) return handle(left, right, node, ev);
      return celEquals(left, right, byOverload(node, ev as Evaluator)) === (op === '==');
    };
  }
  return guarded;
}

/** cel-js's equality of two values of a type of its own: that type's `==` overload, else false. */
function byOverload(node: unknown, ev: Evaluator): OtherEquality {
  return (a, b) => {
    const type = ev.debugType(a);
    if (type !== ev.debugType(b)) return false;
    const overload = ev.registry.findBinaryOverload('==', type, type);
    return overload ? overload.handler(a, b, node, ev) === true : false;
  };
}

type EvaluatedNode = AstNode & { handle?: Handle; meta?: { alternate?: AstNode } };

/** Every node cel-js may run for `ast`, once each: walkAst's, and the comprehensions macros (all, exists, map, …) keep in meta.alternate. */
function* evaluatedNodes(ast: AstNode): Generator<EvaluatedNode> {
  const seen = new Set<AstNode>();
  const stack: AstNode[] = [ast];
  while (stack.length > 0) {
    const n = stack.pop()! as EvaluatedNode;
    if (seen.has(n)) continue;
    seen.add(n);
    yield n;
    const alternate = n.meta?.alternate;
    if (isNode(alternate)) stack.push(alternate);
    const args = n.args;
    if (isNode(args)) stack.push(args);
    else if (Array.isArray(args)) stack.push(...childrenOf(n));
    else if (typeof args === 'object' && args !== null) for (const v of Object.values(args)) if (isNode(v)) stack.push(v);
  }
}

type Handle = (...operands: unknown[]) => unknown;

/** Run `check` on the operands of `n` before its handler; false when `n` has none. */
function wrapHandle(n: AstNode & { handle?: Handle }, check: (...operands: unknown[]) => void): boolean {
  const handle = n.handle;
  if (typeof handle !== 'function') return false;
  n.handle = (...operands) => {
    check(...operands);
    return handle(...operands);
  };
  return true;
}
