/**
 * kyverno-json assertion trees (SPEC §4 item 4): a YAML/JSON tree, compiled once when a policy
 * is loaded, that holds or fails against a JSON document. Semantics follow kyverno-json
 * (kyverno/kyverno-json pkg/engine/assert/{parse,project}.go, pkg/syntax/expression,
 * pkg/engine/match/match.go, pkg/utils/reflect/match.go; docs website/docs/policies/asserts.md):
 *
 *   map      Each key projects the current value and hands the result to its subtree. A plain
 *            key reads that field: a missing field, or a null current value, is a failure
 *            ("field not found"); a current value that is not an object is an error. A key
 *            `(expr)` (or `(jp;expr)`) evaluates a JMESPath Community expression with the
 *            current value as `@`. A `~.` / `~name.` prefix iterates the projection (array:
 *            each element, `$name` = index; object: each value, `$name` = key); anything else
 *            is an error. A `->name` suffix binds the projection as `$name` for descendants.
 *            `\key\` escapes a key that would otherwise parse as an expression. An empty map
 *            asserts only that the value is not null.
 *   list     The value must be an array (null fails; another type is an error) of the same
 *            length, each element asserted by the matching subtree.
 *   leaf     Equality: numbers by value, strings and booleans exactly, null only equals null;
 *            two different types are an error ("types are not comparable"). A string leaf
 *            `(expr)` is evaluated with the current value as `@` and its result is compared
 *            (an array result element-wise, an object result as a subset). There is no
 *            wildcard matching of leaves in kyverno-json; patterns go through the JMESPath
 *            function `wildcard(pattern, name)` ('*' any run, '?' one character).
 *
 * `$payload` is bound to the whole document. The outcome is `pass`, `fail` with the failing
 * paths, or `error` (kyverno-json's internal errors: type mismatches, a failing expression,
 * the evaluation budget spent); callers treat an error as a deny (fail closed).
 *
 * Example, against {"request":{"http":{"method":"GET","headers":{"a":"1"}}}}:
 *   request:
 *     http:
 *       method: GET                           # pass
 *       (length(headers) > `0`): true          # pass
 *       ~.(values(headers)): '1'               # pass: every header value is "1"
 */
import { compile, isRegistered } from '@jmespath-community/jmespath';
// Register kyverno-json's own functions and Kyverno's before any expression is compiled.
import './jmespath-functions.js';
import './kyverno-functions.js';
import { searchBy } from './jmespath-bounds.js';
import { arityRefusal } from './jmespath-table.js';
import { codePoint, divergentKeyReason, parseSyntax } from './tree-syntax.js';
import { MAX_POLICY_EVALUATION_MS } from '../check-clock.js';
import type { JSONValue } from '@jmespath-community/jmespath';
import { ChioError } from '../../errors/index.js';
import { isJsonObject } from '../../json.js';

/** Deepest tree accepted (levels of maps and lists). */
export const MAX_TREE_DEPTH = 32;
/** Most nodes (maps, lists, leaves) in one tree. */
export const MAX_TREE_NODES = 10_000;
/** Longest JMESPath expression accepted, in UTF-16 code units. */
export const MAX_EXPRESSION_LENGTH = 1024;
/** Evaluation budget: node visits, comparisons and expression runs in one Check, its kyverno-json policies together. */
export const DEFAULT_EVALUATION_STEPS = 100_000;
/** Deepest structure compared by one leaf (an expression result against the input). */
export const MAX_COMPARE_DEPTH = 64;
/**
 * Failures reported per tree. Evaluation goes on past them, recording no more: an error further
 * on (a type mismatch, an expression that fails) must still be found, as kyverno-json finds it,
 * or a client could add failing entries until it hid one. The step budget bounds the walk.
 */
export const MAX_REPORTED_FAILURES = 16;

type Ast = ReturnType<typeof compile>;

/** One failing (or erroring) place in the tree: a kyverno-style path and a short reason. */
export interface TreeFailure {
  path: string;
  reason: string;
}

export type TreeVerdict =
  | { status: 'pass' }
  | { status: 'fail'; failures: TreeFailure[] }
  | { status: 'error'; error: TreeFailure };

/** Remaining steps, shared by every tree evaluated for one input (a Check: every policy's). */
export interface EvaluationBudget {
  steps: number;
  /** performance.now() past which expressions fail: the Check's (../check-clock.ts), else set when the first one runs. */
  deadline?: number;
}

export interface AssertionTree {
  readonly root: TreeNode;
  /** Nodes in the tree: a measure of its size. */
  readonly nodes: number;
}

