import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GUARDS } from '../../../src/decision/guards.js';
import type { Decision, Denied } from '../../../src/decision/decision.js';
import { JWT_REASONS, JwtAuthenticator, requestAuthenticationSchema } from '../../../src/credentials/jwt.js';
import { statusOf } from '../../../src/errors/index.js';
import { fromBase64Url, toBase64Url } from '../../../src/encoding.js';
import { canonicalBytes } from '../../../src/receipt/jcs.js';
import type { PolicySet } from '../../../src/policy/policy-set.js';
import {
  DENY_ADMIN, ISTIO_ISSUER, ISTIO_JWKS, ISTIO_JWT, JWT_READS, NOW_MS, TOOLS_WITH_CAPABILITY, UNTRUSTED, VALIDATE_ALL,
  authorizationPolicy, capabilityToken, checkOf, later, pipelineOf, policySetOf, withBearer, withCapability,
} from './fixtures.js';

/** `token` with its subject changed and the signature left as it was. */
function withSubject(token: string, subject: string): string {
  const claims = JSON.parse(new TextDecoder().decode(fromBase64Url(token))) as Record<string, unknown>;
  return toBase64Url(canonicalBytes({ ...claims, subject }));
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const guardsIn = (d: Decision) => d.evidence.map((e) => `${e.guard}:${e.verdict}`);

function expectDenied(d: Decision): asserts d is Denied {
  expect(d.verdict).toBe('deny');
}

/** The parts of a deny that reach the receipt and the answer. */
const denialOf = (d: Decision) => {
  expectDenied(d);
  return { guard: d.guard, code: d.code, reason: d.reason, httpStatus: d.httpStatus };
};

async function decide(policies: PolicySet, request = checkOf({ headers: withCapability() }), options: Parameters<typeof pipelineOf>[1] = {}) {
  return pipelineOf(policies, options).pipeline.decide(request, later());
}

describe('GUARDS', () => {
  it('are Capability, Jwt, Policy, in that order', () => {
    expect(GUARDS.map((g) => g.name)).toEqual(['Capability', 'Jwt', 'Policy']);
  });

  describe('when every guard has its say', () => {
    it('records Request, Capability, Jwt and Policy in that order', async () => {
      const d = await decide(policySetOf({ jwt: true }));
      expect(d.verdict).toBe('allow');
      expect(guardsIn(d)).toEqual(['Request:allow', 'Capability:allow', 'Jwt:skip', 'Policy:allow']);
    });
  });

  describe('when a guard denies', () => {
    it('ends the pipeline there: no later guard runs', async () => {
      const expired = capabilityToken({ issued_at: NOW_MS / 1000 - 7200, expires_at: NOW_MS / 1000 - 3600 });
      const d = await decide(policySetOf({ jwt: true }), checkOf({ headers: withCapability(expired) }));
      expect(guardsIn(d)).toEqual(['Request:allow', 'Capability:deny']);
    });

    it('names a guard the status table agrees with for its code', async () => {
      const cases = [
        checkOf({ headers: withCapability('garbage') }),
        checkOf({ headers: withBearer('not.a-jwt') }),
        checkOf({ path: '/admin', headers: withCapability() }),
        checkOf({ path: '/elsewhere' }),
      ];
      for (const request of cases) {
        const d = await decide(policySetOf({ jwt: true, authorization: [DENY_ADMIN, TOOLS_WITH_CAPABILITY] }), request);
        expectDenied(d);
        expect(statusOf(d.code).guard).toBe(d.guard);
      }
    });
  });
});

describe('the Capability guard', () => {
  const set = policySetOf();
  const S = NOW_MS / 1000;

  describe.each([
    ['an untrusted issuer', capabilityToken({}, UNTRUSTED), 'CAPABILITY_UNTRUSTED_ISSUER', 'capability issuer is not trusted', 401],
    ['an expired token', capabilityToken({ issued_at: S - 7200, expires_at: S - 3600 }), 'CAPABILITY_EXPIRED', 'capability is expired', 401],
    ['a token not yet valid', capabilityToken({ issued_at: S + 3600, expires_at: S + 7200 }), 'CAPABILITY_NOT_YET_VALID', 'capability is not yet valid', 401],
    ['a token whose signature does not hold', withSubject(capabilityToken(), 'agent-2'), 'CAPABILITY_SIGNATURE_INVALID', 'capability signature is invalid', 401],
    ['a token the parser rejects (invalid UTF-8 inside)', toBase64Url(Uint8Array.from([0x22, 0xff, 0x22])), 'CAPABILITY_MALFORMED', 'capability token is malformed', 401],
    ['bytes that are not a token', 'garbage', 'CAPABILITY_MALFORMED', 'capability token is malformed', 401],
    ['a token whose grants do not cover the request', capabilityToken({ scope: { grants: [{ methods: ['GET'], paths: ['/other'] }] } }), 'CAPABILITY_OUT_OF_SCOPE', 'request is outside the capability grants', 403],
  ] as const)('when given %s', (_name, token, code, reason, httpStatus) => {
    it(`denies with ${code}, the table's reason and HTTP ${httpStatus}`, async () => {
      const d = await decide(set, checkOf({ headers: withCapability(token) }));
      expect(denialOf(d)).toEqual({ guard: 'Capability', code, reason, httpStatus });
    });

    it('still counts the header as a consumed credential and records its hash', async () => {
      const d = await decide(set, checkOf({ headers: withCapability(token) }));
      expect(d.credentialHeaders).toEqual(['x-chio-capability-token']);
      expect(d.subject.credential_sha256).toBe(sha256(token));
    });
  });

  describe('when the token is revoked', () => {
    it('denies with CAPABILITY_REVOKED, even after the token was verified and cached', async () => {
      const revoked = new Set<string>();
      const { pipeline } = pipelineOf(set, { isRevoked: (id) => revoked.has(id) });
      expect((await pipeline.decide(checkOf({ headers: withCapability() }), later())).verdict).toBe('allow');
      revoked.add('cap-1');
      const d = await pipeline.decide(checkOf({ headers: withCapability() }), later());
      expect(denialOf(d)).toEqual({ guard: 'Capability', code: 'CAPABILITY_REVOKED', reason: 'capability is revoked', httpStatus: 401 });
    });
  });

  describe('when the token is valid and covers the request', () => {
    it('allows, records who it names, and consumes the header it came in', async () => {
      const token = capabilityToken();
      const viaHeader = await decide(set, checkOf({ headers: withCapability(token) }));
      expect(viaHeader).toMatchObject({ verdict: 'allow', credentialHeaders: ['x-chio-capability-token'] });
      expect(viaHeader.subject).toEqual({ capability_id: 'cap-1', subject: 'agent-1', issuer: expect.stringContaining('demo-issuer'), credential_sha256: sha256(token) });
      const viaBearer = await decide(set, checkOf({ headers: withBearer(token) }));
      expect(viaBearer).toMatchObject({ verdict: 'allow', credentialHeaders: ['authorization'] });
    });
  });
});

describe('the Jwt guard', () => {
  const set = policySetOf({ jwt: true, authorization: [JWT_READS] });

  describe('when given a valid JWT', () => {
    it('allows, naming the issuer and subject', async () => {
      const d = await decide(set, checkOf({ method: 'GET', path: '/jwt/x', headers: withBearer(ISTIO_JWT) }));
      expect(d.verdict).toBe('allow');
      expect(d.subject).toEqual({ issuer: ISTIO_ISSUER, subject: ISTIO_ISSUER, credential_sha256: sha256(ISTIO_JWT) });
      expect(d.credentialHeaders).toEqual(['authorization']);
    });
  });

  describe('when given a bearer with dots that is not a JWT', () => {
    it("denies with JWT_MALFORMED and Envoy's reason", async () => {
      const d = await decide(set, checkOf({ method: 'GET', path: '/jwt/x', headers: withBearer('not.a-jwt') }));
      expect(denialOf(d)).toEqual({ guard: 'Jwt', code: 'JWT_MALFORMED', reason: JWT_REASONS.badFormat, httpStatus: 401 });
    });
  });
});

describe('a Bearer that is neither a capability token nor a JWT', () => {
  describe('when a RequestAuthentication is configured', () => {
    it.each(['foo', 'Zm9v', 'e30'])("is denied by the Jwt guard with Envoy's reason (Bearer %s)", async (bearer) => {
      const d = await decide(policySetOf({ jwt: true }), checkOf({ headers: withBearer(bearer) }));
      expect(denialOf(d)).toEqual({ guard: 'Jwt', code: 'JWT_MALFORMED', reason: 'Jwt is not in the form of Header.Payload.Signature', httpStatus: 401 });
      expect(guardsIn(d)).toEqual(['Request:allow', 'Capability:skip', 'Jwt:deny']);
      expect(d.subject.credential_sha256).toBe(sha256(bearer));
    });

    it('leaves a real capability token sent as a Bearer to the Capability guard', async () => {
      const d = await decide(policySetOf({ jwt: true }), checkOf({ headers: withBearer(capabilityToken()) }));
      expect(d.verdict).toBe('allow');
      const expired = capabilityToken({ expires_at: NOW_MS / 1000 - 3600, issued_at: NOW_MS / 1000 - 7200 });
      expect(denialOf(await decide(policySetOf({ jwt: true }), checkOf({ headers: withBearer(expired) })))).toMatchObject({ guard: 'Capability', code: 'CAPABILITY_EXPIRED' });
    });

    it('leaves x-chio-capability-token to the Capability guard, whatever it holds', async () => {
      const d = await decide(policySetOf({ jwt: true }), checkOf({ headers: withCapability('foo') }));
      expect(denialOf(d)).toMatchObject({ guard: 'Capability', code: 'CAPABILITY_MALFORMED', reason: 'capability token is malformed' });
    });
  });

  describe('when the RequestAuthentication reads JWTs from other headers only', () => {
    it('is not a JWT Envoy would read: the Capability guard judges it', async () => {
      const fromHeaderOnly = new JwtAuthenticator([requestAuthenticationSchema.parse({
        apiVersion: 'chio.dev/v1', kind: 'RequestAuthentication', metadata: { name: 'custom-header' },
        spec: { jwtRules: [{ issuer: ISTIO_ISSUER, jwks: ISTIO_JWKS, fromHeaders: [{ name: 'x-jwt' }] }] },
      })]);
      const d = await decide({ ...policySetOf(), jwt: fromHeaderOnly }, checkOf({ headers: withBearer('foo') }));
      expect(denialOf(d)).toMatchObject({ guard: 'Capability', code: 'CAPABILITY_MALFORMED' });
    });
  });

  describe('when no RequestAuthentication is configured', () => {
    it("is denied by the Capability guard with the table's reason, not the parser's", async () => {
      const d = await decide(policySetOf(), checkOf({ headers: withBearer('foo') }));
      expect(denialOf(d)).toEqual({ guard: 'Capability', code: 'CAPABILITY_MALFORMED', reason: 'capability token is malformed', httpStatus: 401 });
    });
  });
});

describe('the Policy guard', () => {
  describe('when nothing was presented and no ALLOW policy matches', () => {
    it('denies with POLICY_UNAUTHENTICATED and HTTP 401', async () => {
      const d = await decide(policySetOf(), checkOf());
      expect(denialOf(d)).toEqual({ guard: 'Policy', code: 'POLICY_UNAUTHENTICATED', reason: 'no ALLOW policy matched; no credentials presented', httpStatus: 401 });
    });
  });

  describe('when credentials were presented and no ALLOW policy matches', () => {
    it('denies with POLICY_NO_MATCH and HTTP 403', async () => {
      const d = await decide(policySetOf({ authorization: [TOOLS_WITH_CAPABILITY, JWT_READS] }), checkOf({ headers: withCapability(capabilityToken({ scope: { grants: [{ methods: ['*'], paths: ['*'] }] } })), method: 'DELETE' }));
      expect(denialOf(d)).toEqual({ guard: 'Policy', code: 'POLICY_NO_MATCH', reason: 'no ALLOW policy matched', httpStatus: 403 });
    });
  });

  describe('when a DENY policy matches', () => {
    it('denies with POLICY_DENIED and HTTP 403, credentials or not', async () => {
      const set = policySetOf({ authorization: [DENY_ADMIN, TOOLS_WITH_CAPABILITY] });
      for (const request of [checkOf({ path: '/admin' }), checkOf({ path: '/admin', headers: withCapability(capabilityToken({ scope: { grants: [{ methods: ['*'], paths: ['*'] }] } })) })]) {
        expect(denialOf(await decide(set, request))).toEqual({ guard: 'Policy', code: 'POLICY_DENIED', reason: 'denied by policy deny-admin', httpStatus: 403 });
      }
    });
  });

  describe('when the check is TCP (no HTTP attributes)', () => {
    it('denies with HTTP 403: a TCP check cannot carry credentials', async () => {
      const d = await decide(policySetOf(), { attributes: { source: { address: { socket_address: { address: '10.0.0.1', port_value: 1 } } } } });
      expect(denialOf(d)).toEqual({ guard: 'Policy', code: 'POLICY_NO_MATCH', reason: 'no ALLOW policy matched', httpStatus: 403 });
    });
  });

  describe('when the request cannot be shown to the ValidatingPolicies', () => {
    it('denies with POLICY_UNEVALUABLE and HTTP 403', async () => {
      const request = checkOf({ headers: withCapability() });
      request.attributes!.request!.time = { seconds: '999999999999999', nanos: 0 };
      const d = await decide(policySetOf({ validating: [VALIDATE_ALL] }), request);
      expect(denialOf(d)).toEqual({ guard: 'Policy', code: 'POLICY_UNEVALUABLE', reason: 'request cannot be evaluated: request time is not a valid timestamp', httpStatus: 403 });
    });
  });
});

describe('shadow', () => {
  describe('when the mode is shadow (CHIO_MODE=shadow)', () => {
    it('records the deny as it would be, with shadow: true and the consumed credentials', async () => {
      const d = await decide(policySetOf(), checkOf({ headers: withCapability('garbage') }), { mode: 'shadow' });
      expect(d).toMatchObject({ verdict: 'deny', shadow: true, guard: 'Capability', code: 'CAPABILITY_MALFORMED', httpStatus: 401, credentialHeaders: ['x-chio-capability-token'] });
    });

    it('records an allow with shadow: true', async () => {
      expect(await decide(policySetOf(), checkOf({ headers: withCapability() }), { mode: 'shadow' })).toMatchObject({ verdict: 'allow', shadow: true });
    });
  });

  describe('when a policy annotated chio.dev/shadow would deny what the enforced ones allow', () => {
    const shadowDeny = authorizationPolicy('shadow-deny-tools', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/tools/*'] } }] }] }, { 'chio.dev/shadow': 'true' });

    it('records that deny (guard Policy, 403) with shadow: true, after every guard ran', async () => {
      const d = await decide(policySetOf({ authorization: [TOOLS_WITH_CAPABILITY, shadowDeny] }));
      expect(denialOf(d)).toEqual({ guard: 'Policy', code: 'POLICY_DENIED', reason: 'denied by policy shadow-deny-tools', httpStatus: 403 });
      expect(d.shadow).toBe(true);
      expect(guardsIn(d)).toEqual(['Request:allow', 'Capability:allow', 'Jwt:skip', 'Policy:allow']);
    });

    it('does not hide an enforced deny', async () => {
      const d = await decide(policySetOf({ authorization: [TOOLS_WITH_CAPABILITY, shadowDeny] }), checkOf({ headers: withCapability(capabilityToken({}, UNTRUSTED)) }));
      expect(d).toMatchObject({ verdict: 'deny', shadow: false, guard: 'Capability' });
    });
  });
});

describe('when something throws while deciding', () => {
  const boom = new Error('boom: /secret/internal/path');
  const throwingJwt = { authenticate: () => Promise.reject(boom) } as unknown as NonNullable<PolicySet['jwt']>;
  const throwingPolicy = { ...TOOLS_WITH_CAPABILITY, get rules(): never { throw boom; } };

  describe.each([
    ['the policy set cannot be read', { policies: () => { throw boom; } }, 'sha256:unknown'],
    ['the revocation list throws', { isRevoked: () => { throw boom; } }, policySetOf().hash],
    ['the JWT authenticator throws', { policies: () => ({ ...policySetOf(), jwt: throwingJwt }) }, policySetOf().hash],
    ['a policy throws', { policies: () => ({ ...policySetOf(), authorization: [throwingPolicy] }) }, policySetOf().hash],
  ] as const)('when %s', (_name, options, policyHash) => {
    for (const mode of ['enforce', 'shadow'] as const) {
      it(`denies by guard Internal with DECISION_FAILED and a reason that reveals nothing, never shadowed (mode ${mode})`, async () => {
        const { pipeline, internalErrors } = pipelineOf(policySetOf(), { mode, defaultVerdict: 'allow', ...options });
        const d = await pipeline.decide(checkOf({ headers: withCapability() }), later());
        expect(denialOf(d)).toEqual({ guard: 'Internal', code: 'DECISION_FAILED', reason: 'internal error', httpStatus: 403 });
        expect(d).toMatchObject({ shadow: false, policyHash });
        expect(d.evidence.at(-1)).toEqual({ guard: 'Internal', verdict: 'deny' });
        expect(internalErrors).toEqual([boom]);
      });
    }
  });

  describe('when reporting the error throws too', () => {
    it('still resolves with the Internal deny', async () => {
      const { pipeline } = pipelineOf(policySetOf(), { isRevoked: () => { throw boom; }, onInternalError: () => { throw new Error('log is gone'); } });
      expect(denialOf(await pipeline.decide(checkOf({ headers: withCapability() }), later()))).toMatchObject({ guard: 'Internal' });
    });
  });
});
