/**
 * The CEL environment kyverno-authz policies are written against (SPEC §4 item 5): the
 * standard library with optional values (`headers[?"x"].orValue("")`, `.hasValue()`), the
 * variables `object` (the CheckRequest) and `variables`, and kyverno's `envoy` library
 * (kyverno-authz docs, "CEL extensions: envoy"):
 *
 *   envoy.Allowed()                          → OkHttpResponse
 *   envoy.Denied(int code)                   → DeniedHttpResponse
 *   envoy.Header(string key, string value)   → HeaderValueOption
 *   envoy.QueryParam(string key, string val) → QueryParameter
 *   envoy.Response(Ok | Denied)              → CheckResponse, as <Ok|Denied>.Response()
 *   envoy.Response(int code)                 → CheckResponse of a gRPC status alone: 0 allows
 *                                              as envoy.Allowed(), any other code denies as
 *                                              Envoy does with no denied response, 403
 *   <HeaderValueOption>.KeepEmptyValue([bool]) keep_empty_value: Envoy adds it even if empty
 *   <Ok>.WithHeader(k, v | header)           request header to add upstream
 *   <Ok>.WithoutHeader(k)                    request header to remove
 *   <Ok>.WithResponseHeader(k, v | header)   header to add to the client's response
 *   <Ok>.WithQueryParam(k, v | param)        query parameter to set upstream (query_parameters_to_set)
 *   <Ok>.WithoutQueryParam(k)                query parameter to remove (query_parameters_to_remove)
 *   <Denied>.WithHeader(k, v | header)       header on the denied response
 *   <Denied>.WithBody(string)                body of the denied response
 *   <Ok|Denied>.Response()                   → CheckResponse
 *   <CheckResponse>.WithMessage(string)      the status message (Chio: the reason)
 *   <CheckResponse>.WithMetadata(map)        dynamic metadata for later Envoy filters
 *
 * And cel-go's encoders extension, as kyverno-authz has it: `base64.encode(bytes)`,
 * `base64.decode(string)` (./encoders.ts, charged to the string budget). And Kubernetes' IP
 * and CIDR libraries: `ip(…)`, `cidr(…).containsIP(…)`, … (./k8s-ip.ts); cel-go's strings
 * `replace`, `charAt`, `reverse` (./strings-extension.ts); cel-go's `sets.contains`,
 * `sets.equivalent`, `sets.intersects` (./cel-sets.ts); Kubernetes' lists library: `isSorted`,
 * `sum`, `min`, `max`, `indexOf`, `lastIndexOf` (./k8s-lists.ts); cel-go's lists extension:
 * `lists.range`, `slice`, `flatten`, `distinct`, `reverse`, `sort`, `sortBy`, and the optional
 * `first` and `last` (./cel-lists.ts).
 *
 * Not here: building a message by name (`envoy.config.core.v3.QueryParameter{key: "k", value:
 * "v"}`), which cel-js cannot parse: envoy.QueryParam("k", "v") builds the same.
 *
 * `.Response()` is typed `dyn` so that `cond ? envoy.Denied(403).Response() : null` checks, as it
 * does in cel-go where null is assignable to a message; the evaluator checks the result's type.
 *
 * `matches` uses RE2 (re2js, linear time) instead of the JavaScript RegExp the CEL library
 * would use: a pattern meets attacker-controlled header values, and backtracking must not be
 * a way to stall a Check (see ./cel-bounds.ts, which renames the calls, and ./re2-patterns.ts,
 * which charges compiling a pattern that is not a literal of the policy), and so do
 * Kubernetes' `find` and `findAll` (Go's FindString, FindAllString). `split` is
 * splitBounded, which refuses a list longer than the cost estimate assumes. The string calls
 * whose time grows with their text (`contains`, `indexOf`, `lowerAscii`, `size`, …) are the
 * forms of ./bounded-strings.ts, which charge what they scan to the evaluation's budget.
 */
import { Environment, EvaluationError } from '@marcbachmann/cel-js';
import type { UnsignedInt } from '@marcbachmann/cel-js/evaluator';
import { BOUNDED_SPLIT, BOUNDED_STRING_CALLS, MAX_AST_NODES, MAX_NESTING_DEPTH, PresenceOnMessage, RE2_MATCHES, splitBounded } from './cel-bounds.js';
import { Re2Patterns } from './re2-patterns.js';
import { CelMessage } from '../kyverno/kyverno-input.js';
import * as bounded from './bounded-strings.js';
import { base64Decode, base64Encode } from './encoders.js';
import { celEquals } from './cel-equality.js';
import { registerKubernetesIpLibrary } from './k8s-ip.js';
import { registerStringsExtension } from './strings-extension.js';
import { registerSetsExtension } from './cel-sets.js';
import { registerKubernetesListsLibrary } from './k8s-lists.js';
import { registerListsExtension } from './cel-lists.js';