/** The compiled forms below are internal: build them with compileAssertionTree. */
export interface Expression {
  source: string;
  ast: Ast;
  usesVariables: boolean;
}

export type TreeNode =
  | { kind: 'map'; entries: MapEntry[] }
  | { kind: 'list'; items: TreeNode[] }
  | { kind: 'value'; expected: JSONValue }
  | { kind: 'expression'; expression: Expression };

export interface MapEntry {
  key: string;
  field: string | null;
  expression: Expression | null;
  foreach: boolean;
  foreachName: string | null;
  binding: string | null;
  node: TreeNode;
}

/** Variables every tree may use. */
const BUILTIN_VARIABLES = ['payload'];

/**
 * Compile a tree (a JSON value as parsed from YAML). Throws ChioError('CONFIG_INVALID')
 * naming `where` and the path inside the tree for a malformed key, a bad expression, an
 * unknown function or variable, or a tree over the size bounds.
 */
export function compileAssertionTree(tree: unknown, where: string): AssertionTree {
  const state = { nodes: 0, where };
  const root = compileNode(tree, '', 0, new Set(BUILTIN_VARIABLES), state);
  return { root, nodes: state.nodes };
}

type CompileState = { nodes: number; where: string };

function compileNode(value: unknown, path: string, depth: number, scope: ReadonlySet<string>, state: CompileState): TreeNode {
  state.nodes += 1;
  if (state.nodes > MAX_TREE_NODES) throw invalid(state, path, `more than ${MAX_TREE_NODES} nodes`);
  if (depth > MAX_TREE_DEPTH) throw invalid(state, path, `deeper than ${MAX_TREE_DEPTH} levels`);
  if (Array.isArray(value)) {
    return { kind: 'list', items: value.map((item, i) => compileNode(item, `${path}[${i}]`, depth + 1, scope, state)) };
  }
  if (isJsonObject(value)) {
    const entries = Object.entries(value).map(([key, child]) => compileEntry(key, child, path, depth, scope, state));
    return { kind: 'map', entries };
  }
  if (typeof value === 'string') return compileLeafString(value, path, scope, state);
  if (value === null || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) {
    return { kind: 'value', expected: value };
  }
  throw invalid(state, path, 'not a JSON value');
}

function compileEntry(key: string, child: unknown, parent: string, depth: number, scope: ReadonlySet<string>, state: CompileState): MapEntry {
  const path = joinPath(parent, key);
  const divergence = divergentKeyReason(key);
  if (divergence !== null) throw invalid(state, path, divergence);
  const syntax = parseSyntax(key);
  if (syntax.statement === '') throw invalid(state, path, 'empty key');
  const expression = syntax.engine === null ? null : compileExpression(syntax.engine, syntax.statement, path, scope, state);
  const inner = new Set(scope);
  if (syntax.foreachName !== null) inner.add(syntax.foreachName);
  if (syntax.binding !== null) inner.add(syntax.binding);
  const { foreach, foreachName, binding } = syntax;
  const field = expression === null ? syntax.statement : null;
  return { key, field, expression, foreach, foreachName, binding, node: compileNode(child, path, depth + 1, inner, state) };
}

function compileLeafString(text: string, path: string, scope: ReadonlySet<string>, state: CompileState): TreeNode {
  const syntax = parseSyntax(text);
  if (syntax.foreach) throw invalid(state, path, 'a foreach (~) is not supported in a value');
  if (syntax.binding !== null) throw invalid(state, path, 'a binding (->) is not supported in a value');
  if (syntax.engine === null) return { kind: 'value', expected: syntax.statement };
  return { kind: 'expression', expression: compileExpression(syntax.engine, syntax.statement, path, scope, state) };
}

function compileExpression(engine: string, source: string, path: string, scope: ReadonlySet<string>, state: CompileState): Expression {
  if (engine !== '' && engine !== 'jp') throw invalid(state, path, `expression engine ${JSON.stringify(engine)} is not supported (only jp)`);
  if (source.length > MAX_EXPRESSION_LENGTH) throw invalid(state, path, `expression longer than ${MAX_EXPRESSION_LENGTH} characters`);
  let ast: Ast;
  try {
    ast = compile(source);
  } catch (err) {
    throw invalid(state, path, `bad JMESPath expression: ${errorText(err)}`, err);
  }
  const refs: References = { functions: new Map(), variables: new Set(), letBound: new Set() };
  collectReferences(ast, refs);
  for (const [name, counts] of refs.functions) {
    if (!isRegistered(name)) throw invalid(state, path, `unknown JMESPath function ${name}()`);
    for (const count of counts) {
      const refusal = arityRefusal(name, count);
      if (refusal !== null) throw invalid(state, path, refusal);
    }
  }
  for (const name of refs.variables) {
    if (!scope.has(name) && !refs.letBound.has(name)) throw invalid(state, path, `variable $${name} is not bound here`);
  }
  return { source, ast, usesVariables: refs.variables.size > 0 };
}

