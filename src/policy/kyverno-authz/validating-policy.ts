/**
 * `kind: ValidatingPolicy` (`apiVersion: policies.kyverno.io/v1alpha1`) with
 * `spec.evaluation.mode: Envoy`: kyverno-authz's CEL policies (SPEC §4 item 5).
 *
 *   apiVersion: policies.kyverno.io/v1alpha1
 *   kind: ValidatingPolicy
 *   metadata: { name: demo }
 *   spec:
 *     evaluation: { mode: Envoy }        # any other mode: not for an authz server, ignored
 *     failurePolicy: Fail                # Fail (default) | Ignore
 *     matchConditions:                   # all must be true, else the policy is skipped
 *     - name: has-header
 *       expression: object.attributes.request.http.headers[?"x-force-deny"].hasValue()
 *     variables:                         # in order; each may use the ones before it
 *     - name: allowed
 *       expression: object.attributes.request.http.headers[?"x-force-authorized"].orValue("") == "true"
 *     validations:                       # in order, until one returns a CheckResponse
 *     - expression: '!variables.allowed ? envoy.Denied(403).WithBody("no").Response() : null'
 *
 * Semantics (kyverno-authz docs, "Envoy policy breakdown"):
 *   - `object` is the CheckRequest (toCelCheckRequest), `variables` the policy's variables,
 *     evaluated lazily and once each; match conditions cannot see variables;
 *   - a match condition that is false skips the policy; one that fails (error, not a boolean)
 *     is an evaluation error unless another is false;
 *   - the first validation that returns a CheckResponse decides; null goes on; all null is no
 *     decision;
 *   - an evaluation error: failurePolicy Fail denies, Ignore skips the policy (kyverno-authz
 *     then allows; Chio never allows on an error — the request goes on to the other policies
 *     and, failing those, to default-deny); one of Chio's own limits, or a presence test on a
 *     message at run time (cel-run-guards.ts guardMessagePresence), denies under Ignore too;
 *   - the run-time budgets (scan, compile, time) are the Check's, shared by all its CEL
 *     policies (./check-budget.ts), the time with its kyverno-json policies too (../check-clock.ts).
 *
 * Expressions are parsed, type-checked and costed when the policy loads (./cel-bounds.ts):
 * a syntax error, an unknown function, a match condition that is not a boolean, a variable
 * used before it is defined or an expression over the cost bound is a load error naming the
 * policy and the field; a function of kyverno-authz's environment that Chio does not have is
 * named with its library (./unsupported-functions.ts).
 */
import { z } from 'zod';
import type { Environment } from '@marcbachmann/cel-js';
import { ChioError } from '../../errors/index.js';
import { metadataSchema } from '../metadata.js';
import { celPathKind, type CelObject } from '../kyverno/kyverno-input.js';
import { CelLimitExceeded, estimateCost, walkAst, type AstNode, RE2_MATCHES, MAX_EXPRESSION_CHARS, MAX_EXPRESSION_COST, MAX_POLICY_COST, oversized, useRe2Matches } from './cel-bounds.js';
import { CelCheckBudget, useBudget } from './check-budget.js';
import { MAX_POLICY_EVALUATION_MS, POLICIES_TOOK_TOO_LONG } from '../check-clock.js';
import { chargeBuiltValues, checkDurations, compareNumbersByValue, guardMessagePresence, refuseNaNOrdering } from './cel-run-guards.js';
import { re2PatternsOf } from './envoy-library.js';
import { toPolicyAnswer, type PolicyAnswer } from './policy-answer.js';
import { messageConstruction, unsupportedFunction } from './unsupported-functions.js';
import { objectPath, uintAgainstSigned } from './object-paths.js';

export const API_VERSION = 'policies.kyverno.io/v1alpha1';
export const MAX_EXPRESSIONS = 64;

const expression = z.string().min(1).max(MAX_EXPRESSION_CHARS);
const named = (name: z.ZodString) => z.strictObject({ name, expression });

/** Any ValidatingPolicy of this group: the mode decides whether the rest is read. */
export const celValidatingPolicySchema = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('ValidatingPolicy'),
  metadata: metadataSchema,
  spec: z.looseObject({ evaluation: z.looseObject({ mode: z.string().optional() }).optional() }),
});

