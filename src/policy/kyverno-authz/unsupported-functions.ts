/**
 * Why an expression that did not type-check names a function Chio does not have, in words a
 * policy author can act on. kyverno-authz's CEL environment has libraries Chio's (cel-js with
 * ./envoy-library.ts) does not: cel-go's extensions (encoders, math, sets, lists, strings),
 * Kubernetes' (URL, IP, CIDR, regex, lists, format) and its own jwt, jwk and json (of these,
 * ./encoders.ts gives base64, ./k8s-ip.ts IP and CIDR, ./cel-sets.ts sets, ./re2-patterns.ts regex,
 * ./k8s-lists.ts Kubernetes' lists, ./cel-lists.ts cel-go's lists). A policy
 * written for it may call one; cel-js then says `Unknown variable: math` for
 * `math.greatest(…)`, or `found no matching overload for 'string.replace(string, string)'`,
 * which do not say that the function itself is missing. This is only asked once the type
 * check has failed, so it changes no policy's fate, only what its refusal says.
 */
import type { Environment } from '@marcbachmann/cel-js';
import { BOUNDED_SPLIT, BOUNDED_STRING_CALLS, COMPREHENSIONS, RE2_MATCHES, childrenOf, walkAst, type AstNode } from './cel-bounds.js';

const MATH = "cel-go's math extension";
const STRINGS = "cel-go's strings extension";
const K8S_URL = "the Kubernetes URL library";
const K8S_FORMAT = "the Kubernetes format library";

const byName = (library: string, names: string[]) => names.map((name) => [name, library] as const);

/** Functions of kyverno-authz's CEL environment, by name as written, and the library each comes from. */
const KYVERNO_AUTHZ_FUNCTIONS: ReadonlyMap<string, string> = new Map([
  ['jwt.Decode', "kyverno-authz's jwt library (Chio verifies JWTs with a RequestAuthentication instead)"],
  ['jwks.Fetch', "kyverno-authz's jwk library"],
  ['json.Unmarshal', "kyverno-authz's json library"],
  ...byName(MATH, ['greatest', 'least', 'ceil', 'floor', 'round', 'trunc', 'abs', 'sign', 'isInf', 'isNaN', 'isFinite', 'sqrt', 'bitAnd', 'bitOr', 'bitXor', 'bitNot', 'bitShiftLeft', 'bitShiftRight'].map((f) => `math.${f}`)),
  ...byName(STRINGS, ['strings.quote', 'format']),
  ...byName(K8S_URL, ['url', 'isURL', 'getScheme', 'getHost', 'getHostname', 'getPort', 'getEscapedPath', 'getQuery']),
  ...byName(K8S_FORMAT, ['format.named', 'validate']),
]);

/** The calls cel-bounds renamed to their bounded forms, by the name they were written with. */
const AS_WRITTEN: ReadonlyMap<string, string> = new Map([
  ...Object.entries(BOUNDED_STRING_CALLS).map(([written, renamed]) => [renamed, written] as const),
  [BOUNDED_SPLIT, 'split'],
  [RE2_MATCHES, 'matches'],
]);

/** The names of the functions (and macros) `env` has, in any form: receiver, arity, type. */
const namesByEnvironment = new WeakMap<Environment, ReadonlySet<string>>();

function functionNamesOf(env: Environment): ReadonlySet<string> {
  let names = namesByEnvironment.get(env);
  if (names === undefined) {
    names = new Set(env.getDefinitions().functions.map((f) => f.name));
    namesByEnvironment.set(env, names);
  }
  return names;
}

/**
 * The first call of `ast` to a function `env` has in no form, said as
 * `base64.decode is not supported by Chio (kyverno-authz has it from cel-go's encoders extension)`;
 * undefined when every call names a function it has (the type error is then another one).
 * `x.f(…)` where `x` is no variable of `env` is the namespaced function `x.f`, which it never has.
 */
export function unsupportedFunction(ast: AstNode, env: Environment): string | undefined {
  const known = functionNamesOf(env);
  const bound = boundNames(ast);
  for (const { op, args } of innermostFirst(ast)) {
    if ((op !== 'call' && op !== 'rcall') || !Array.isArray(args) || typeof args[0] !== 'string') continue;
    const receiver = op === 'rcall' ? (args[1] as AstNode | undefined) : undefined;
    // `envoy.Nope()` is named as written; so is `base64.decode()`, where `base64` is no variable at all.
    const namespace = receiver?.op === 'id' && typeof receiver.args === 'string' && !bound.has(receiver.args) ? receiver.args : undefined;
    if ((namespace === undefined || env.hasVariable(namespace)) && known.has(args[0])) continue;
    const written = AS_WRITTEN.get(args[0]) ?? args[0];
    const name = namespace === undefined ? written : `${namespace}.${written}`;
    const library = KYVERNO_AUTHZ_FUNCTIONS.get(name);
    return `${name} is not supported by Chio${library ? ` (kyverno-authz has it from ${library})` : ''}`;
  }
  return undefined;
}

/** Every node of `ast`, children before their parent: in `url(x).getHost()`, `url` is named first. */
function* innermostFirst(node: AstNode): Generator<AstNode> {
  for (const child of childrenOf(node)) yield* innermostFirst(child);
  yield node;
}

const BINDING_MACROS: ReadonlySet<string> = new Set([...COMPREHENSIONS, 'bind']);

/** The names comprehensions and cel.bind() bind in `ast`: `k` in `headers.exists(k, …)` is no namespace. */
function boundNames(ast: AstNode): Set<string> {
  const out = new Set<string>();
  for (const { op, args } of walkAst(ast)) {
    if (op !== 'rcall' || !Array.isArray(args) || !BINDING_MACROS.has(args[0] as string) || !Array.isArray(args[2])) continue;
    for (const a of args[2] as AstNode[]) if (a?.op === 'id' && typeof a.args === 'string') out.add(a.args);
  }
  return out;
}

/**
 * Why a parse failed when the source builds a message by its type name
 * (`envoy.config.core.v3.QueryParameter{key: "k", value: "v"}`), which cel-js cannot parse;
 * undefined otherwise. String literals are left out of the search.
 */
export function messageConstruction(source: string): string | undefined {
  const code = source.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""');
  const match = /(?:^|[^\w.])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*\{/.exec(code);
  if (match === null) return undefined;
  const hint = match[1]!.endsWith('QueryParameter') ? ': write envoy.QueryParam(key, value)' : match[1]!.endsWith('HeaderValueOption') ? ': write envoy.Header(key, value)' : '';
  return `building a message by its type name (${match[1]}{…}) is not supported by Chio${hint}`;
}