/** Each function called with the argument counts of its calls; the variables read and bound. */
type References = { functions: Map<string, Set<number>> } & Record<'variables' | 'letBound', Set<string>>;

/** Walk the AST for function calls and variables (a Literal's value is data, not AST). */
function collectReferences(node: unknown, refs: References): void {
  if (!isJsonObject(node) || typeof node.type !== 'string' || node.type === 'Literal') return;
  if (node.type === 'Function' && typeof node.name === 'string' && Array.isArray(node.children)) {
    refs.functions.set(node.name, (refs.functions.get(node.name) ?? new Set()).add(node.children.length));
  }
  if (node.type === 'Variable' && typeof node.name === 'string') refs.variables.add(node.name);
  if (node.type === 'Binding' && typeof node.variable === 'string') refs.letBound.add(node.variable);
  for (const child of Object.values(node)) {
    if (Array.isArray(child)) for (const item of child) collectReferences(item, refs);
    else collectReferences(child, refs);
  }
}

/**
 * Evaluate a compiled tree against `value` (a JSON document; attacker-controlled). Never
 * throws for anything in `value`: type mismatches, failing expressions and an exhausted
 * budget come back as `{ status: 'error' }`.
 */
export function evaluateAssertionTree(tree: AssertionTree, value: unknown, options: { budget?: EvaluationBudget } = {}): TreeVerdict {
  const ctx: EvalContext = { budget: options.budget ?? { steps: DEFAULT_EVALUATION_STEPS }, failures: [] };
  try {
    visit(tree.root, value, '', { payload: value }, ctx);
  } catch (err) {
    if (err instanceof TreeError) return { status: 'error', error: { path: clip(err.path, 256) || '(root)', reason: err.message } };
    throw err;
  }
  return ctx.failures.length === 0 ? { status: 'pass' } : { status: 'fail', failures: ctx.failures };
}

type EvalContext = { budget: EvaluationBudget; failures: TreeFailure[] };

type Scope = Readonly<Record<string, unknown>>;

/** A kyverno-json "internal error": ends the evaluation of the tree. */
class TreeError extends Error {
  constructor(readonly path: string, reason: string) {
    super(reason);
  }
}

function visit(node: TreeNode, value: unknown, path: string, scope: Scope, ctx: EvalContext): void {
  spend(ctx, path, 1);
  switch (node.kind) {
    case 'map':
      return visitMap(node.entries, value, path, scope, ctx);
    case 'list':
      return visitList(node.items, value, path, scope, ctx);
    case 'value':
      return compare(node.expected, value, path, ctx);
    case 'expression':
      return compare(run(node.expression, value, scope, path, ctx), value, path, ctx);
  }
}

function visitMap(entries: MapEntry[], value: unknown, path: string, scope: Scope, ctx: EvalContext): void {
  if (entries.length === 0) {
    if (value === null || value === undefined) fail(ctx, path, 'must not be null');
    return;
  }
  for (const entry of entries) {
    const child = joinPath(path, entry.key);
    let projected: unknown;
    if (entry.expression !== null) {
      projected = run(entry.expression, value, scope, child, ctx);
    } else if (value === null || value === undefined) {
      fail(ctx, child, 'field not found in the input object');
      continue;
    } else if (!isJsonObject(value)) {
      throw new TreeError(child, `cannot read field of ${typeName(value)}`);
    } else if (!Object.hasOwn(value, entry.field ?? '')) {
      fail(ctx, child, 'field not found in the input object');
      continue;
    } else {
      projected = value[entry.field ?? ''];
    }
    const inner = entry.binding === null ? scope : { ...scope, [entry.binding]: projected };
    if (entry.foreach) iterate(entry, projected, child, inner, ctx);
    else visit(entry.node, projected, child, inner, ctx);
  }
}

function iterate(entry: MapEntry, projected: unknown, path: string, scope: Scope, ctx: EvalContext): void {
  if (!Array.isArray(projected) && !isJsonObject(projected)) throw new TreeError(path, `expected an array or an object to iterate, got ${typeName(projected)}`);
  // Keys are read one at a time: the budget, not the size of the input, bounds the work.
  const keys: ArrayLike<string | number> = Array.isArray(projected) ? { length: projected.length } : Object.keys(projected);
  for (let i = 0; i < keys.length; i++) {
    const key = Array.isArray(projected) ? i : (keys[i] as string);
    const item = (projected as Record<string | number, unknown>)[key];
    const inner = entry.foreachName === null ? scope : { ...scope, [entry.foreachName]: key };
    visit(entry.node, item, `${path}[${typeof key === 'number' ? key : clip(key, 64)}]`, inner, ctx);
  }
}

