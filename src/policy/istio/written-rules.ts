/**
 * What a written AuthorizationPolicy may say, checked when the policy set loads
 * (authorization-policy.ts compiles what passes). Each refusal is CONFIG_INVALID naming the
 * field. Two kinds: what Istio's own validation refuses (an empty `from`, `to`, source,
 * operation or condition, `remoteIpBlocks`), refused here too rather than read as "every
 * request"; and values no request could ever match (a lower-case method, a port that is no
 * number, a principal written with `spiffe://`, a header name that is no HTTP token, a path
 * pattern no normalised path has), which would make a DENY deny nothing without a word.
 */
import { ChioError } from '../../errors/index.js';
import { normalizePathPattern } from '../../decision/path.js';
import { HEADER_NAME } from '../../decision/check-input.js';
import { normalizeHostPattern } from '../match.js';
import type { OperationDoc, RuleDoc } from './authorization-policy.js';

/**
 * Istio's remote.ip is the client Envoy worked out from X-Forwarded-For (trusting a set number
 * of hops) or the PROXY protocol. A CheckRequest carries no such address; its headers carry
 * X-Forwarded-For, whose leftmost entries the client writes, so the refusal points at the
 * source address, never at a header condition (an ALLOW on `10.*` would admit a client that
 * sends `X-Forwarded-For: 10.9.9.9`).
 */
const REMOTE_REFUSED =
  'is the original client in Istio (from X-Forwarded-For or the PROXY protocol), which a CheckRequest does not carry; a condition on X-Forwarded-For, whose entries the client can write, is no substitute. Use ipBlocks or source.ip: the source address Envoy reports';

const isSet = (list: readonly string[] | undefined) => list !== undefined && list.length > 0;

/** What Istio's validation refuses (authorization-policy.ts's header says why), in its words. */
export function refuseEmptyParts(rule: RuleDoc, where: string): void {
  const refuse = (field: string, why: string) => {
    throw new ChioError('CONFIG_INVALID', `field ${where}.${field}: ${why} (Istio refuses it; it is not read as "every request")`);
  };
  if (rule.from?.length === 0) refuse('from', '`from` must not be empty');
  rule.from?.forEach(({ source: s }, i) => {
    if (!Object.values(s).some(isSet)) refuse(`from.${i}.source`, '`from.source` must not be empty');
    for (const field of ['remoteIpBlocks', 'notRemoteIpBlocks'] as const) if (s[field]) refuse(`from.${i}.source.${field}`, `${field} ${REMOTE_REFUSED}`);
  });
  if (rule.to?.length === 0) refuse('to', '`to` must not be empty');
  rule.to?.forEach(({ operation: o }, i) => {
    if (!Object.values(o).some(isSet)) refuse(`to.${i}.operation`, '`to.operation` must not be empty');
  });
  rule.when?.forEach((c, i) => {
    if (c.key === 'remote.ip') refuse(`when.${i}.key`, `remote.ip ${REMOTE_REFUSED}`);
    if (!isSet(c.values) && !isSet(c.notValues)) refuse(`when.${i}`, `at least one of \`values\` or \`notValues\` must be set for key ${c.key}`);
  });
}

/** Drop every empty list (an unset field; refuseEmptyParts has refused parts left with none). */
export function withoutEmptyLists(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutEmptyLists);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => !(Array.isArray(v) && v.length === 0))
      .map(([k, v]) => [k, withoutEmptyLists(v)]),
  );
}

/** The operation with its path patterns in the form request paths are matched in (decision/path.ts). */
export function withPathPatterns(o: OperationDoc, where: string): OperationDoc {
  const normal = (field: 'paths' | 'notPaths') =>
    o[field]?.map((pattern, k) => {
      try {
        return normalizePathPattern(pattern);
      } catch (err) {
        throw new ChioError('CONFIG_INVALID', `field ${where}.${field}.${k}: ${(err as Error).message}`);
      }
    });
  return { ...o, ...(o.paths ? { paths: normal('paths') } : {}), ...(o.notPaths ? { notPaths: normal('notPaths') } : {}) };
}

