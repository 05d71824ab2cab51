import { describe, expect, it } from 'vitest';
import {
  authorizationPolicySchema, compileAuthorizationPolicy, evaluateAuthorization,
  type AuthorizationPolicyDoc, type CompiledPolicy, type PolicyContext,
} from '../../../../src/policy/istio/authorization-policy.js';
import { toCheckInput, type CheckInput } from '../../../../src/decision/check-input.js';
import { normalizeTarget } from '../../../../src/decision/path.js';
import { ChioError } from '../../../../src/errors/index.js';

function input(over: Partial<CheckInput> = {}): CheckInput {
  const path = over.path ?? '/';
  return {
    kind: 'http', requestId: 'r', method: 'GET', host: 'svc1.example.com', rawPath: path, path, target: normalizeTarget(path), protocol: 'HTTP/1.1',
    headers: new Map(), sourcePrincipal: '', sourceAddress: '10.0.0.5:4000', destinationAddress: '10.0.0.9:8080', ...over,
  };
}

function policy(name: string, action: 'ALLOW' | 'DENY' | 'AUDIT', rules: unknown[], extra: { hosts?: string[]; shadow?: boolean } = {}): CompiledPolicy {
  const doc: AuthorizationPolicyDoc = authorizationPolicySchema.parse({
    apiVersion: 'chio.dev/v1', kind: 'AuthorizationPolicy',
    metadata: { name, ...(extra.shadow ? { annotations: { 'chio.dev/shadow': 'true' } } : {}) },
    spec: { action, rules, ...(extra.hosts ? { hosts: extra.hosts } : {}) },
  });
  return compileAuthorizationPolicy(doc);
}

const jwt = (sub: string, claims: Record<string, unknown> = {}) => ({ requestPrincipal: `testing@secure.istio.io/${sub}`, claims: { iss: 'testing@secure.istio.io', sub, ...claims } });

