import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CheckInput } from '../../../src/decision/check-input.js';
import { normalizeTarget } from '../../../src/decision/path.js';
import { JWT_REASONS as R, JwtAuthenticator, requestAuthenticationSchema, type JwtAuthenticatorOptions, type JwtRule } from '../../../src/credentials/jwt.js';
import { verifyWithKeySet } from '../../../src/credentials/jwt-signature.js';
import { cacheLookupsTotal } from '../../../src/metrics.js';

// The signature check, counted: a Check answered from the cache must not reach it.
vi.mock('../../../src/credentials/jwt-signature.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../src/credentials/jwt-signature.js')>();
  return { ...real, verifyWithKeySet: vi.fn(real.verifyWithKeySet) };
});
const verifies = vi.mocked(verifyWithKeySet);

const ISSUER = 'https://issuer.example';
const JWKS_URI = 'https://idp.example/jwks.json';
const soon = () => Date.now() + 2000;

interface Signer { privateKey: CryptoKey; jwk: JWK }
let rsa: Signer;
let rsa2: Signer;
let ec: Signer;
let clock: number;
const nowSeconds = () => Math.floor(clock / 1000);

async function signer(alg: string, kid: string): Promise<Signer> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

function sign(s: Signer, claims: JWTPayload = {}): Promise<string> {
  const now = nowSeconds();
  return new SignJWT({ iss: ISSUER, sub: 'alice', aud: 'api', iat: now, exp: now + 3600, ...claims }).setProtectedHeader({ alg: s.jwk.alg!, kid: s.jwk.kid! }).sign(s.privateKey);
}

function bearer(token: string, header = 'authorization'): CheckInput {
  return {
    kind: 'http', requestId: 'r1', method: 'GET', host: 'svc', rawPath: '/', path: '/', target: normalizeTarget('/'), protocol: 'HTTP/1.1',
    headers: new Map([[header, `Bearer ${token}`]]), sourcePrincipal: '', sourceAddress: '', destinationAddress: '',
  };
}

const jwks = (...signers: Signer[]) => JSON.stringify({ keys: signers.map((s) => s.jwk) });
const authenticator = (rule: Partial<JwtRule>, options: JwtAuthenticatorOptions = {}) =>
  new JwtAuthenticator([requestAuthenticationSchema.parse({
    apiVersion: 'chio.dev/v1', kind: 'RequestAuthentication', metadata: { name: 'jwt' },
    spec: { jwtRules: [{ issuer: ISSUER, audiences: ['api'], ...rule }] },
  })], { now: () => clock, ...options });
const local = (options: JwtAuthenticatorOptions = {}) => authenticator({ jwks: jwks(rsa, ec) }, options);

beforeAll(async () => {
  rsa = await signer('RS256', 'rsa-1');
  rsa2 = await signer('RS256', 'rsa-2');
  ec = await signer('ES256', 'ec-1');
});
beforeEach(() => {
  clock = Date.now();
  verifies.mockClear();
});