/** An upper-case HTTP token, `*` standing for any run of characters. */
const METHOD_PATTERN = /^[!#$%&'*+.^_`|~0-9A-Z-]+$/;

/**
 * A method pattern that is not upper case matches nothing (the Request guard refuses such a
 * request's method: decision/check-input.ts), so `methods: [delete]` in a DENY would deny
 * nothing: refused.
 */
export function refuseUnmatchableMethods(o: OperationDoc, where: string): void {
  for (const field of ['methods', 'notMethods'] as const) {
    o[field]?.forEach((method, k) => {
      if (!METHOD_PATTERN.test(method)) {
        throw new ChioError('CONFIG_INVALID', `field ${where}.${field}.${k}: ${JSON.stringify(method)} is not an upper-case HTTP method, and would match no request (a method that is not upper case is refused)`);
      }
    });
  }
}

/** A port as a request's destination has one: a decimal 1–65535, no leading zero, no `*` (Istio's validation takes no other). */
const PORT_VALUE = /^[1-9][0-9]{0,4}$/;
const isPort = (value: string) => PORT_VALUE.test(value) && Number(value) <= 65535;

/**
 * Values written in a form no request ever has match nothing, so a DENY built on them denies
 * nothing: a port that is no port number (`08080`, `http`); a principal written with
 * `spiffe://` — Istio compares principals with the peer's SPIFFE id minus that prefix (and so
 * does principalOf), so `spiffe://cluster.local/ns/a/sa/b` never matches; and a header
 * condition on a name that is no HTTP token (`request.headers[x-team ]`, a stray space from a
 * template), which Envoy takes and never matches, and the Request guard refuses. All refused.
 */
export function refuseUnmatchableValues(doc: RuleDoc, where: string): void {
  const check = (list: string[] | undefined, at: string, valid: (v: string) => boolean, why: string) =>
    list?.forEach((value, k) => {
      if (!valid(value)) throw new ChioError('CONFIG_INVALID', `field ${at}.${k}: ${JSON.stringify(value)} ${why}, and would match no request`);
    });
  const port = (list: string[] | undefined, at: string) => check(list, at, isPort, 'is not a port number (1 to 65535, no leading zero)');
  const principal = (list: string[] | undefined, at: string) =>
    check(list, at, (v) => !/^spiffe:\/\//i.test(v), 'starts with spiffe://, which principals are written without (cluster.local/ns/<namespace>/sa/<account>)');
  doc.to?.forEach(({ operation: o }, i) => {
    port(o.ports, `${where}.to.${i}.operation.ports`);
    port(o.notPorts, `${where}.to.${i}.operation.notPorts`);
    refuseUnmatchableHosts(o.hosts, `${where}.to.${i}.operation.hosts`);
    refuseUnmatchableHosts(o.notHosts, `${where}.to.${i}.operation.notHosts`);
  });
  doc.from?.forEach(({ source: s }, i) => {
    principal(s.principals, `${where}.from.${i}.source.principals`);
    principal(s.notPrincipals, `${where}.from.${i}.source.notPrincipals`);
  });
  doc.when?.forEach((c, i) => {
    const header = /^request\.headers\[(.*)\]$/.exec(c.key)?.[1];
    if (header !== undefined && !HEADER_NAME.test(header)) {
      throw new ChioError('CONFIG_INVALID', `field ${where}.when.${i}.key: header name ${JSON.stringify(header)} is not an HTTP token, which every header name a request carries is, and would match no request`);
    }
    const rule = c.key === 'destination.port' ? port : c.key === 'source.principal' ? principal : undefined;
    rule?.(c.values, `${where}.when.${i}.values`);
    rule?.(c.notValues, `${where}.when.${i}.notValues`);
  });
}

/**
 * Why no request's host could match a host pattern, or undefined when one can. A request's host
 * is normalised (decision/host.ts): letters, digits, `.`, `-`, `_`, or an IPv6 literal in
 * brackets, then maybe `:port`. A `*` inside (`api.*.com`) is a literal `*` to Istio and here,
 * not a wildcard; an IPv6 address without brackets (`::1`) reads as a name and a port.
 */
function unmatchableHost(written: string): string | undefined {
  const pattern = normalizeHostPattern(written);
  if (pattern === '*') return undefined;
  const core = pattern.startsWith('*') ? pattern.slice(1) : pattern.endsWith('*') ? pattern.slice(0, -1) : pattern;
  // A port wildcard (`example.com:*`) is the one `*` a pattern may hold past its ends.
  const inner = core.replace(/:\*$/, '');
  if (inner.includes('*')) return 'has a * inside: a host pattern is exact, prefix*, *suffix or *, and a * elsewhere is a literal * no host has';
  if (/[^a-z0-9._:[\]-]/.test(inner)) return 'holds a character no host has once normalised (a host is letters, digits, ".", "-", "_", an IPv6 literal in brackets and a port)';
  if (!pattern.startsWith('*') && /:.*:/.test(inner) && !inner.startsWith('[')) return 'is an IPv6 address without brackets: write it as a request carries it, [::1] (with its port after: [::1]:8080)';
  return undefined;
}

/** Host patterns no request's host could match: a DENY built on them would deny nothing. Refused. */
export function refuseUnmatchableHosts(list: readonly string[] | undefined, at: string): void {
  list?.forEach((pattern, k) => {
    const why = unmatchableHost(pattern);
    if (why !== undefined) throw new ChioError('CONFIG_INVALID', `field ${at}.${k}: host pattern ${JSON.stringify(pattern)} ${why}, and would match no request`);
  });
}