const tools = policy('tools', 'ALLOW', [{ to: [{ operation: { methods: ['POST'], paths: ['/tools/*'] } }] }]);
const denyAdmin = policy('no-admin', 'DENY', [{ to: [{ operation: { paths: ['/admin*'] } }] }]);
const svc2FromSvc1 = policy('svc2-from-svc1', 'ALLOW', [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/svc1-sa'] } }] }], { hosts: ['svc2.example.com'] });
const withHeader = policy('hdr', 'ALLOW', [{ when: [{ key: 'request.headers[x-team]', values: ['blue'], notValues: ['red'] }] }]);
const fromNs = policy('ns', 'ALLOW', [{ from: [{ source: { namespaces: ['prod'], notNamespaces: ['prod-legacy'] } }] }]);
const fromNet = policy('net', 'ALLOW', [{ from: [{ source: { ipBlocks: ['10.0.0.0/24'], notIpBlocks: ['10.0.0.7'] } }] }]);
const alice = policy('alice', 'ALLOW', [{ from: [{ source: { requestPrincipals: ['testing@secure.istio.io/alice'] } }] }]);
const group1 = policy('group1', 'ALLOW', [{ when: [{ key: 'request.auth.claims[groups]', values: ['group1'] }] }]);
const nested = policy('nested', 'ALLOW', [{ when: [{ key: 'request.auth.claims[org][team]', values: ['blue'] }] }]);
const port8080 = policy('port', 'ALLOW', [{ to: [{ operation: { ports: ['8080'] } }] }]);
const audit = policy('audit-all', 'AUDIT', [{}]);

type Case = [string, CompiledPolicy[], Partial<CheckInput>, Partial<PolicyContext>, 'allow' | 'deny', 'allow' | 'deny'];

describe('evaluateAuthorization', () => {
  const cases: Case[] = [
    ['ALLOW match', [tools], { method: 'POST', path: '/tools/x' }, {}, 'deny', 'allow'],
    ['ALLOW no match', [tools], { method: 'GET', path: '/tools/x' }, {}, 'deny', 'deny'],
    ['DENY before ALLOW', [tools, policy('deny-tools', 'DENY', [{ to: [{ operation: { paths: ['/tools/*'] } }] }])], { method: 'POST', path: '/tools/x' }, {}, 'deny', 'deny'],
    ['DENY only, not matched, default deny', [denyAdmin], { path: '/x' }, {}, 'deny', 'deny'],
    ['DENY only, not matched, CHIO_DEFAULT=allow', [denyAdmin], { path: '/x' }, {}, 'allow', 'allow'],
    ['DENY matched wins over CHIO_DEFAULT=allow', [denyAdmin], { path: '/admin/users' }, {}, 'allow', 'deny'],
    ['no policies, default deny', [], {}, {}, 'deny', 'deny'],
    ['ALLOW for another host does not apply', [svc2FromSvc1], { host: 'svc1.example.com' }, {}, 'allow', 'allow'],
    ['principal matches without spiffe://', [svc2FromSvc1], { host: 'svc2.example.com', sourcePrincipal: 'spiffe://cluster.local/ns/default/sa/svc1-sa' }, {}, 'deny', 'allow'],
    ['principal mismatch', [svc2FromSvc1], { host: 'svc2.example.com', sourcePrincipal: 'spiffe://cluster.local/ns/default/sa/other' }, {}, 'allow', 'deny'],
    ['header condition holds', [withHeader], { headers: new Map([['x-team', 'blue']]) }, {}, 'deny', 'allow'],
    ['header condition absent', [withHeader], {}, {}, 'deny', 'deny'],
    ['header in notValues', [policy('not-red', 'ALLOW', [{ when: [{ key: 'request.headers[x-team]', notValues: ['red'] }] }])], { headers: new Map([['x-team', 'red']]) }, {}, 'deny', 'deny'],
    ['ALLOW with no rules allows nothing', [policy('nothing', 'ALLOW', [])], {}, {}, 'allow', 'deny'],
    ['ALLOW with an empty rule allows everything', [policy('all', 'ALLOW', [{}])], {}, {}, 'deny', 'allow'],
    ['namespace from the principal', [fromNs], { sourcePrincipal: 'spiffe://cluster.local/ns/prod/sa/api' }, {}, 'deny', 'allow'],
    ['namespace in notNamespaces', [fromNs], { sourcePrincipal: 'spiffe://cluster.local/ns/prod-legacy/sa/api' }, {}, 'deny', 'deny'],
    ['no principal, no namespace', [fromNs], {}, {}, 'deny', 'deny'],
    ['ipBlocks CIDR', [fromNet], { sourceAddress: '10.0.0.200:1234' }, {}, 'deny', 'allow'],
    ['notIpBlocks single address', [fromNet], { sourceAddress: '10.0.0.7:1234' }, {}, 'deny', 'deny'],
    ['outside ipBlocks', [fromNet], { sourceAddress: '10.0.1.1:1234' }, {}, 'deny', 'deny'],
    ['requestPrincipal alice', [alice], {}, { jwt: jwt('alice') }, 'deny', 'allow'],
    ['requestPrincipal bob', [alice], {}, { jwt: jwt('bob') }, 'deny', 'deny'],
    ['requestPrincipal without a JWT', [alice], {}, {}, 'deny', 'deny'],
    ['list-valued claim contains group1', [group1], {}, { jwt: jwt('bob', { groups: ['group1', 'group2'] }) }, 'deny', 'allow'],
    ['list-valued claim without group1', [group1], {}, { jwt: jwt('bob', { groups: ['group2'] }) }, 'deny', 'deny'],
    ['nested claim [org][team]', [nested], {}, { jwt: jwt('bob', { org: { team: 'blue' } }) }, 'deny', 'allow'],
    ['destination port', [port8080], {}, {}, 'deny', 'allow'],
    ['AUDIT never decides', [audit], {}, {}, 'deny', 'deny'],
    ['TCP: ALLOW with HTTP fields never matches', [tools], { kind: 'tcp', method: '', path: '' }, {}, 'deny', 'deny'],
    ['TCP: ALLOW on source only still matches', [fromNet], { kind: 'tcp', method: '', path: '', sourceAddress: '10.0.0.1:9' }, {}, 'deny', 'allow'],
    ['TCP: DENY ignores HTTP fields (denies more)', [denyAdmin, policy('all', 'ALLOW', [{}])], { kind: 'tcp', method: '', path: '' }, {}, 'deny', 'deny'],
    ['TCP: ALLOW with notHosts never matches', [policy('nh', 'ALLOW', [{ to: [{ operation: { notHosts: ['evil'] } }] }])], { kind: 'tcp', method: '', path: '', host: '' }, {}, 'deny', 'deny'],
    ['TCP: ALLOW with notRequestPrincipals never matches', [policy('nrp', 'ALLOW', [{ from: [{ source: { notRequestPrincipals: ['x'] } }] }])], { kind: 'tcp', method: '', path: '', host: '' }, {}, 'deny', 'deny'],
    ['TCP: DENY on hosts+ports ignores hosts', [policy('d', 'DENY', [{ to: [{ operation: { hosts: ['admin'], ports: ['8080'] } }] }]), policy('all', 'ALLOW', [{}])], { kind: 'tcp', method: '', path: '', host: '' }, {}, 'deny', 'deny'],
    ['TCP: a host-scoped DENY policy still applies', [policy('d', 'DENY', [{}], { hosts: ['admin'] }), policy('all', 'ALLOW', [{}])], { kind: 'tcp', method: '', path: '', host: '' }, {}, 'deny', 'deny'],
    ['empty list is unset: DENY {methods:[DELETE], paths:[]} denies DELETE', [policy('d', 'DENY', [{ to: [{ operation: { methods: ['DELETE'], paths: [] } }] }]), policy('all', 'ALLOW', [{}])], { method: 'DELETE', path: '/x' }, {}, 'deny', 'deny'],
    ['empty list is unset: ALLOW {principals:[], namespaces:[ns]} reads only namespaces', [policy('a', 'ALLOW', [{ from: [{ source: { principals: [], namespaces: ['default'] } }] }])], { sourcePrincipal: 'spiffe://cluster.local/ns/default/sa/a' }, {}, 'deny', 'allow'],
    ['source.ip in a CIDR: DENY denies', [policy('d', 'DENY', [{ when: [{ key: 'source.ip', values: ['10.1.0.0/16'] }] }]), policy('all', 'ALLOW', [{}])], { sourceAddress: '10.1.2.3:4000' }, {}, 'deny', 'deny'],
    ['source.ip outside the CIDR: DENY does not', [policy('d', 'DENY', [{ when: [{ key: 'source.ip', values: ['10.1.0.0/16'] }] }]), policy('all', 'ALLOW', [{}])], { sourceAddress: '10.2.2.3:4000' }, {}, 'deny', 'allow'],
    ['destination.ip in a CIDR: DENY denies', [policy('d', 'DENY', [{ when: [{ key: 'destination.ip', values: ['10.0.0.0/24'] }] }]), policy('all', 'ALLOW', [{}])], { destinationAddress: '10.0.0.9:8080' }, {}, 'deny', 'deny'],
    ['source.ip notValues CIDR: ALLOW admits no address inside it', [policy('a', 'ALLOW', [{ when: [{ key: 'source.ip', notValues: ['10.1.0.0/16'] }] }])], { sourceAddress: '10.1.2.3:4000' }, {}, 'deny', 'deny'],
    ['source.ip notValues CIDR: ALLOW admits an address outside it', [policy('a', 'ALLOW', [{ when: [{ key: 'source.ip', notValues: ['10.1.0.0/16'] }] }])], { sourceAddress: '192.0.2.1:4000' }, {}, 'deny', 'allow'],
    ['a header given empty is present: DENY values ["*"] denies', [policy('d', 'DENY', [{ when: [{ key: 'request.headers[x-debug]', values: ['*'] }] }]), policy('all', 'ALLOW', [{}])], { headers: new Map([['x-debug', '']]) }, {}, 'deny', 'deny'],
    ['an absent header is not present: DENY values ["*"] does not deny', [policy('d', 'DENY', [{ when: [{ key: 'request.headers[x-debug]', values: ['*'] }] }]), policy('all', 'ALLOW', [{}])], {}, {}, 'deny', 'allow'],
    ['non-SPIFFE principal matches no principal pattern', [svc2FromSvc1], { host: 'svc2.example.com', sourcePrincipal: 'cluster.local/ns/default/sa/svc1-sa' }, {}, 'deny', 'deny'],
  ];
  it.each(cases)('%s', (_name, policies, over, ctx, defaultVerdict, expected) => {
    expect(evaluateAuthorization(policies, { input: input(over), ...ctx }, defaultVerdict).verdict).toBe(expected);
  });

  it('names the DENY policy that matched and the AUDIT policies', () => {
    const out = evaluateAuthorization([denyAdmin, audit], { input: input({ path: '/admin' }) }, 'allow');
    expect(out).toEqual({ verdict: 'deny', policy: 'no-admin', reason: 'denied by policy no-admin', audited: ['audit-all'], explicit: true });
  });

  it('folds ValidatingPolicy verdicts in after DENY and as an ALLOW match', () => {
    const ctx = { input: input({ path: '/admin' }) };
    expect(evaluateAuthorization([denyAdmin], ctx, 'deny', { allow: 'kyverno' }).policy).toBe('no-admin');
    expect(evaluateAuthorization([tools], { input: input() }, 'deny', { allow: 'kyverno' })).toMatchObject({ verdict: 'allow', policy: 'kyverno' });
    expect(evaluateAuthorization([policy('all', 'ALLOW', [{}])], { input: input() }, 'allow', { deny: { policy: 'k', reason: 'GET only' } })).toMatchObject({ verdict: 'deny', reason: 'GET only' });
  });

  it('records the claims a condition read', () => {
    const usedClaims = new Map<string, string>();
    evaluateAuthorization([group1], { input: input(), jwt: jwt('bob', { groups: ['group1', 'group2'] }), usedClaims }, 'deny');
    expect([...usedClaims]).toEqual([['request.auth.claims[groups]', 'group1,group2']]);
  });

  it('records a long claim cut at 256 characters without half an emoji, which no receipt could hold', () => {
    const usedClaims = new Map<string, string>();
    const long = `${'g'.repeat(255)}\u{1F600}tail`;
    evaluateAuthorization([group1], { input: input(), jwt: jwt('bob', { groups: [long] }), usedClaims }, 'deny');
    const recorded = usedClaims.get('request.auth.claims[groups]')!;
    expect(recorded).toBe('g'.repeat(255));
    expect(recorded.isWellFormed()).toBe(true);
  });
});

describe('the source of an IPv6 client', () => {
  // Envoy's socket_address with port_value 0 (a PROXY-protocol address may come so): read back
  // as 2001:db8::1 port 5, a DENY on the client was walked around and an ALLOW admitted another.
  const ALLOW_ALL = policy('allow-all', 'ALLOW', [{}]);
  const from = (port_value: number) => ({ ...input(), sourceAddress: toCheckInput({ attributes: { source: { address: { socket_address: { address: '2001:db8::1:5', port_value } } } } }).sourceAddress });
  it.each([0, 40000])('is the whole address, port %i', (port) => {
    const denyBlock = policy('deny-block', 'DENY', [{ from: [{ source: { ipBlocks: ['2001:db8::1:5'] } }] }]);
    const denyIp = policy('deny-ip', 'DENY', [{ when: [{ key: 'source.ip', values: ['2001:db8::1:5'] }] }]);
    const allowOther = policy('allow-other', 'ALLOW', [{ from: [{ source: { ipBlocks: ['2001:db8::1/128'] } }] }]);
    expect(evaluateAuthorization([denyBlock, ALLOW_ALL], { input: from(port) }, 'deny').verdict).toBe('deny');
    expect(evaluateAuthorization([denyIp, ALLOW_ALL], { input: from(port) }, 'deny').verdict).toBe('deny');
    expect(evaluateAuthorization([allowOther], { input: from(port) }, 'deny').verdict).toBe('deny');
  });
});

describe('address blocks of the other IP version', () => {
  // Envoy's CidrRange holds only addresses of its own IP version; Node's BlockList read an
  // IPv4 address as its IPv4-mapped IPv6 form, so ::/0 held every IPv4 client.
  const ALLOW_ALL = policy('allow-all', 'ALLOW', [{}]);
  const at = (ip: string) => input({ sourceAddress: ip.includes(':') ? `[${ip}]:4000` : `${ip}:4000` });
  it.each([
    ['an IPv6-only ALLOW admits no IPv4 client', [policy('v6', 'ALLOW', [{ from: [{ source: { ipBlocks: ['::/0'] } }] }])], '10.1.2.3', 'deny'],
    ['an IPv6-only ALLOW admits an IPv6 client', [policy('v6', 'ALLOW', [{ from: [{ source: { ipBlocks: ['::/0'] } }] }])], '2001:db8::7', 'allow'],
    ['a DENY of all but IPv6 denies an IPv4 client', [policy('only-v6', 'DENY', [{ from: [{ source: { notIpBlocks: ['::/0'] } }] }]), ALLOW_ALL], '10.1.2.3', 'deny'],
    ['a DENY on source.ip notValues ::/0 denies an IPv4 client', [policy('only-v6', 'DENY', [{ when: [{ key: 'source.ip', notValues: ['::/0'] }] }]), ALLOW_ALL], '10.1.2.3', 'deny'],
    ['::ffff:0:0/96 holds no IPv4 client', [policy('mapped', 'ALLOW', [{ from: [{ source: { ipBlocks: ['::ffff:0:0/96'] } }] }])], '10.1.2.3', 'deny'],
    ['an IPv4 block holds no IPv4-mapped IPv6 client', [policy('v4', 'ALLOW', [{ from: [{ source: { ipBlocks: ['10.0.0.0/8'] } }] }])], '::ffff:10.1.2.3', 'deny'],
    ['a mixed list holds each version', [policy('both', 'ALLOW', [{ from: [{ source: { ipBlocks: ['2001:db8::/32', '10.0.0.0/8'] } }] }])], '10.1.2.3', 'allow'],
    ['a mixed list holds each version (IPv6)', [policy('both', 'ALLOW', [{ from: [{ source: { ipBlocks: ['2001:db8::/32', '10.0.0.0/8'] } }] }])], '2001:db8::7', 'allow'],
  ] as const)('%s', (_name, policies, ip, verdict) => {
    expect(evaluateAuthorization([...policies], { input: at(ip) }, 'deny').verdict).toBe(verdict);
  });
});

describe('a claim that is a list of mixed types', () => {
  const denyBlocked = policy('deny-blocked', 'DENY', [{ when: [{ key: 'request.auth.claims[groups]', values: ['blocked', '7', 'true'] }] }]);
  it.each([[['blocked', 1]], [[{ team: 'x' }, 'blocked']], [[7, null]], [[true]]])('matches element by element: %j', (groups) => {
    expect(evaluateAuthorization([denyBlocked, policy('all', 'ALLOW', [{}])], { input: input(), jwt: jwt('bob', { groups }) }, 'deny').verdict).toBe('deny');
  });
  it('matches nothing of elements that are no scalar', () => {
    expect(evaluateAuthorization([denyBlocked, policy('all', 'ALLOW', [{}])], { input: input(), jwt: jwt('bob', { groups: [{ blocked: true }, ['blocked']] }) }, 'deny').verdict).toBe('allow');
  });
});

describe('compileAuthorizationPolicy', () => {
  describe('when the document is wrong', () => {
    it.each([
      [{ from: [{ source: { ipBlocks: ['10.0.0.0/33'] } }] }, 'spec.rules.0.from.0.source.ipBlocks'],
      [{ from: [{ source: { ipBlocks: ['not-an-ip'] } }] }, 'spec.rules.0.from.0.source.ipBlocks'],
      // Number() read an empty prefix as /0 (every address) and took hex and exponents.
      [{ from: [{ source: { ipBlocks: ['10.0.0.0/'] } }] }, 'spec.rules.0.from.0.source.ipBlocks: "10.0.0.0/" is not'],
      [{ from: [{ source: { notIpBlocks: ['10.0.0.0/0x8'] } }] }, 'spec.rules.0.from.0.source.notIpBlocks: "10.0.0.0/0x8" is not'],
      [{ when: [{ key: 'source.ip', values: ['10.0.0.0/1e1'] }] }, 'spec.rules.0.when.0.values: "10.0.0.0/1e1" is not'],
      [{ when: [{ key: 'source.ip', values: ['10.0.0.0/8/8'] }] }, 'spec.rules.0.when.0.values: "10.0.0.0/8/8" is not'],
      [{ when: [{ key: 'request.body', values: ['x'] }] }, 'spec.rules.0.when.0.key'],
      // A header name no request can carry (the Request guard refuses one that is no HTTP
      // token): a DENY on it would deny nothing.
      [{ when: [{ key: 'request.headers[x team]', values: ['a'] }] }, 'spec.rules.0.when.0.key: header name "x team" is not an HTTP token'],
      [{ when: [{ key: 'request.headers[x-team ]', notValues: ['a'] }] }, 'spec.rules.0.when.0.key: header name "x-team " is not an HTTP token'],
      [{ when: [{ key: 'request.headers[[x-team]', values: ['a'] }] }, 'spec.rules.0.when.0.key: header name "[x-team" is not an HTTP token'],
      // What Istio's validation refuses is refused, not read as "every request".
      [{ from: [], to: [{ operation: { paths: ['/x'] } }] }, 'spec.rules.0.from: `from` must not be empty'],
      [{ from: [{ source: {} }] }, 'spec.rules.0.from.0.source: `from.source` must not be empty'],
      [{ from: [{ source: { principals: [], notNamespaces: [] } }] }, 'spec.rules.0.from.0.source: `from.source` must not be empty'],
      [{ to: [] }, 'spec.rules.0.to: `to` must not be empty'],
      [{ to: [{ operation: { paths: ['/a'] } }, { operation: { methods: [] } }] }, 'spec.rules.0.to.1.operation: `to.operation` must not be empty'],
      [{ when: [{ key: 'request.auth.claims[groups]', values: [] }] }, 'spec.rules.0.when.0: at least one of `values` or `notValues` must be set for key request.auth.claims[groups]'],
      [{ when: [{ key: 'source.principal' }] }, 'spec.rules.0.when.0: at least one of'],
      // The original client, which a CheckRequest does not carry.
      [{ from: [{ source: { remoteIpBlocks: ['203.0.113.0/24'] } }] }, 'spec.rules.0.from.0.source.remoteIpBlocks: remoteIpBlocks is the original client'],
      [{ from: [{ source: { notRemoteIpBlocks: ['203.0.113.0/24'] } }] }, 'spec.rules.0.from.0.source.notRemoteIpBlocks'],
      [{ when: [{ key: 'remote.ip', values: ['203.0.113.7'] }] }, 'spec.rules.0.when.0.key: remote.ip is the original client'],
      [{ when: [{ key: 'source.ip', values: ['10.1.0.0/33'] }] }, 'spec.rules.0.when.0.values'],
      [{ when: [{ key: 'destination.ip', notValues: ['somewhere'] }] }, 'spec.rules.0.when.0.notValues'],
      [{ to: [{ operation: { paths: ['/api/{*}/admin'] } }] }, 'spec.rules.0.to.0.operation.paths.0: path pattern "/api/{*}/admin" is an Istio path template'],
      [{ to: [{ operation: { methods: ['GET'] } }, { operation: { notPaths: ['/ok', '/a/../b'] } }] }, 'spec.rules.0.to.1.operation.notPaths.1: path pattern "/a/../b" has a dot segment'],
      // A method that is not upper case is refused at the Request guard: such a pattern matches nothing.
      [{ to: [{ operation: { methods: ['GET', 'delete'] } }] }, 'spec.rules.0.to.0.operation.methods.1: "delete" is not an upper-case HTTP method'],
      [{ to: [{ operation: { notMethods: ['Get*'] } }] }, 'spec.rules.0.to.0.operation.notMethods.0: "Get*" is not an upper-case HTTP method'],
      // Ports and principals in a form no request has: they would match nothing.
      [{ to: [{ operation: { ports: ['8080', '08080'] } }] }, 'spec.rules.0.to.0.operation.ports.1: "08080" is not a port number'],
      [{ to: [{ operation: { notPorts: ['http'] } }] }, 'spec.rules.0.to.0.operation.notPorts.0: "http" is not a port number'],
      [{ to: [{ operation: { ports: ['65536'] } }] }, 'spec.rules.0.to.0.operation.ports.0: "65536" is not a port number'],
      [{ when: [{ key: 'destination.port', values: ['80*'] }] }, 'spec.rules.0.when.0.values.0: "80*" is not a port number'],
      [{ from: [{ source: { principals: ['spiffe://cluster.local/ns/a/sa/b'] } }] }, 'spec.rules.0.from.0.source.principals.0: "spiffe://cluster.local/ns/a/sa/b" starts with spiffe://'],
      [{ from: [{ source: { notPrincipals: ['SPIFFE://x/*'] } }] }, 'spec.rules.0.from.0.source.notPrincipals.0'],
      [{ when: [{ key: 'source.principal', notValues: ['spiffe://td/ns/a/sa/b'] }] }, 'spec.rules.0.when.0.notValues.0: "spiffe://td/ns/a/sa/b" starts with spiffe://'],
      // Host patterns no normalised host matches: a * inside is a literal *, an IPv6 address
      // is bracketed, and no host holds a space.
      [{ to: [{ operation: { hosts: ['api.example.com', 'api.*.com'] } }] }, 'spec.rules.0.to.0.operation.hosts.1: host pattern "api.*.com" has a * inside'],
      [{ to: [{ operation: { notHosts: ['*admin*'] } }] }, 'spec.rules.0.to.0.operation.notHosts.0: host pattern "*admin*" has a * inside'],
      [{ to: [{ operation: { hosts: ['example.com:8*0'] } }] }, 'spec.rules.0.to.0.operation.hosts.0: host pattern "example.com:8*0" has a * inside'],
      [{ to: [{ operation: { hosts: ['::1'] } }] }, 'spec.rules.0.to.0.operation.hosts.0: host pattern "::1" is an IPv6 address without brackets'],
      [{ to: [{ operation: { hosts: ['fe80::1*'] } }] }, 'spec.rules.0.to.0.operation.hosts.0: host pattern "fe80::1*" is an IPv6 address without brackets'],
      [{ to: [{ operation: { hosts: ['a b.example'] } }] }, 'spec.rules.0.to.0.operation.hosts.0: host pattern "a b.example" holds a character no host has'],
      [{ to: [{ operation: { hosts: ['user@example.com'] } }] }, 'spec.rules.0.to.0.operation.hosts.0: host pattern "user@example.com" holds a character no host has'],
    ])('%j names %s', (rule, field) => {
      expect(() => policy('bad', 'ALLOW', [rule])).toThrow(ChioError);
      expect(() => policy('bad', 'ALLOW', [rule])).toThrow(field);
    });

    it('refuses remoteIpBlocks and remote.ip without steering to the x-forwarded-for header, which the client writes', () => {
      // The refusal once advised a request.headers[x-forwarded-for] condition: the client sends
      // the leftmost entries itself, so an ALLOW on `10.*` admitted `10.9.9.9, 203.0.113.7` and
      // a DENY on `203.0.113.7` missed it.
      for (const rule of [{ from: [{ source: { remoteIpBlocks: ['10.0.0.0/8'] } }] }, { when: [{ key: 'remote.ip', values: ['10.0.0.0/8'] }] }]) {
        expect(() => policy('bad', 'ALLOW', [rule])).toThrow(/X-Forwarded-For, whose entries the client can write, is no substitute/);
        expect(() => policy('bad', 'ALLOW', [rule])).not.toThrow(/request\.headers\[x-forwarded-for\] condition/);
      }
    });

    it('refuses Istio fields Chio cannot honour (selector) instead of ignoring them', () => {
      expect(authorizationPolicySchema.safeParse({ apiVersion: 'chio.dev/v1', kind: 'AuthorizationPolicy', metadata: { name: 'x' }, spec: { selector: { matchLabels: { app: 'a' } } } }).success).toBe(false);
    });
  });
});

describe('a DENY policy without rules', () => {
  // Istio refuses it ("DENY action without `rules` is meaningless as it will never be
  // triggered"); loaded, it denied nothing, where its writer may have meant "deny all".
  const parse = (spec: Record<string, unknown>) => compileAuthorizationPolicy(authorizationPolicySchema.parse({ apiVersion: 'chio.dev/v1', kind: 'AuthorizationPolicy', metadata: { name: 'd' }, spec }));
  it('is refused when the policy loads, rules left out or empty', () => {
    expect(() => parse({ action: 'DENY' })).toThrow('field spec.rules: a DENY policy without rules would never deny');
    expect(() => parse({ action: 'DENY', rules: [] })).toThrow(ChioError);
  });
  it('is not an ALLOW or AUDIT policy without rules, which stays valid (ALLOW: allow nothing)', () => {
    expect(evaluateAuthorization([parse({})], { input: input() }, 'allow').verdict).toBe('deny');
    expect(() => parse({ action: 'AUDIT', rules: [] })).not.toThrow();
  });
});

describe('spec.hosts given as an empty list', () => {
  // Rendered from a template whose host list came out empty: read as "no host", a DENY denied
  // no HTTP request at all (while it still denied TCP checks); read as "every host", an ALLOW
  // meant for one service would allow every service. Refused, as an empty `from` or `to` is.
  it('is refused when the policy loads, for DENY and ALLOW alike', () => {
    expect(() => policy('deny-all', 'DENY', [{}], { hosts: [] })).toThrow('field spec.hosts: `hosts` must not be empty');
    expect(() => policy('allow-all', 'ALLOW', [{}], { hosts: [] })).toThrow(ChioError);
  });
});

describe('header names a request can carry', () => {
  it.each(['request.headers[X-Team]', 'request.headers[:authority]', "request.headers[x_y.z!#$%&'*+^`|~]"])('loads %s', (key) => {
    expect(() => policy('deny', 'DENY', [{ when: [{ key, values: ['a'] }] }])).not.toThrow();
  });
});

describe('host patterns that every normalised host can have', () => {
  // Refused when no host could match them (a DENY of them would deny nothing); these can match.
  it.each(['*', 'api.example.com', '*.example.com', '*example.com', 'api.example.*', 'example.com:*', '*.example.com:*', 'example.com:80*', '*:8080', '[::1]', '[::1]:8080', '[fe80::1]*', '10.0.0.1:8080', 'Bücher.example', 'Admin.Example.COM.', 'svc_1.local'])('loads %s', (host) => {
    expect(() => policy('deny', 'DENY', [{ to: [{ operation: { hosts: [host] } }] }])).not.toThrow();
    expect(() => policy('scoped', 'DENY', [{}], { hosts: [host] })).not.toThrow();
  });
  it('refuses one in spec.hosts too, naming it', () => {
    expect(() => policy('deny', 'DENY', [{}], { hosts: ['example.com', 'api.*.com'] })).toThrow('field spec.hosts.1: host pattern "api.*.com" has a * inside');
  });
});

describe('namespaces of a principal that is not <trust domain>/ns/<ns>/sa/<sa>', () => {
  // Istio matches `namespaces` and `source.namespace` as the regex `.*/ns/<namespace>/.*` on
  // the principal: a SPIFFE id with more segments (SPIRE's `…/ns/evil/sa/app/replica-1`, a
  // custom CA's) is in that namespace. Read as having no namespace, a DENY missed it.
  const ALLOW_ALL = policy('allow-all', 'ALLOW', [{}]);
  const denyNs = policy('deny-ns', 'DENY', [{ from: [{ source: { namespaces: ['evil'] } }] }]);
  const denyCond = policy('deny-cond', 'DENY', [{ when: [{ key: 'source.namespace', values: ['evil'] }] }]);
  const allowNotNs = policy('allow-not-ns', 'ALLOW', [{ from: [{ source: { notNamespaces: ['evil'] } }] }]);
  const of = (principal: string) => ({ input: input({ sourcePrincipal: principal }) });
  // A trust domain named `ns` too: Istio's regex finds `/ns/evil/` after `spiffe:/`.
  it.each(['spiffe://td/ns/evil/sa/app/replica-1', 'spiffe://td/region/eu/ns/evil/sa/app', 'spiffe://cluster.local/ns/evil/sa/app', 'spiffe://ns/evil/sa/app'])('DENY namespaces [evil] denies %s, as Istio does', (principal) => {
    expect(evaluateAuthorization([denyNs, ALLOW_ALL], of(principal), 'deny').verdict).toBe('deny');
    expect(evaluateAuthorization([denyCond, ALLOW_ALL], of(principal), 'deny').verdict).toBe('deny');
    expect(evaluateAuthorization([allowNotNs], of(principal), 'deny').verdict).toBe('deny');
  });
  it.each([
    ['prod', 'spiffe://td/ns/prod/sa/api/v2', true],
    ['prod', 'spiffe://td/ns/prod-legacy/sa/api', false],
    ['prod-*', 'spiffe://td/ns/prod-legacy/sa/api', true],
    ['*-legacy', 'spiffe://td/ns/prod-legacy/sa/api', true],
    // Istio's regex `.*/ns/.*-legacy/.*` spans segments here; Chio's `*` stays in one.
    ['*-legacy', 'spiffe://td/ns/prod/sa/x-legacy', false],
    ['*', 'spiffe://td/ns/prod/sa/api', true],
    ['prod', 'spiffe://td/prod/sa/api', false],
    ['prod', 'spiffe://td/ns/prod', false],
  ])('ALLOW namespaces [%s] matches %s: %s', (ns, principal, allowed) => {
    expect(evaluateAuthorization([policy('ns', 'ALLOW', [{ from: [{ source: { namespaces: [ns] } }] }])], of(principal), 'deny').verdict).toBe(allowed ? 'allow' : 'deny');
  });
});

describe('the scope and permission claims, space-delimited strings (RFC 8693 §4.2)', () => {
  // Istio configures Envoy's jwt_authn with normalize_payload_in_metadata.space_delimited_claims
  // [permission, scope]: a top-level string there is matched as the list of its words.
  const ALLOW_ALL = policy('allow-all', 'ALLOW', [{}]);
  const denyAdmin = policy('deny-admin', 'DENY', [{ when: [{ key: 'request.auth.claims[scope]', values: ['admin'] }] }]);
  const allowWrite = policy('allow-write', 'ALLOW', [{ when: [{ key: 'request.auth.claims[permission]', values: ['write'] }] }]);
  const verdict = (policies: CompiledPolicy[], claims: Record<string, unknown>) => evaluateAuthorization(policies, { input: input(), jwt: jwt('bob', claims) }, 'deny').verdict;
  it.each([
    ['a DENY on one scope denies a token that holds it among others', [denyAdmin, ALLOW_ALL], { scope: 'read admin' }, 'deny'],
    ['a DENY on one scope denies it after several blanks', [denyAdmin, ALLOW_ALL], { scope: '  read   admin ' }, 'deny'],
    ['a DENY on one scope denies no other', [denyAdmin, ALLOW_ALL], { scope: 'read administrator' }, 'allow'],
    ['an ALLOW on one permission admits a token that holds it among others', [allowWrite], { permission: 'read write' }, 'allow'],
    ['the whole string is no longer one of the words', [policy('exact', 'ALLOW', [{ when: [{ key: 'request.auth.claims[scope]', values: ['read write'] }] }])], { scope: 'read write' }, 'deny'],
    ['notValues reads each word', [policy('not-admin', 'ALLOW', [{ when: [{ key: 'request.auth.claims[scope]', notValues: ['admin'] }] }])], { scope: 'read admin' }, 'deny'],
    ['another claim stays one string', [policy('roles', 'ALLOW', [{ when: [{ key: 'request.auth.claims[roles]', values: ['admin'] }] }])], { roles: 'read admin' }, 'deny'],
    ['a nested scope stays one string', [policy('nested', 'ALLOW', [{ when: [{ key: 'request.auth.claims[ext][scope]', values: ['admin'] }] }])], { ext: { scope: 'read admin' } }, 'deny'],
  ] as const)('%s', (_name, policies, claims, expected) => {
    expect(verdict([...policies], claims)).toBe(expected);
  });
});

describe('a request principal, matched as issuer and subject apart', () => {
  // Istio splits each requestPrincipals (and request.auth.principal) pattern at its last '/'
  // and matches the JWT's iss and sub claims apart, each present and non-empty under a `*`.
  const ALLOW_ALL = policy('allow-all', 'ALLOW', [{}]);
  const token = (iss: string, sub?: string) => ({ requestPrincipal: `${iss}/${sub ?? ''}`, claims: { iss, ...(sub !== undefined ? { sub } : {}) } });
  const allowFrom = (...requestPrincipals: string[]) => policy('allow', 'ALLOW', [{ from: [{ source: { requestPrincipals } }] }]);
  const verdict = (policies: CompiledPolicy[], jwt?: ReturnType<typeof token>) => evaluateAuthorization(policies, { input: input(), ...(jwt ? { jwt } : {}) }, 'deny').verdict;
  it.each([
    ['`*` needs a subject', allowFrom('*'), token('https://idp.example'), 'deny'],
    ['`*` takes any issuer with a subject', allowFrom('*'), token('https://idp.example', 'alice'), 'allow'],
    ['`<iss>/*` needs a subject', allowFrom('https://idp.example/*'), token('https://idp.example'), 'deny'],
    ['`<iss>/*` is that issuer, not one whose name goes on', allowFrom('https://idp.example/*'), token('https://idp.example/partner', 'alice'), 'deny'],
    ['`<iss>/*` takes a subject with a slash', allowFrom('https://idp.example/*'), token('https://idp.example', 'a/b'), 'allow'],
    ['an exact principal is that issuer, not another whose subject spells the rest', allowFrom('https://idp.example/partner/alice'), token('https://idp.example', 'partner/alice'), 'deny'],
    ['an exact principal takes its issuer and subject', allowFrom('https://idp.example/partner/alice'), token('https://idp.example/partner', 'alice'), 'allow'],
    ['`*/<sub>` is that subject exactly', allowFrom('*/alice'), token('https://idp.example', 'x/alice'), 'deny'],
    ['`*/<sub>` takes it from any issuer', allowFrom('*/alice'), token('https://idp.example', 'alice'), 'allow'],
    ['`<iss>/<prefix>*` reads the subject', allowFrom('https://idp.example/adm*'), token('https://idp.example', 'admin'), 'allow'],
    ['no JWT matches nothing', allowFrom('*'), undefined, 'deny'],
  ] as const)('%s', (_name, allow, jwt, expected) => {
    expect(verdict([allow], jwt)).toBe(expected);
  });
  it('denies, with notRequestPrincipals: ["*"], a verified JWT without a subject', () => {
    const requireJwt = policy('require-jwt', 'DENY', [{ from: [{ source: { notRequestPrincipals: ['*'] } }] }]);
    expect(verdict([requireJwt, ALLOW_ALL], token('https://idp.example'))).toBe('deny');
    expect(verdict([requireJwt, ALLOW_ALL], token('https://idp.example', 'alice'))).toBe('allow');
  });
  it('reads request.auth.principal conditions the same way', () => {
    const cond = policy('cond', 'ALLOW', [{ when: [{ key: 'request.auth.principal', values: ['https://idp.example/*'] }] }]);
    expect(verdict([cond], token('https://idp.example/partner', 'alice'))).toBe('deny');
    expect(verdict([cond], token('https://idp.example', 'alice'))).toBe('allow');
  });
});