describe('JwtAuthenticator verification cache', () => {
  describe('when a verified token comes again', () => {
    it.each([['RS256', () => rsa], ['ES256', () => ec]])('answers %s with the same claims without checking its signature again', async (_, s) => {
      const auth = local();
      const token = await sign(s(), { groups: ['g1'] });
      const first = await auth.authenticate(bearer(token), soon());
      expect(first).toMatchObject({ verdict: 'allow', requestPrincipal: `${ISSUER}/alice`, claims: { groups: ['g1'] } });
      expect(await auth.authenticate(bearer(token), soon())).toEqual(first);
      expect(await auth.authenticate(bearer(token), soon())).toEqual(first);
      expect(verifies).toHaveBeenCalledTimes(1);
    });

    it('counts each lookup as chio_cache_lookups_total{cache="jwt"}', async () => {
      const lookups = async (result: string) => (await cacheLookupsTotal.get()).values.find((v) => v.labels.cache === 'jwt' && v.labels.result === result)?.value ?? 0;
      const [hits0, misses0] = [await lookups('hit'), await lookups('miss')];
      const auth = local();
      const token = await sign(rsa);
      for (let i = 0; i < 3; i++) expect((await auth.authenticate(bearer(token), soon())).verdict).toBe('allow');
      expect([(await lookups('hit')) - hits0, (await lookups('miss')) - misses0]).toEqual([2, 1]);
    });

    it("still checks where it was found: a cached token also in another issuer's header is denied", async () => {
      const auth = new JwtAuthenticator([requestAuthenticationSchema.parse({
        apiVersion: 'chio.dev/v1', kind: 'RequestAuthentication', metadata: { name: 'jwt' },
        spec: { jwtRules: [{ issuer: ISSUER, jwks: jwks(rsa) }, { issuer: 'https://other.example', jwks: jwks(ec), fromHeaders: [{ name: 'x-other' }] }] },
      })], { now: () => clock });
      const token = await sign(rsa);
      expect((await auth.authenticate(bearer(token), soon())).verdict).toBe('allow');
      const both = bearer(token);
      (both.headers as Map<string, string>).set('x-other', token);
      expect(await auth.authenticate(both, soon())).toMatchObject({ verdict: 'deny', reason: R.unknownIssuer });
    });
  });

  describe('when time passes', () => {
    it('checks the signature again at exp, within the skew, and denies past it', async () => {
      const auth = local();
      const token = await sign(rsa, { exp: nowSeconds() + 100 });
      expect((await auth.authenticate(bearer(token), soon())).verdict).toBe('allow');
      clock += 100_000; // at exp: the skew still accepts it, but never from the cache
      expect((await auth.authenticate(bearer(token), soon())).verdict).toBe('allow');
      expect(verifies).toHaveBeenCalledTimes(2);
      clock += 61_000;
      expect(await auth.authenticate(bearer(token), soon())).toMatchObject({ verdict: 'deny', reason: R.expired });
    });

    it('does not answer from the cache before nbf, even when the skew accepted the token', async () => {
      const auth = local();
      const token = await sign(rsa, { nbf: nowSeconds() + 30 });
      expect((await auth.authenticate(bearer(token), soon())).verdict).toBe('allow');
      expect((await auth.authenticate(bearer(token), soon())).verdict).toBe('allow');
      expect(verifies).toHaveBeenCalledTimes(2);
      // From nbf on, the last verification serves.
      clock += 30_000;
      for (let i = 0; i < 2; i++) expect((await auth.authenticate(bearer(token), soon())).verdict).toBe('allow');
      expect(verifies).toHaveBeenCalledTimes(2);
    });
  });

  describe('when the token is not the one verified', () => {
    it('checks a forged signature over a cached token\'s header and payload, and never caches the failure', async () => {
      const auth = local();
      const token = await sign(rsa);
      expect((await auth.authenticate(bearer(token), soon())).verdict).toBe('allow');
      const [h, p] = token.split('.');
      const forged = `${h}.${p}.${Buffer.alloc(256, 1).toString('base64url')}`;
      for (let i = 0; i < 2; i++) expect(await auth.authenticate(bearer(forged), soon())).toMatchObject({ verdict: 'deny', reason: R.verificationFails });
      expect(verifies).toHaveBeenCalledTimes(3);
    });
  });

  describe('when the JWKS changes', () => {
    let served: Signer[];
    let fetches: number;
    const fetch = (async () => {
      fetches += 1;
      return new Response(jwks(...served), { status: 200, headers: { 'content-type': 'application/json' } });
    }) as unknown as typeof globalThis.fetch;
    const remote = (options: JwtAuthenticatorOptions = {}) => authenticator({ jwksUri: JWKS_URI }, { fetch, cacheTtlMs: 60_000, maxStaleMs: 1, ...options });
    beforeEach(() => {
      served = [rsa];
      fetches = 0;
    });

    it('denies at once a cached token whose key the refetched set no longer holds', async () => {
      const auth = remote();
      const token = await sign(rsa, { exp: nowSeconds() + 86_400 });
      for (let i = 0; i < 2; i++) expect((await auth.authenticate(bearer(token), soon())).verdict).toBe('allow');
      expect(verifies).toHaveBeenCalledTimes(1);
      served = [rsa2];
      clock += 70_000;
      expect(await auth.authenticate(bearer(token), soon())).toMatchObject({ verdict: 'deny', reason: R.kidAlgMismatch });
      expect(fetches).toBe(2);
    });

    it('checks a cached token again with a refetched set that still holds its key', async () => {
      const auth = remote();
      const token = await sign(rsa, { exp: nowSeconds() + 86_400 });
      expect((await auth.authenticate(bearer(token), soon())).verdict).toBe('allow');
      served = [rsa, rsa2];
      clock += 70_000;
      for (let i = 0; i < 2; i++) expect((await auth.authenticate(bearer(token), soon())).verdict).toBe('allow');
      expect([fetches, verifies.mock.calls.length]).toEqual([2, 2]);
    });

    it('starts empty in the authenticator of a policy reload, though it takes over the fetched key sets', async () => {
      const auth = remote();
      const token = await sign(rsa);
      expect((await auth.authenticate(bearer(token), soon())).verdict).toBe('allow');
      const reloaded = remote({ remoteJwks: auth.remoteJwks });
      expect((await reloaded.authenticate(bearer(token), soon())).verdict).toBe('allow');
      expect([fetches, verifies.mock.calls.length]).toEqual([1, 2]);
    });
  });

  describe('when more tokens come than it holds', () => {
    it('keeps verifiedCacheSize of them, dropping the least recently used', async () => {
      const auth = local({ verifiedCacheSize: 2 });
      const tokens = await Promise.all(['a', 'b', 'c'].map((sub) => sign(rsa, { sub })));
      for (const token of tokens) expect((await auth.authenticate(bearer(token), soon())).verdict).toBe('allow');
      expect(verifies).toHaveBeenCalledTimes(3);
      await auth.authenticate(bearer(tokens[2]!), soon());
      expect(verifies).toHaveBeenCalledTimes(3);
      await auth.authenticate(bearer(tokens[0]!), soon());
      expect(verifies).toHaveBeenCalledTimes(4);
    });

    it.each([0, 1.5, -1])('refuses verifiedCacheSize %s', (size) => {
      expect(() => local({ verifiedCacheSize: size })).toThrow('verifiedCacheSize');
    });
  });
});