export interface HeaderOption {
  key: string;
  value: string;
  /** HeaderValueOption.keep_empty_value: Envoy drops a header whose value is empty unless this is set. */
  keepEmptyValue?: boolean;
}

export class HeaderValueOption implements HeaderOption {
  constructor(
    readonly key: string,
    readonly value: string,
    readonly keepEmptyValue = false,
  ) {}
}

/** envoy.config.core.v3.QueryParameter. */
export interface QueryParameterOption {
  key: string;
  value: string;
}

export class QueryParameter implements QueryParameterOption {
  constructor(
    readonly key: string,
    readonly value: string,
  ) {}
}

/** The fields of OkHttpResponse a policy sets (external_auth.proto, by their proto names in camelCase). */
export interface OkHttpParts {
  headers: readonly HeaderOption[];
  headersToRemove: readonly string[];
  responseHeadersToAdd: readonly HeaderOption[];
  queryParametersToSet: readonly QueryParameterOption[];
  queryParametersToRemove: readonly string[];
}

export class OkHttpResponse implements OkHttpParts {
  readonly headers: readonly HeaderOption[];
  readonly headersToRemove: readonly string[];
  readonly responseHeadersToAdd: readonly HeaderOption[];
  readonly queryParametersToSet: readonly QueryParameterOption[];
  readonly queryParametersToRemove: readonly string[];

  constructor(parts: Partial<OkHttpParts> = {}) {
    this.headers = parts.headers ?? [];
    this.headersToRemove = parts.headersToRemove ?? [];
    this.responseHeadersToAdd = parts.responseHeadersToAdd ?? [];
    this.queryParametersToSet = parts.queryParametersToSet ?? [];
    this.queryParametersToRemove = parts.queryParametersToRemove ?? [];
  }

  /** A copy with `change` applied: values of the library are never changed in place. */
  with(change: Partial<OkHttpParts>): OkHttpResponse {
    return new OkHttpResponse({ ...this, ...change });
  }
}

export class DeniedHttpResponse {
  constructor(
    readonly status: bigint,
    readonly headers: readonly HeaderOption[] = [],
    readonly body = '',
  ) {}
}

export class CheckResponse {
  constructor(
    readonly http: OkHttpResponse | DeniedHttpResponse,
    readonly message = '',
    readonly metadata: unknown = undefined,
  ) {}
}

const MAX_INT = 2n ** 63n - 1n;

/** The `envoy` identifier: a namespace value whose methods build responses. */
class EnvoyNamespace {}

/** The `base64` identifier of cel-go's encoders extension (./encoders.ts). */
class Base64Namespace {}

/** Each environment's patterns: its policies' literals, compiled when they load (see ./re2-patterns.ts). */
const patternsByEnvironment = new WeakMap<Environment, Re2Patterns>();

/** The patterns of the policy set built on `env`, where its literal patterns go when they load. */
export function re2PatternsOf(env: Environment): Re2Patterns {
  const patterns = patternsByEnvironment.get(env);
  if (patterns === undefined) throw new Error('not an environment of createEnvoyEnvironment');
  return patterns;
}

