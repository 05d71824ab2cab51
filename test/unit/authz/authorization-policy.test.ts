import { describe, expect, it } from 'vitest';
import { evaluateAuthorization } from '../../../src/authz/authorization-policy.js';
import type { AuthorizationPolicy } from '../../../src/authz/policy-set.js';
import type { CheckInput } from '../../../src/authz/check-input.js';

function input(over: Partial<CheckInput> = {}): CheckInput {
  return {
    kind: 'http', requestId: 'r', method: 'GET', host: 'svc1.example.com', rawPath: '/', path: '/', protocol: 'HTTP/1.1',
    headers: new Map(), sourcePrincipal: '', sourceAddress: '', destinationAddress: '', ...over,
  };
}

function policy(name: string, action: 'ALLOW' | 'DENY', rules: AuthorizationPolicy['spec']['rules'], hosts?: string[]): AuthorizationPolicy {
  return { apiVersion: 'chio.dev/v1', kind: 'AuthorizationPolicy', metadata: { name }, spec: { action, rules, ...(hosts ? { hosts } : {}) } };
}

const tools = policy('tools', 'ALLOW', [{ to: [{ operation: { methods: ['POST'], paths: ['/tools/*'] } }] }]);
const denyAdmin = policy('no-admin', 'DENY', [{ to: [{ operation: { paths: ['/admin*'] } }] }]);
const onlySvc1Sa = policy('svc2-from-svc1', 'ALLOW', [{ from: [{ source: { principals: ['cluster.local/ns/default/sa/svc1-sa'] } }] }], ['svc2.example.com']);
const withHeader = policy('hdr', 'ALLOW', [{ when: [{ key: 'request.headers[x-team]', values: ['blue'], notValues: ['red'] }] }]);

describe('evaluateAuthorization', () => {
  const cases: Array<[string, AuthorizationPolicy[], Partial<CheckInput>, 'allow' | 'deny' | 'deny' , 'allow' | 'deny']> = [
    ['ALLOW match', [tools], { method: 'POST', path: '/tools/x' }, 'deny', 'allow'],
    ['ALLOW no match', [tools], { method: 'GET', path: '/tools/x' }, 'deny', 'deny'],
    ['DENY before ALLOW', [tools, policy('deny-tools', 'DENY', [{ to: [{ operation: { paths: ['/tools/*'] } }] }])], { method: 'POST', path: '/tools/x' }, 'deny', 'deny'],
    ['DENY only, not matched, default deny', [denyAdmin], { path: '/x' }, 'deny', 'deny'],
    ['DENY only, not matched, CHIO_DEFAULT=allow', [denyAdmin], { path: '/x' }, 'allow', 'allow'],
    ['DENY matched wins over CHIO_DEFAULT=allow', [denyAdmin], { path: '/admin/users' }, 'allow', 'deny'],
    ['no policies, default deny', [], {}, 'deny', 'deny'],
    ['ALLOW for another host does not apply', [onlySvc1Sa], { host: 'svc1.example.com' }, 'allow', 'allow'],
    ['principal matches without spiffe://', [onlySvc1Sa], { host: 'svc2.example.com', sourcePrincipal: 'spiffe://cluster.local/ns/default/sa/svc1-sa' }, 'deny', 'allow'],
    ['principal mismatch', [onlySvc1Sa], { host: 'svc2.example.com', sourcePrincipal: 'spiffe://cluster.local/ns/default/sa/other' }, 'allow', 'deny'],
    ['header condition holds', [withHeader], { headers: new Map([['x-team', 'blue']]) }, 'deny', 'allow'],
    ['header condition absent', [withHeader], {}, 'deny', 'deny'],
    ['ALLOW with no rules allows nothing', [policy('nothing', 'ALLOW', [])], {}, 'allow', 'deny'],
    ['ALLOW with an empty rule allows everything', [policy('all', 'ALLOW', [{}])], {}, 'deny', 'allow'],
  ];
  it.each(cases)('%s', (_name, policies, over, defaultVerdict, expected) => {
    expect(evaluateAuthorization(policies, { input: input(over) }, defaultVerdict).verdict).toBe(expected);
  });

  it('names the DENY policy that matched', () => {
    const out = evaluateAuthorization([denyAdmin], { input: input({ path: '/admin' }) }, 'allow');
    expect(out).toEqual({ verdict: 'deny', policy: 'no-admin', reason: 'denied by policy no-admin' });
  });
});
