/**
 * Policy sets, CheckRequests and credentials for the decision tests, built in memory from the
 * same schemas and compilers the policy loader uses.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildCheckRequest, type EnvoyRequestOptions } from '../../../src/cli/envoy-request.js';
import type { CheckRequest } from '../../../src/authz/wire.js';
import { CAPABILITY_SCHEMA, IssuerTrust, issueCapability, type CapabilityClaims } from '../../../src/credentials/capability.js';
import { JwtAuthenticator, requestAuthenticationSchema } from '../../../src/credentials/jwt.js';
import { createNodeSigner } from '../../../src/crypto/ed25519.js';
import { DecisionPipeline, type PipelineOptions } from '../../../src/decision/pipeline.js';
import { authorizationPolicySchema, compileAuthorizationPolicy } from '../../../src/policy/istio/authorization-policy.js';
import { compileValidatingPolicy } from '../../../src/policy/kyverno/validating-policy.js';
import type { PolicySet } from '../../../src/policy/policy-set.js';
import { PolicyInputs } from '../../../src/policy/policy-inputs.js';
import { newEd25519SignerKey } from '../../../src/tlog/index.js';

const JWT_FIXTURES = fileURLToPath(new URL('../../fixtures/jwt/', import.meta.url));

/** Istio's sample issuer and a token it issued (test/fixtures/jwt/README.md). */
export const ISTIO_ISSUER = 'testing@secure.istio.io';
export const ISTIO_JWT = readFileSync(`${JWT_FIXTURES}demo.jwt`, 'utf8').trim();
export const ISTIO_JWKS = readFileSync(`${JWT_FIXTURES}jwks.json`, 'utf8');

/** The pipeline's clock, in ms; capability tokens below are valid at this time. */
export const NOW_MS = 1_700_000_000_000;
const NOW_S = NOW_MS / 1000;

const seedOf = (byte: number) => new Uint8Array(32).fill(byte);
export const ISSUER = { signer: createNodeSigner(seedOf(1)), verifierKey: newEd25519SignerKey('demo-issuer', seedOf(1)).verifierKey };
export const UNTRUSTED = { signer: createNodeSigner(seedOf(2)), verifierKey: newEd25519SignerKey('other-issuer', seedOf(2)).verifierKey };

/** A capability token for POST /tools/* by the trusted issuer, with `overrides` applied. */
export function capabilityToken(overrides: Partial<CapabilityClaims> = {}, issuer = ISSUER): string {
  const claims: CapabilityClaims = {
    schema: CAPABILITY_SCHEMA,
    id: 'cap-1',
    issuer: issuer.verifierKey,
    subject: 'agent-1',
    scope: { grants: [{ methods: ['POST'], paths: ['/tools/*'] }] },
    issued_at: NOW_S - 60,
    expires_at: NOW_S + 3600,
    ...overrides,
  };
  return issueCapability(claims, issuer.signer);
}

export const authorizationPolicy = (name: string, spec: Record<string, unknown>, annotations?: Record<string, string>) =>
  compileAuthorizationPolicy(authorizationPolicySchema.parse({ apiVersion: 'chio.dev/v1', kind: 'AuthorizationPolicy', metadata: { name, ...(annotations ? { annotations } : {}) }, spec }));

/** ALLOW POST /tools/* for a request that presented a verified capability (the demo policy). */
export const TOOLS_WITH_CAPABILITY = authorizationPolicy('tools-with-capability', {
  action: 'ALLOW',
  rules: [{ to: [{ operation: { methods: ['POST'], paths: ['/tools/*'] } }], when: [{ key: 'capability.id', values: ['*'] }] }],
});

/** ALLOW GET /jwt/* for a request that presented a verified JWT. */
export const JWT_READS = authorizationPolicy('jwt-reads', {
  action: 'ALLOW',
  rules: [{ from: [{ source: { requestPrincipals: ['*'] } }], to: [{ operation: { methods: ['GET'], paths: ['/jwt/*'] } }] }],
});

/** DENY anything under /admin. */
export const DENY_ADMIN = authorizationPolicy('deny-admin', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin*'] } }] }] });

/** A ValidatingPolicy (kyverno-envoy-plugin format) that matches every request and asserts nothing. */
export const VALIDATE_ALL = compileValidatingPolicy({
  apiVersion: 'json.kyverno.io/v1alpha1', kind: 'ValidatingPolicy', metadata: { name: 'validate-all' },
  spec: { rules: [{ name: 'all', assert: { all: [{ check: { request: {} } }] } }] },
});

export interface PolicySetOptions {
  authorization?: PolicySet['authorization'];
  validating?: PolicySet['validating'];
  cel?: PolicySet['cel'];
  /** Configure a RequestAuthentication for Istio's sample issuer. */
  jwt?: boolean;
}

export function policySetOf(o: PolicySetOptions = {}): PolicySet {
  const jwt = o.jwt
    ? new JwtAuthenticator([requestAuthenticationSchema.parse({ apiVersion: 'chio.dev/v1', kind: 'RequestAuthentication', metadata: { name: 'istio' }, spec: { jwtRules: [{ issuer: ISTIO_ISSUER, jwks: ISTIO_JWKS }] } })], { now: () => NOW_MS })
    : undefined;
  return {
    hash: `sha256:${'ab'.repeat(32)}`,
    canonical: new TextEncoder().encode('[]'),
    issuers: new IssuerTrust([ISSUER.verifierKey]),
    authorization: o.authorization ?? [TOOLS_WITH_CAPABILITY],
    validating: o.validating ?? [],
    cel: o.cel ?? [],
    ignored: [],
    jwt,
    files: [],
    inputs: new PolicyInputs(),
    documents: 0,
  };
}

/** A CheckRequest as Envoy sends it; POST api.example/tools/run unless told otherwise. */
export function checkOf(o: Partial<EnvoyRequestOptions> = {}): CheckRequest {
  return buildCheckRequest({ method: 'POST', path: '/tools/run', host: 'api.example', ...o });
}

export const withCapability = (token = capabilityToken()) => ({ 'x-chio-capability-token': token });
export const withBearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** A pipeline over `policies` at NOW_MS, recording what it reports as internal errors. */
export function pipelineOf(policies: PolicySet | (() => PolicySet), options: Partial<PipelineOptions> = {}): { pipeline: DecisionPipeline; internalErrors: unknown[] } {
  const internalErrors: unknown[] = [];
  const pipeline = new DecisionPipeline({
    policies: typeof policies === 'function' ? policies : () => policies,
    mode: 'enforce',
    defaultVerdict: 'deny',
    onInternalError: (err) => internalErrors.push(err),
    now: () => NOW_MS,
    ...options,
  });
  return { pipeline, internalErrors };
}

/** A deadline far enough ahead for any local work. */
export const later = () => Date.now() + 5_000;