const envoySpecSchema = z.strictObject({
  evaluation: z.strictObject({ mode: z.literal('Envoy') }),
  failurePolicy: z.enum(['Fail', 'Ignore']).default('Fail'),
  matchConditions: z.array(named(z.string().min(1).max(63))).max(MAX_EXPRESSIONS).default([]),
  variables: z.array(named(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'must be a CEL identifier'))).max(MAX_EXPRESSIONS).default([]),
  validations: z.array(z.strictObject({ expression, message: z.string().max(1024).optional() })).min(1).max(MAX_EXPRESSIONS),
});

export type CelPolicyOutcome =
  | { kind: 'skip' }
  | { kind: 'answer'; rule: string; answer: PolicyAnswer }
  /**
   * `limit`: one of Chio's own bounds was met, or a presence test on a message it cannot answer
   * (CelLimitExceeded, PresenceOnMessage): a deny whatever the failurePolicy.
   */
  | { kind: 'error'; rule: string; message: string; failurePolicy: 'Fail' | 'Ignore'; limit?: true };

export interface CompiledCelPolicy {
  readonly name: string;
  readonly failurePolicy: 'Fail' | 'Ignore';
  /**
   * Decide one request (`object`: toCelCheckRequest's). Never throws. `budget`: the Check's,
   * shared with the other policies it evaluates (./check-budget.ts); a budget of its own when
   * this policy is the whole Check.
   */
  evaluate(object: CelObject, budget?: CelCheckBudget): CelPolicyOutcome;
}

/** The mode a document asks for; only `Envoy` is evaluated by an authz server. */
export function evaluationModeOf(doc: z.output<typeof celValidatingPolicySchema>): string {
  return doc.spec.evaluation?.mode ?? 'Kubernetes';
}

type Program = ((ctx: unknown) => unknown) & { check(): { valid: boolean; type?: string; error?: Error }; ast: any };

interface CompiledExpression {
  field: string;
  program: Program;
}

/**
 * Compile a validated Envoy-mode document. Throws ChioError('CONFIG_INVALID') naming the
 * policy and the field (`ValidatingPolicy demo: field spec.validations[0].expression: …`).
 */
export function compileCelPolicy(doc: z.output<typeof celValidatingPolicySchema>, env: Environment): CompiledCelPolicy {
  try {
    return compileEnvoyPolicy(doc, env);
  } catch (err) {
    if (err instanceof ChioError) throw new ChioError(err.code, `ValidatingPolicy ${doc.metadata.name}: ${err.message}`, { cause: err });
    throw err;
  }
}

function compileEnvoyPolicy(doc: z.output<typeof celValidatingPolicySchema>, env: Environment): CompiledCelPolicy {
  const parsed = envoySpecSchema.safeParse(doc.spec);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ChioError('CONFIG_INVALID', `field ${['spec', ...issue.path].join('.')}: ${issue.message}`);
  }
  const spec = parsed.data;
  let total = 0;
  const compile = (source: string, field: string, expect: 'bool' | 'response' | 'any', known: Set<string>): CompiledExpression => {
    const program = parseExpression(env, source, field);
    const unknown = variablesUsed(program.ast).find((v) => !known.has(v));
    if (unknown !== undefined) fail(field, `variables.${unknown} is not defined before this expression`);
    const checked = program.check();
    // Calls were renamed to their bounded forms (cel-bounds.ts): name them as written.
    if (!checked.valid) fail(field, (unsupportedFunction(program.ast, env) ?? firstLine(checked.error)).replace(/\b(\w+)Bounded\b/g, '$1').replaceAll(RE2_MATCHES, 'matches'));
    // Only now does each `+` node, conversion and duration() hold the handler the check chose, which these wrap.
    chargeBuiltValues(program.ast);
    checkDurations(program.ast);
    if (expect === 'bool' && checked.type !== 'bool' && checked.type !== 'dyn') fail(field, `must be a boolean expression, not ${checked.type}`);
    if (expect === 'response' && !['dyn', 'null', 'CheckResponse'].includes(checked.type ?? '')) fail(field, `must return envoy …Response() or null, not ${checked.type}`);
    const presence = unsupportedHas(program.ast, variablePaths);
    if (presence !== undefined) fail(field, presence);
    const mixed = uintAgainstSigned(program.ast, variablePaths);
    if (mixed !== undefined) fail(field, mixed);
    // What the refusals above cannot see (a message in a list, a ternary, a comprehension's variable) fails at run time.
    if (!guardMessagePresence(program.ast)) fail(field, 'a presence test (.?, [?]) cannot be guarded against always-present message fields: refused');
    if (!refuseNaNOrdering(program.ast)) fail(field, 'an ordering (<, <=, >, >=) cannot be guarded against NaN: refused');
    if (!compareNumbersByValue(program.ast)) fail(field, 'an equality (==, !=, in) cannot be made to compare numbers by value: refused');
    const cost = estimateCost(program.ast);
    if (cost > MAX_EXPRESSION_COST) fail(field, `estimated cost ${cost} is over the bound of ${MAX_EXPRESSION_COST} (nested comprehensions?)`);
    total += cost;
    return { field, program };
  };
  const none = new Set<string>();
  /** Variables that are a path from object (`object.attributes.source`): their presence tests are checked as that path's. */
  const variablePaths = new Map<string, string[]>();
  const conditions = spec.matchConditions.map((c, i) => compile(c.expression, `spec.matchConditions[${i}].expression`, 'bool', none));
  const defined = new Set<string>();
  const variables = spec.variables.map((v, i) => {
    if (defined.has(v.name)) fail(`spec.variables[${i}].name`, `variable ${v.name} is defined twice`);
    const compiled = { name: v.name, ...compile(v.expression, `spec.variables[${i}].expression`, 'any', defined) };
    defined.add(v.name);
    const path = objectPath(compiled.program.ast, variablePaths);
    if (path) variablePaths.set(v.name, path);
    return compiled;
  });
  const validations = spec.validations.map((v, i) => compile(v.expression, `spec.validations[${i}].expression`, 'response', defined));
  if (total > MAX_POLICY_COST) fail('spec', `estimated cost ${total} of all expressions is over the bound of ${MAX_POLICY_COST}`);
  const name = doc.metadata.name;
  return {
    name,
    failurePolicy: spec.failurePolicy,
    evaluate: (object, budget = new CelCheckBudget()) => evaluatePolicy({ name, failurePolicy: spec.failurePolicy, conditions, variables, validations }, object, budget),
  };
}