/** A fresh environment; each policy set builds one (its only state: the literal patterns of its policies). */
export function createEnvoyEnvironment(): Environment {
  const env = new Environment({
    enableOptionalTypes: true,
    homogeneousAggregateLiterals: false,
    limits: { maxAstNodes: MAX_AST_NODES, maxDepth: MAX_NESTING_DEPTH, maxListElements: 256, maxMapEntries: 256, maxCallArguments: 8 },
  });
  // The CheckRequest's messages are a type of their own, not maps: a presence test on one is an
  // error (CelMessage, PresenceOnMessage); `m.f` and `m["f"]` read a field.
  env.registerType('Message', CelMessage);
  env.registerVariable('object', 'Message');
  env.registerVariable('variables', 'map<string, dyn>');
  env.registerOperator('string in Message', () => {
    throw new PresenceOnMessage('"field" in');
  });
  // Proto equality, field by field (as maps compared before messages were a type): not identity.
  env.registerOperator('Message == Message', (a: CelMessage, b: CelMessage) => celEquals(a, b));
  env.registerType('EnvoyNamespace', EnvoyNamespace);
  env.registerType('OkHttpResponse', OkHttpResponse);
  env.registerType('DeniedHttpResponse', DeniedHttpResponse);
  env.registerType('HeaderValueOption', HeaderValueOption);
  env.registerType('QueryParameter', QueryParameter);
  env.registerType('CheckResponse', CheckResponse);
  env.registerConstant('envoy', 'EnvoyNamespace', new EnvoyNamespace());
  env.registerType('Base64Namespace', Base64Namespace);
  env.registerConstant('base64', 'Base64Namespace', new Base64Namespace());

  const fn = (signature: string, handler: (...args: any[]) => unknown) => env.registerFunction(signature, handler);
  fn('EnvoyNamespace.Allowed(): OkHttpResponse', () => new OkHttpResponse());
  fn('EnvoyNamespace.Denied(int): DeniedHttpResponse', (_: EnvoyNamespace, code: bigint) => new DeniedHttpResponse(code));
  fn('EnvoyNamespace.Header(string, string): HeaderValueOption', (_: EnvoyNamespace, k: string, v: string) => new HeaderValueOption(k, v));
  fn('EnvoyNamespace.QueryParam(string, string): QueryParameter', (_: EnvoyNamespace, k: string, v: string) => new QueryParameter(k, v));
  fn('HeaderValueOption.KeepEmptyValue(): HeaderValueOption', (h: HeaderValueOption) => new HeaderValueOption(h.key, h.value, true));
  fn('HeaderValueOption.KeepEmptyValue(bool): HeaderValueOption', (h: HeaderValueOption, keep: boolean) => new HeaderValueOption(h.key, h.value, keep));

  const header = (k: string, v: string): HeaderOption => ({ key: k, value: v });
  fn('OkHttpResponse.WithHeader(string, string): OkHttpResponse', (r: OkHttpResponse, k: string, v: string) => r.with({ headers: [...r.headers, header(k, v)] }));
  fn('OkHttpResponse.WithHeader(HeaderValueOption): OkHttpResponse', (r: OkHttpResponse, h: HeaderValueOption) => r.with({ headers: [...r.headers, h] }));
  fn('OkHttpResponse.WithoutHeader(string): OkHttpResponse', (r: OkHttpResponse, k: string) => r.with({ headersToRemove: [...r.headersToRemove, k] }));
  fn('OkHttpResponse.WithResponseHeader(string, string): OkHttpResponse', (r: OkHttpResponse, k: string, v: string) =>
    r.with({ responseHeadersToAdd: [...r.responseHeadersToAdd, header(k, v)] }));
  fn('OkHttpResponse.WithResponseHeader(HeaderValueOption): OkHttpResponse', (r: OkHttpResponse, h: HeaderValueOption) =>
    r.with({ responseHeadersToAdd: [...r.responseHeadersToAdd, h] }));
  fn('OkHttpResponse.WithQueryParam(string, string): OkHttpResponse', (r: OkHttpResponse, k: string, v: string) =>
    r.with({ queryParametersToSet: [...r.queryParametersToSet, new QueryParameter(k, v)] }));
  fn('OkHttpResponse.WithQueryParam(QueryParameter): OkHttpResponse', (r: OkHttpResponse, p: QueryParameter) =>
    r.with({ queryParametersToSet: [...r.queryParametersToSet, p] }));
  fn('OkHttpResponse.WithoutQueryParam(string): OkHttpResponse', (r: OkHttpResponse, k: string) =>
    r.with({ queryParametersToRemove: [...r.queryParametersToRemove, k] }));

  fn('DeniedHttpResponse.WithHeader(string, string): DeniedHttpResponse', (r: DeniedHttpResponse, k: string, v: string) =>
    new DeniedHttpResponse(r.status, [...r.headers, { key: k, value: v }], r.body));
  fn('DeniedHttpResponse.WithHeader(HeaderValueOption): DeniedHttpResponse', (r: DeniedHttpResponse, h: HeaderValueOption) =>
    new DeniedHttpResponse(r.status, [...r.headers, h], r.body));
  fn('DeniedHttpResponse.WithBody(string): DeniedHttpResponse', (r: DeniedHttpResponse, body: string) => new DeniedHttpResponse(r.status, r.headers, body));

  fn('OkHttpResponse.Response(): dyn', (r: OkHttpResponse) => new CheckResponse(r));
  fn('DeniedHttpResponse.Response(): dyn', (r: DeniedHttpResponse) => new CheckResponse(r));
  fn('EnvoyNamespace.Response(OkHttpResponse): dyn', (_: EnvoyNamespace, r: OkHttpResponse) => new CheckResponse(r));
  fn('EnvoyNamespace.Response(DeniedHttpResponse): dyn', (_: EnvoyNamespace, r: DeniedHttpResponse) => new CheckResponse(r));
  // A status with no http_response: Envoy allows on OK and answers any other code 403 (ext_authz's default).
  fn('EnvoyNamespace.Response(int): dyn', (_: EnvoyNamespace, code: bigint) => new CheckResponse(code === 0n ? new OkHttpResponse() : new DeniedHttpResponse(403n)));
  fn('CheckResponse.WithMessage(string): CheckResponse', (r: CheckResponse, m: string) => new CheckResponse(r.http, m, r.metadata));
  fn('CheckResponse.WithMetadata(map<string, dyn>): CheckResponse', (r: CheckResponse, m: unknown) => new CheckResponse(r.http, r.message, m));

  // cel-go's int(uint), which cel-js lacks: `int(port_value) == 22`, a uint32 field (kyverno-input.ts).
  fn('int(uint): int', (v: UnsignedInt) => {
    if (v.valueOf() > MAX_INT) throw new EvaluationError({ code: 'numeric_overflow', message: 'int() type error: integer overflow' } as never);
    return v.valueOf();
  });

  fn('Base64Namespace.encode(bytes): string', (_: Base64Namespace, data: Uint8Array) => base64Encode(data));
  fn('Base64Namespace.decode(string): bytes', (_: Base64Namespace, text: string) => base64Decode(text));
  registerKubernetesIpLibrary(env);
  registerStringsExtension(env);
  registerSetsExtension(env);
  registerKubernetesListsLibrary(env);
  registerListsExtension(env);

  const patterns = new Re2Patterns();
  patternsByEnvironment.set(env, patterns);
  const matches = (text: string, pattern: string) => patterns.matches(text, pattern);
  fn(`string.${RE2_MATCHES}(string): bool`, matches);
  fn(`${RE2_MATCHES}(string, string): bool`, matches);
  // The Kubernetes regex library, on the same engine and budgets.
  fn('string.find(string): string', (text: string, pattern: string) => patterns.find(text, pattern));
  fn('string.findAll(string): list<string>', (text: string, pattern: string) => patterns.findAll(text, pattern));
  fn('string.findAll(string, int): list<string>', (text: string, pattern: string, limit: bigint) => patterns.findAll(text, pattern, limit));
  fn(`string.${BOUNDED_SPLIT}(string): list<string>`, (s: string, sep: string) => splitBounded(s, sep));
  fn(`string.${BOUNDED_SPLIT}(string, int): list<string>`, splitBounded);

  // cel-js's overloads of each (lib/functions.js), under the names the calls are renamed to.
  const name = BOUNDED_STRING_CALLS;
  fn(`string.${name.contains}(string): bool`, (s: string, t: string) => bounded.containsBounded(s, t));
  fn(`string.${name.startsWith}(string): bool`, (s: string, t: string) => bounded.startsWithBounded(s, t));
  fn(`string.${name.endsWith}(string): bool`, (s: string, t: string) => bounded.endsWithBounded(s, t));
  fn(`string.${name.indexOf}(string): int`, (s: string, t: string) => bounded.indexOfBounded(s, t));
  fn(`string.${name.indexOf}(string, int): int`, (s: string, t: string, from: bigint) => bounded.indexOfBounded(s, t, from));
  fn(`string.${name.lastIndexOf}(string): int`, (s: string, t: string) => bounded.lastIndexOfBounded(s, t));
  fn(`string.${name.lastIndexOf}(string, int): int`, (s: string, t: string, from: bigint) => bounded.lastIndexOfBounded(s, t, from));
  fn(`string.${name.lowerAscii}(): string`, (s: string) => bounded.lowerAsciiBounded(s));
  fn(`string.${name.upperAscii}(): string`, (s: string) => bounded.upperAsciiBounded(s));
  fn(`string.${name.trim}(): string`, (s: string) => bounded.trimBounded(s));
  fn(`string.${name.substring}(int): string`, (s: string, start: bigint) => bounded.substringBounded(s, start));
  fn(`string.${name.substring}(int, int): string`, (s: string, start: bigint, end: bigint) => bounded.substringBounded(s, start, end));
  fn(`list<string>.${name.join}(): string`, (v: unknown[]) => bounded.joinBounded(v));
  fn(`list<string>.${name.join}(string): string`, (v: unknown[], sep: string) => bounded.joinBounded(v, sep));
  // `size` of the other types does not scan; it is here because the call was renamed.
  const listSize = (v: { length?: number; size?: number }) => BigInt(v.length ?? v.size!);
  const mapSize = (v: object) => BigInt(v instanceof Map ? v.size : Object.keys(v).length);
  fn(`${name.size}(string): int`, (s: string) => bounded.stringSizeBounded(s));
  fn(`string.${name.size}(): int`, (s: string) => bounded.stringSizeBounded(s));
  fn(`${name.size}(bytes): int`, (v: Uint8Array) => BigInt(v.length));
  fn(`${name.size}(list): int`, listSize);
  fn(`${name.size}(map): int`, mapSize);
  fn(`bytes.${name.size}(): int`, (v: Uint8Array) => BigInt(v.length));
  fn(`list.${name.size}(): int`, listSize);
  fn(`map.${name.size}(): int`, mapSize);
  return env;
}