function visitList(items: TreeNode[], value: unknown, path: string, scope: Scope, ctx: EvalContext): void {
  if (value === null || value === undefined) return fail(ctx, path, 'value is null');
  if (!Array.isArray(value)) throw new TreeError(path, `expected an array, got ${typeName(value)}`);
  if (value.length !== items.length) return fail(ctx, path, `expected ${items.length} elements, got ${value.length}`);
  for (const [i, item] of items.entries()) {
    visit(item, value[i], `${path}[${i}]`, scope, ctx);
  }
}

function compare(expected: unknown, actual: unknown, path: string, ctx: EvalContext): void {
  if (!matches(expected, actual, path, 0, ctx)) fail(ctx, path, `expected ${preview(expected)}, got ${preview(actual)}`);
}

/** kyverno-json match.Match: arrays element-wise, objects as a subset, scalars by MatchScalar. */
function matches(expected: unknown, actual: unknown, path: string, depth: number, ctx: EvalContext): boolean {
  spend(ctx, path, 1);
  if (depth > MAX_COMPARE_DEPTH) throw new TreeError(path, `values deeper than ${MAX_COMPARE_DEPTH} levels`);
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) throw new TreeError(path, `expected an array, got ${typeName(actual)}`);
    return expected.length === actual.length && expected.every((e, i) => matches(e, actual[i], path, depth + 1, ctx));
  }
  if (isJsonObject(expected)) {
    if (!isJsonObject(actual)) throw new TreeError(path, `expected an object, got ${typeName(actual)}`);
    return Object.entries(expected).every(([k, e]) => Object.hasOwn(actual, k) && matches(e, actual[k], path, depth + 1, ctx));
  }
  const e = expected ?? null;
  const a = actual ?? null;
  if (e === null || a === null) return e === a;
  if (typeof e === typeof a && typeof e !== 'object') return e === a;
  throw new TreeError(path, `types are not comparable: ${typeName(e)} and ${typeName(a)}`);
}

/** Run a compiled expression with `value` as `@` and the scope's variables bound. */
function run(expression: Expression, value: unknown, scope: Scope, path: string, ctx: EvalContext): unknown {
  spend(ctx, path, 10);
  let ast = expression.ast;
  if (expression.usesVariables) {
    // A let-expression around the compiled AST: the library's public way to bind variables.
    const bindings = Object.entries(scope).map(([variable, v]) => ({ type: 'Binding', variable, reference: { type: 'Literal', value: v } }));
    ast = { type: 'LetExpression', bindings, expression: ast } as Ast;
  }
  ctx.budget.deadline ??= performance.now() + MAX_POLICY_EVALUATION_MS;
  try {
    return searchBy(ctx.budget.deadline, ast, (value ?? null) as JSONValue);
  } catch (err) {
    // The library throws plain Errors (unknown variable, wrong argument type) and, on very
    // deep input, RangeError: all are errors of this evaluation, not of Chio.
    throw new TreeError(path, `expression ${clip(expression.source, 64)} failed: ${errorText(err)}`);
  }
}

function spend(ctx: EvalContext, path: string, steps: number): void {
  ctx.budget.steps -= steps;
  if (ctx.budget.steps < 0) throw new TreeError(path, 'evaluation budget exhausted');
}

function fail(ctx: EvalContext, path: string, reason: string): void {
  if (ctx.failures.length < MAX_REPORTED_FAILURES) ctx.failures.push({ path: clip(path, 256) || '(root)', reason });
}

function invalid(state: CompileState, path: string, reason: string, cause?: unknown): ChioError {
  // One line however the key was written: a refused key may hold a line break.
  const where = clip(path, 256).replace(/[\n\r\u2028\u2029]/g, (c) => `<${codePoint(c)}>`);
  return new ChioError('CONFIG_INVALID', `${state.where}: ${where || '(root)'}: ${reason}`, cause === undefined ? undefined : { cause });
}


function typeName(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** A short, bounded rendering of a value for a failure reason (values may be attacker-controlled). */
function preview(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return JSON.stringify(clip(value, 64));
  if (typeof value === 'object') return typeName(value);
  return String(value);
}

function joinPath(parent: string, key: string): string {
  return parent === '' ? key : `${parent}.${key}`;
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

function errorText(err: unknown): string {
  return clip(err instanceof Error ? err.message : String(err), 200);
}