function fail(field: string, message: string): never {
  throw new ChioError('CONFIG_INVALID', `field ${field}: ${message}`);
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}

function parseExpression(env: Environment, source: string, field: string): Program {
  let program: Program;
  try {
    program = env.parse(source) as unknown as Program;
  } catch (err) {
    fail(field, messageConstruction(source) ?? firstLine(err));
  }
  const patterns = re2PatternsOf(env);
  const badPattern = useRe2Matches(program.ast, (pattern) => patterns.addLiteral(pattern));
  if (badPattern) fail(field, badPattern);
  return program;
}

/** Names read as `variables.<name>` anywhere in the expression. */
function variablesUsed(ast: AstNode): string[] {
  const out: string[] = [];
  for (const { op, args } of walkAst(ast)) {
    if ((op !== '.' && op !== '.?') || !Array.isArray(args)) continue;
    const [target, field] = args as [{ op?: string; args?: unknown }, unknown];
    if (target?.op === 'id' && target.args === 'variables' && typeof field === 'string') out.push(field);
  }
  return out;
}

/**
 * Why the first has() of the expression is refused, if one is. kyverno-authz's object is the
 * protobuf CheckRequest, where has() says whether a field is set (a scalar not at its default,
 * a message present); toCelCheckRequest sets every field, so has() on a field of a message would
 * always be true, and `has(object.attributes.source.principal) ? null : deny` would let a
 * request without a principal through. So has() is taken only where it means what it says: on
 * a key of one of object's maps, written out from `object` (through a variable or a
 * comprehension's variable, the field's kind cannot be known when the policy loads).
 */
function unsupportedHas(ast: AstNode, variablePaths: ReadonlyMap<string, string[]>): string | undefined {
  // has() stays on paths written out from object (see above), not through a variable.
  const pathOf = (n: unknown): string[] | undefined => objectPath(n, new Map());
  for (const { op, args } of walkAst(ast)) {
    // The other presence tests, `.?field`, `[?"field"]` and `"field" in`, are refused on a
    // message for the same reason: on a protobuf message they too say whether it is set; also
    // through a variable that is a path from object (variables.src.?principal).
    const target = !Array.isArray(args) ? undefined : op === '.?' || op === '[?]' ? args[0] : op === 'in' ? args[1] : undefined;
    const targetPath = target === undefined ? undefined : objectPath(target, variablePaths);
    if (targetPath && celPathKind(targetPath) === 'message') {
      return `a presence test on a field of ${['object', ...targetPath].join('.')} is always true: every field of it is always present here (an unset one reads as its zero value, "" or 0), so compare with that instead`;
    }
    if (op !== 'call' || !Array.isArray(args) || args[0] !== 'has' || !Array.isArray(args[1]) || args[1].length !== 1) continue;
    const path = pathOf(args[1][0]);
    const parent = path && path.length > 0 ? celPathKind(path.slice(0, -1)) : undefined;
    if (parent === 'message') {
      const written = `object.${path!.join('.')}`;
      return `has(${written}) is always true here: Chio's object sets every CheckRequest field (an unset one reads as its zero value, "" or 0), so compare with that instead (${written} != "")`;
    }
    if (parent !== 'map') return 'has() is taken only on a key of one of object\'s maps (headers, labels, metadata, context_extensions), written out from object: has(object.attributes.request.http.headers.x)';
  }
  return undefined;
}

interface PolicyProgram {
  name: string;
  failurePolicy: 'Fail' | 'Ignore';
  conditions: CompiledExpression[];
  variables: Array<CompiledExpression & { name: string }>;
  validations: CompiledExpression[];
}

class EvaluationFailure extends Error {
  constructor(
    readonly field: string,
    message: string,
    readonly limit = false,
  ) {
    super(message);
  }
}

/** A CelLimitExceeded, as thrown or as the cause of what the CEL library threw. */
function isLimit(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) if (e instanceof CelLimitExceeded) return true;
  return false;
}

function evaluatePolicy(policy: PolicyProgram, object: CelObject, budget: CelCheckBudget): CelPolicyOutcome {
  useBudget(budget);
  const run = (e: CompiledExpression, ctx: unknown): unknown => {
    let value: unknown;
    try {
      value = e.program(ctx);
    } catch (err) {
      throw err instanceof EvaluationFailure ? err : new EvaluationFailure(e.field, firstLine(err), isLimit(err));
    }
    if (value instanceof Promise) throw new EvaluationFailure(e.field, 'an asynchronous result');
    if (performance.now() - budget.startedAt > MAX_POLICY_EVALUATION_MS) throw new EvaluationFailure(e.field, POLICIES_TOOK_TOO_LONG, true);
    return value;
  };
  try {
    if (!matchConditionsHold(policy, object, run)) return { kind: 'skip' };
    const variables = lazyVariables(policy, object, run);
    for (const v of policy.validations) {
      const value = run(v, { object, variables });
      if (value === null) continue;
      let answer: PolicyAnswer;
      try {
        answer = toPolicyAnswer(value, v.field);
      } catch (err) {
        throw new EvaluationFailure(v.field, firstLine(err));
      }
      return { kind: 'answer', rule: v.field.replace(/\.expression$/, ''), answer };
    }
    return { kind: 'skip' };
  } catch (err) {
    const failure = err instanceof EvaluationFailure ? err : new EvaluationFailure('spec', firstLine(err));
    return { kind: 'error', rule: failure.field, message: failure.message, failurePolicy: policy.failurePolicy, ...(failure.limit ? { limit: true as const } : {}) };
  }
}

type Run = (e: CompiledExpression, ctx: unknown) => unknown;

/** false: a condition is false; true: all hold; throws when one failed and none is false. */
function matchConditionsHold(policy: PolicyProgram, object: CelObject, run: Run): boolean {
  let failure: EvaluationFailure | undefined;
  for (const c of policy.conditions) {
    try {
      const value = run(c, { object, variables: {} });
      if (typeof value !== 'boolean') throw new EvaluationFailure(c.field, `a match condition returned ${typeof value}, not a boolean`);
      if (!value) return false;
    } catch (err) {
      failure ??= err instanceof EvaluationFailure ? err : new EvaluationFailure(c.field, firstLine(err));
    }
  }
  if (failure) throw failure;
  return true;
}

/** `variables` whose members are evaluated on first use, once, in the order they are read. */
function lazyVariables(policy: PolicyProgram, object: CelObject, run: Run): Record<string, unknown> {
  const variables = Object.create(null) as Record<string, unknown>;
  for (const v of policy.variables) {
    let state: { value: unknown } | 'evaluating' | undefined;
    Object.defineProperty(variables, v.name, {
      enumerable: true,
      get() {
        // Read by index (`variables["x"]`) a variable can reach itself; the load check cannot see that.
        if (state === 'evaluating') throw new EvaluationFailure(v.field, `variable ${v.name} refers to itself`);
        if (state === undefined) {
          state = 'evaluating';
          const value = run(v, { object, variables });
          const tooLarge = oversized(value);
          if (tooLarge) throw new EvaluationFailure(v.field, `variable ${v.name} is ${tooLarge}`, true);
          state = { value };
        }
        return (state as { value: unknown }).value;
      },
    });
  }
  return variables;
}
