import { createHash, createHmac, createPublicKey, KeyObject, sign as cryptoSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CheckInput } from '../../../src/decision/check-input.js';
import { normalizeTarget } from '../../../src/decision/path.js';
import { MAX_JWKS_REDIRECTS } from '../../../src/credentials/jwks.js';
import { JWT_REASONS as R, JwtAuthenticator, requestAuthenticationSchema, type JwtAuthenticatorOptions, type JwtRule, type RequestAuthentication } from '../../../src/credentials/jwt.js';
import { isChioError } from '../../../src/errors/index.js';
import { cacheLookupsTotal, jwksFetchesTotal } from '../../../src/metrics.js';
import { SMALL_ORDER_POINTS, identityForgery } from '../../support/small-order-keys.js';

const FIXTURES = fileURLToPath(new URL('../../fixtures/jwt/', import.meta.url));
const ISTIO_ISSUER = 'testing@secure.istio.io';
const ISSUER = 'https://issuer.example';
const fixture = (name: string) => readFileSync(FIXTURES + name, 'utf8').trim();
const b64url = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const sha256 = (token: string) => createHash('sha256').update(token).digest('hex');
const soon = () => Date.now() + 2000;
/** Poll until `ok`: a fetch started in the background is seen by the server a moment later. */
async function until(ok: () => boolean): Promise<void> {
  for (const stop = Date.now() + 5_000; !ok(); ) {
    if (Date.now() > stop) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Signer { privateKey: CryptoKey; jwk: JWK }
let rsa: Signer;
let rsa2: Signer;
let ec: Signer;
let rsaPem: string;

async function signer(alg: string, kid: string): Promise<Signer> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

function sign(s: Signer, claims: JWTPayload = {}, header: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: ISSUER, sub: 'alice', aud: 'api', iat: now, exp: now + 300, ...claims })
    .setProtectedHeader({ alg: s.jwk.alg!, kid: s.jwk.kid!, ...header })
    .sign(s.privateKey);
}

function request(headers: Record<string, string> = {}, rawPath = '/'): CheckInput {
  return {
    kind: 'http', requestId: 'r1', method: 'GET', host: 'svc', rawPath, path: rawPath.split('?')[0]!, target: normalizeTarget(rawPath), protocol: 'HTTP/1.1',
    headers: new Map(Object.entries(headers)), sourcePrincipal: '', sourceAddress: '', destinationAddress: '',
  };
}
const bearer = (token: string) => request({ authorization: `Bearer ${token}` });

function doc(...rules: Array<Partial<JwtRule>>): RequestAuthentication {
  return requestAuthenticationSchema.parse({
    apiVersion: 'chio.dev/v1', kind: 'RequestAuthentication', metadata: { name: 'jwt' },
    spec: { jwtRules: rules.map((r) => ({ issuer: ISSUER, ...r })) },
  });
}
const jwks = (...signers: Signer[]) => JSON.stringify({ keys: signers.map((s) => s.jwk) });

beforeAll(async () => {
  rsa = await signer('RS256', 'rsa-1');
  rsa2 = await signer('RS256', 'rsa-2');
  ec = await signer('ES256', 'ec-1');
  rsaPem = createPublicKey({ key: rsa.jwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
});

describe('JwtAuthenticator.authenticate', () => {
  let auth: JwtAuthenticator;
  beforeAll(() => {
    auth = new JwtAuthenticator([
      doc({ audiences: ['api'], jwks: jwks(rsa, ec) }),
      doc({ issuer: ISTIO_ISSUER, jwksFile: 'jwks.json' }),
    ], { baseDir: FIXTURES });
  });

  describe('when the token is valid', () => {
    it.each([['RS256', () => rsa], ['ES256', () => ec]])('allows %s with the verified claims', async (_, s) => {
      const token = await sign(s(), { groups: ['g1'] });
      const out = await auth.authenticate(bearer(token), soon());
      expect(out).toMatchObject({ verdict: 'allow', issuer: ISSUER, subject: 'alice', requestPrincipal: `${ISSUER}/alice`, credentialSha256: sha256(token) });
      expect(out.verdict === 'allow' && out.claims.groups).toEqual(['g1']);
    });

    it("allows Istio's published demo.jwt and groups-scope.jwt (jwksFile)", async () => {
      const demo = await auth.authenticate(bearer(fixture('demo.jwt')), soon());
      expect(demo).toMatchObject({ verdict: 'allow', requestPrincipal: `${ISTIO_ISSUER}/${ISTIO_ISSUER}`, claims: { foo: 'bar' } });
      const groups = await auth.authenticate(bearer(fixture('groups-scope.jwt')), soon());
      expect(groups).toMatchObject({ verdict: 'allow', claims: { groups: ['group1', 'group2'], scope: ['scope1', 'scope2'] } });
    });

    it('takes a jwksFile from the bytes it is given (the policy set hashes what it read once), not from a second read', async () => {
      const given = new Map([[`${FIXTURES}not-on-disk.json`, new TextEncoder().encode(readFileSync(`${FIXTURES}jwks.json`, 'utf8'))]]);
      const fromBytes = new JwtAuthenticator([doc({ issuer: ISTIO_ISSUER, jwksFile: 'not-on-disk.json' })], { baseDir: FIXTURES, jwksFiles: given });
      expect(await fromBytes.authenticate(bearer(fixture('demo.jwt')), soon())).toMatchObject({ verdict: 'allow' });
      expect(() => new JwtAuthenticator([doc({ issuer: ISTIO_ISSUER, jwksFile: 'not-on-disk.json' })], { baseDir: FIXTURES })).toThrow('jwksFile: cannot read');
    });

    it('accepts exp and nbf within the 60 s skew', async () => {
      const now = Math.floor(Date.now() / 1000);
      const token = await sign(rsa, { exp: now - 30, nbf: now + 30 });
      expect((await auth.authenticate(bearer(token), soon())).verdict).toBe('allow');
    });
  });

  describe('when the expiry is missing, absurd or too far', () => {
    const noExp = async () => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ iss: ISSUER, sub: 'alice', aud: 'api', iat: now }).setProtectedHeader({ alg: 'RS256', kid: 'rsa-1' }).sign(rsa.privateKey);
    };

    it('accepts a JWT without exp by default, as Istio does', async () => {
      expect((await auth.authenticate(bearer(await noExp()), soon())).verdict).toBe('allow');
    });

    it.each([['1e300', 1e300], ['-1', -1], ['2^53', 2 ** 53]])('denies exp %s as Envoy does (not a uint64)', async (_, exp) => {
      expect(await auth.authenticate(bearer(await sign(rsa, { exp })), soon())).toMatchObject({ verdict: 'deny', code: 'JWT_MALFORMED', reason: R.expNotInteger });
    });

    it('denies a JWT without exp when the rule says requireExpiration', async () => {
      const strict = new JwtAuthenticator([doc({ audiences: ['api'], jwks: jwks(rsa), requireExpiration: true })]);
      expect(await strict.authenticate(bearer(await noExp()), soon())).toMatchObject({ verdict: 'deny', code: 'JWT_INVALID', reason: R.expMissing });
      expect((await strict.authenticate(bearer(await sign(rsa)), soon())).verdict).toBe('allow');
    });

    it('denies a lifetime over maxLifetime, which also requires exp', async () => {
      const bounded = new JwtAuthenticator([doc({ audiences: ['api'], jwks: jwks(rsa), maxLifetime: '1h' })]);
      const now = Math.floor(Date.now() / 1000);
      expect((await bounded.authenticate(bearer(await sign(rsa, { iat: now, exp: now + 3600 })), soon())).verdict).toBe('allow');
      expect(await bounded.authenticate(bearer(await sign(rsa, { iat: now, exp: now + 3601 })), soon())).toMatchObject({ verdict: 'deny', reason: R.lifetimeTooLong });
      expect(await bounded.authenticate(bearer(await sign(rsa, { iat: undefined, exp: now + 7200 })), soon())).toMatchObject({ verdict: 'deny', reason: R.lifetimeTooLong });
      expect(await bounded.authenticate(bearer(await noExp()), soon())).toMatchObject({ verdict: 'deny', reason: R.expMissing });
      // An iat in the future must not stretch the lifetime: counted from now as well.
      expect(await bounded.authenticate(bearer(await sign(rsa, { iat: now + 10 * 365 * 86400 - 60, exp: now + 10 * 365 * 86400 })), soon())).toMatchObject({ verdict: 'deny', reason: R.lifetimeTooLong });
    });
  });

  describe('when a request carries several tokens', () => {
    it('removes the headers of every token, not just the first one, when two issuers\' tokens both verify', async () => {
      const two = new JwtAuthenticator([
        doc({ audiences: ['api'], jwks: jwks(rsa) }),
        doc({ issuer: ISTIO_ISSUER, jwksFile: 'jwks.json', fromHeaders: [{ name: 'x-jwt' }] }),
      ], { baseDir: FIXTURES });
      expect(await two.authenticate(request({ 'x-jwt': fixture('demo.jwt') }), soon())).toMatchObject({ verdict: 'allow', removeHeaders: ['x-jwt'] });
      const out = await two.authenticate(request({ authorization: `Bearer ${await sign(rsa)}`, 'x-jwt': fixture('demo.jwt') }), soon());
      expect(out).toMatchObject({ verdict: 'deny', reason: R.multipleTokens });
      expect(out.verdict === 'deny' && [...out.removeHeaders].sort()).toEqual(['authorization', 'x-jwt']);
    });

    it('denies two different JWTs that both verify: the policies would judge one while the upstream may read the other', async () => {
      // Istio leaves the principal of a request with several tokens undefined. Alice's token in
      // the header (judged, then removed) and Bob's in access_token (never removed) let a DENY
      // on Bob through to an upstream that reads the parameter.
      const alice = await sign(rsa);
      const bob = await sign(rsa, { sub: 'bob' });
      const out = await auth.authenticate(request({ authorization: `Bearer ${alice}` }, `/x?access_token=${bob}`), soon());
      expect(out).toMatchObject({ verdict: 'deny', code: 'JWT_INVALID', reason: R.multipleTokens, removeHeaders: ['authorization'] });
      const again = await auth.authenticate(request({ authorization: `Bearer ${alice}` }, `/x?access_token=${await sign(rsa, { scope: 'admin' })}`), soon());
      expect(again).toMatchObject({ verdict: 'deny', reason: R.multipleTokens });
    });

    it('allows one JWT found in several places: it is one caller', async () => {
      const alice = await sign(rsa);
      const out = await auth.authenticate(request({ authorization: `Bearer ${alice}` }, `/x?access_token=${alice}&access_token=${alice}`), soon());
      expect(out).toMatchObject({ verdict: 'allow', subject: 'alice', removeHeaders: ['authorization'] });
    });

    it('verifies every value of a repeated access_token parameter: a forged second one is denied', async () => {
      const good = await sign(rsa);
      const out = await auth.authenticate(request({}, `/x?access_token=${good}&access_token=forged.x.y`), soon());
      expect(out.verdict).toBe('deny');
    });

    it("verifies a token behind a comma after the prefix, which Envoy's extractor reaches", async () => {
      // Envoy takes the first run of base64url characters and dots after the prefix, past any
      // other character: `Bearer ,<jwt>` is that JWT, verified (and denied if forged), not no token.
      const good = await sign(rsa);
      const forged = `${good.split('.').slice(0, 2).join('.')}.AAAA`;
      expect(await auth.authenticate(bearer(`, ${forged}`), soon())).toMatchObject({ verdict: 'deny', reason: R.verificationFails, removeHeaders: ['authorization'] });
      expect(await auth.authenticate(request({ authorization: `Bearer ,,${forged}` }), soon())).toMatchObject({ verdict: 'deny', removeHeaders: ['authorization'] });
      expect(await auth.authenticate(bearer(`,${good}`), soon())).toMatchObject({ verdict: 'allow', removeHeaders: ['authorization'] });
    });

    it('names the headers of a rejected token too, so that they never reach upstream', async () => {
      const forged = `${(await sign(rsa)).split('.').slice(0, 2).join('.')}.AAAA`;
      expect(await auth.authenticate(bearer(forged), soon())).toMatchObject({ verdict: 'deny', removeHeaders: ['authorization'] });
    });
  });

  describe('when no JWT is presented', () => {
    it.each([
      ['no credentials', request()],
      ['a capability token (no dot)', bearer('eyJzY2hlbWEiOiJjaGlvLmNhcGFiaWxpdHkudjEifQ')],
      ['an empty bearer', request({ authorization: 'Bearer ' })],
      ['another scheme', request({ authorization: 'Basic a.b.c' })],
    ])('skips %s', async (_, input) => {
      expect(await auth.authenticate(input, soon())).toEqual({ verdict: 'skip' });
    });
  });

  describe('when the token is malformed', () => {
    const header = b64url({ alg: 'RS256', kid: 'rsa-1' });
    const payload = b64url({ iss: ISSUER });
    it.each([
      ['abc.def', R.badFormat],
      ['a.b.c.d', R.badFormat],
      ['a.b.c', R.headerBadBase64],
      [`${b64url('not json')}.${payload}.c2ln`, R.headerBadJson],
      [`${b64url('[1]')}.${payload}.c2ln`, R.headerBadJson],
      [`${b64url({ kid: 'rsa-1' })}.${payload}.c2ln`, R.headerBadAlg],
      [`${b64url({ alg: 'RS256', kid: 7 })}.${payload}.c2ln`, R.headerBadKid],
      [`${header}.a*b.c2ln`, R.payloadBadBase64],
      [`${header}.${b64url('{"iss":')}.c2ln`, R.payloadBadJson],
      [`${header}.${b64url({ iss: 42 })}.c2ln`, R.issNotString],
      [`${header}.${b64url({ iss: ISSUER, exp: 1.5 })}.c2ln`, R.expNotInteger],
      [`${header}.${b64url({ iss: ISSUER, aud: [1] })}.c2ln`, R.audNotString],
      [`${header}.${payload}.c2l=`, R.signatureBadBase64],
    ])('denies %s', async (token, reason) => {
      expect(await auth.authenticate(bearer(token), soon())).toEqual({ verdict: 'deny', code: 'JWT_MALFORMED', reason, credentialSha256: sha256(token), removeHeaders: ['authorization'] });
    });

    // Valid JSON text, signed by a trusted key, but half a character: no UTF-8 form, so no
    // receipt could record its subject (or a claim a policy read).
    it.each([
      ['the subject', { sub: '\ud83d' }],
      ['a nested claim', { org: { role: ['ok', 'x\udc00'] } }],
      ['a claim name', { ['\ud800']: 'x' }],
    ])('denies a well-signed token with a lone surrogate in %s as an invalid JSON payload', async (_name, claims) => {
      const token = await sign(rsa, claims);
      expect(await auth.authenticate(bearer(token), soon())).toMatchObject({ verdict: 'deny', code: 'JWT_MALFORMED', reason: R.payloadBadJson });
    });

    it('denies a 1 MB token without parsing it', async () => {
      const token = `${b64url({ alg: 'RS256' })}.${'A'.repeat(1024 * 1024)}.c2ln`;
      expect(await auth.authenticate(bearer(token), soon())).toMatchObject({ verdict: 'deny', reason: R.tooLarge });
    });
  });

  describe('when the header has crit', () => {
    // Signed here, not with SignJWT: jose refuses to sign a crit it does not know, or a bad one.
    const signWithHeader = (header: Record<string, unknown>, claims: JWTPayload = {}) => {
      const now = Math.floor(Date.now() / 1000);
      const input = `${b64url({ alg: 'RS256', kid: 'rsa-1', ...header })}.${b64url({ iss: ISSUER, sub: 'alice', aud: 'api', iat: now, exp: now + 300, ...claims })}`;
      return `${input}.${cryptoSign('sha256', Buffer.from(input), KeyObject.from(rsa.privateKey)).toString('base64url')}`;
    };
    it('allows the same well-signed token without crit', async () => {
      expect(await auth.authenticate(bearer(signWithHeader({})), soon())).toMatchObject({ verdict: 'allow' });
    });
    // RFC 7515 §4.1.11: the recipient MUST reject a crit it does not understand; Chio implements
    // no extension, so every crit is refused, b64 (RFC 7797) too, which jose alone would accept.
    it.each([
      ['an unknown extension', { crit: ['x'], x: 1 }],
      ['b64, encoded', { crit: ['b64'], b64: true }],
      ['an empty list', { crit: [] }],
      ['a string', { crit: 'x', x: 1 }],
      ['null', { crit: null }],
    ])('denies a well-signed token whose crit is %s, saying crit is the reason', async (_, header) => {
      const token = signWithHeader(header);
      expect(await auth.authenticate(bearer(token), soon())).toEqual({ verdict: 'deny', code: 'JWT_MALFORMED', reason: R.critNotSupported, credentialSha256: sha256(token), removeHeaders: ['authorization'] });
    });
    it('denies it at the header, before its issuer is looked up', async () => {
      const token = signWithHeader({ crit: ['x'], x: 1 }, { iss: 'https://evil.example' });
      expect(await auth.authenticate(bearer(token), soon())).toMatchObject({ verdict: 'deny', reason: R.critNotSupported });
    });
  });

  describe('when a claim does not pass', () => {
    const now = () => Math.floor(Date.now() / 1000);
    it.each([
      ['expired', () => sign(rsa, { exp: now() - 61 }), R.expired],
      ['not yet valid', () => sign(rsa, { nbf: now() + 120 }), R.notYetValid],
      ['for another audience', () => sign(rsa, { aud: ['web', 'mobile'] }), R.audienceNotAllowed],
      ['without an audience', () => sign(rsa, { aud: undefined }), R.audienceNotAllowed],
      ['from an unknown issuer', () => sign(rsa, { iss: 'https://evil.example' }), R.unknownIssuer],
      ['without an issuer', () => sign(rsa, { iss: undefined }), R.unknownIssuer],
    ])('denies a token %s', async (_, make, reason) => {
      expect(await auth.authenticate(bearer(await make()), soon())).toMatchObject({ verdict: 'deny', reason });
    });
  });

  describe('when the key or signature is wrong', () => {
    // Change one character of the signature (not the last: its low bits may be padding).
    const flip = (token: string, part: number) => {
      const parts = token.split('.');
      const c = parts[part]!.charAt(10);
      parts[part] = `${parts[part]!.slice(0, 10)}${c === 'A' ? 'B' : 'A'}${parts[part]!.slice(11)}`;
      return parts.join('.');
    };
    it.each([
      ['signed with an unknown kid', () => sign(rsa2), R.kidAlgMismatch],
      ['with a tampered signature', async () => flip(await sign(rsa), 2), R.verificationFails],
      ['with a tampered payload', async () => {
        const [h, p, sig] = (await sign(rsa)).split('.');
        return `${h}.${b64url({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), sub: 'admin' })}.${sig}`;
      }, R.verificationFails],
      ['signed by another key under a known kid', () => sign({ ...rsa2, jwk: rsa.jwk }), R.verificationFails],
      ['ES256-signed, claiming RS256', async () => {
        const [, p, s] = (await sign(ec)).split('.');
        return `${b64url({ alg: 'RS256', kid: 'rsa-1' })}.${p}.${s}`;
      }, R.verificationFails],
    ])('denies a token %s', async (_, make, reason) => {
      expect(await auth.authenticate(bearer(await make()), soon())).toMatchObject({ verdict: 'deny', reason });
    });

    it('denies alg none', async () => {
      const token = `${b64url({ alg: 'none' })}.${b64url({ iss: ISSUER, sub: 'admin', aud: 'api' })}.`;
      expect(await auth.authenticate(bearer(token), soon())).toMatchObject({ verdict: 'deny', reason: R.algNotSupported });
    });

    it('denies HS256 signed with the RSA public key as the HMAC secret', async () => {
      for (const secret of [rsaPem, JSON.stringify(rsa.jwk)]) {
        const input = `${b64url({ alg: 'HS256', kid: 'rsa-1' })}.${b64url({ iss: ISSUER, sub: 'admin', aud: 'api' })}`;
        const token = `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
        expect(await auth.authenticate(bearer(token), soon())).toMatchObject({ verdict: 'deny', reason: R.algNotSupported });
      }
    });

    it("verifies with a key that has no kid when the token names one, as Envoy's jwt_verify_lib tries it", async () => {
      const { kid: _, ...noKid } = rsa2.jwk;
      const mixed = new JwtAuthenticator([doc({ jwks: JSON.stringify({ keys: [rsa.jwk, noKid] }) })]);
      expect(await mixed.authenticate(bearer(await sign(rsa2, {}, { kid: 'rotated' })), soon())).toMatchObject({ verdict: 'allow', subject: 'alice' });
      expect(await mixed.authenticate(bearer(await sign(rsa2)), soon())).toMatchObject({ verdict: 'allow' });
      expect(await mixed.authenticate(bearer(await sign(rsa)), soon())).toMatchObject({ verdict: 'allow' });
      // Another key under a kid the set holds, or one it lacks, still does not verify.
      const other = await signer('RS256', 'rsa-3');
      expect(await mixed.authenticate(bearer(await sign(other)), soon())).toMatchObject({ verdict: 'deny', reason: R.verificationFails });
      expect(await mixed.authenticate(bearer(await sign({ ...other, jwk: rsa.jwk })), soon())).toMatchObject({ verdict: 'deny', reason: R.verificationFails });
      const onlyKids = new JwtAuthenticator([doc({ jwks: jwks(rsa) })]);
      expect(await onlyKids.authenticate(bearer(await sign(rsa2, {}, { kid: 'rotated' })), soon())).toMatchObject({ verdict: 'deny', reason: R.kidAlgMismatch });
    });

    it('denies a token "signed" under a JWKS key no one holds the secret of (the identity point), which node:crypto would take', async () => {
      // R = the identity, S = 0 holds under the identity key for every message in OpenSSL's check.
      const zero = { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(SMALL_ORDER_POINTS[0]!).toString('base64url'), kid: 'zero', alg: 'EdDSA' };
      const set = new JwtAuthenticator([doc({ jwks: JSON.stringify({ keys: [rsa.jwk, zero] }) })]);
      const now = Math.floor(Date.now() / 1000);
      const input = `${b64url({ alg: 'EdDSA', kid: 'zero' })}.${b64url({ iss: ISSUER, sub: 'admin', aud: 'api', iat: now, exp: now + 300 })}`;
      const token = `${input}.${Buffer.from(identityForgery()).toString('base64url')}`;
      expect((await set.authenticate(bearer(token), soon())).verdict).toBe('deny');
      // Alone in its set, it leaves no key: refused as a set without one.
      expect(() => new JwtAuthenticator([doc({ jwks: JSON.stringify({ keys: [zero] }) })])).toThrow("Jwks doesn't have any valid public key");
    });

    it('denies an algorithm the rule does not list', async () => {
      const only = new JwtAuthenticator([doc({ jwks: jwks(rsa, ec), algorithms: ['ES256'] })]);
      expect(await only.authenticate(bearer(await sign(rsa)), soon())).toMatchObject({ verdict: 'deny', reason: R.algNotSupported });
      expect((await only.authenticate(bearer(await sign(ec)), soon())).verdict).toBe('allow');
    });
  });

  describe('which headers must not reach upstream', () => {
    it('names the header the token came in, as Istio strips it by default', async () => {
      const a = new JwtAuthenticator([doc({ jwks: jwks(rsa) })]);
      expect(await a.authenticate(bearer(await sign(rsa)), soon())).toMatchObject({ verdict: 'allow', removeHeaders: ['authorization'] });
    });
    it('names none with forwardOriginalToken: true, or for a token in the query', async () => {
      const forward = new JwtAuthenticator([doc({ jwks: jwks(rsa), forwardOriginalToken: true })]);
      expect(await forward.authenticate(bearer(await sign(rsa)), soon())).toMatchObject({ verdict: 'allow', removeHeaders: [] });
      const query = new JwtAuthenticator([doc({ jwks: jwks(rsa), fromParams: ['jwt'] })]);
      expect(await query.authenticate(request({}, `/p?jwt=${await sign(rsa)}`), soon())).toMatchObject({ verdict: 'allow', removeHeaders: [] });
    });
  });

  describe('when the rule names where the token is', () => {
    let custom: JwtAuthenticator;
    beforeAll(() => {
      custom = new JwtAuthenticator([
        doc({ jwks: jwks(rsa), fromHeaders: [{ name: 'X-Jwt-Assertion', prefix: 'Token ' }], fromParams: ['jwt'] }),
        doc({ issuer: 'https://other.example', jwks: jwks(ec) }),
      ]);
    });

    it('reads a custom header after its prefix, and a query parameter', async () => {
      const token = await sign(rsa);
      expect((await custom.authenticate(request({ 'x-jwt-assertion': `Token ${token}` }), soon())).verdict).toBe('allow');
      expect((await custom.authenticate(request({}, `/p?a=1&jwt=${token}`), soon())).verdict).toBe('allow');
      expect(await custom.authenticate(request({ 'x-jwt-assertion': token }), soon())).toEqual({ verdict: 'skip' });
    });

    it("denies a token found where its issuer's rule does not look", async () => {
      expect(await custom.authenticate(bearer(await sign(rsa)), soon())).toMatchObject({ verdict: 'deny', reason: R.unknownIssuer });
    });

    it("denies a token also found where its issuer's rule does not look, as Envoy verifies each place on its own", async () => {
      // Rule A forwards its token; rule B reads x-b and the b_token parameter (never removed).
      // The same A token in A's header and in B's places was let through, and reached the
      // upstream of B's places as if it were a B token the mesh had verified.
      const two = new JwtAuthenticator([
        doc({ jwks: jwks(rsa), forwardOriginalToken: true }),
        doc({ issuer: 'https://b.example', jwks: jwks(ec), fromHeaders: [{ name: 'x-b' }], fromParams: ['b_token'] }),
      ]);
      const a = await sign(rsa);
      expect((await two.authenticate(bearer(a), soon())).verdict).toBe('allow');
      const inHeader = await two.authenticate(request({ authorization: `Bearer ${a}`, 'x-b': a }), soon());
      expect(inHeader).toMatchObject({ verdict: 'deny', reason: R.unknownIssuer });
      expect(inHeader.verdict === 'deny' && [...inHeader.removeHeaders].sort()).toEqual(['authorization', 'x-b']);
      const inQuery = await two.authenticate(request({ authorization: `Bearer ${a}` }, `/p?b_token=${a}`), soon());
      expect(inQuery).toMatchObject({ verdict: 'deny', reason: R.unknownIssuer });
    });

    it('reads access_token by default, and denies when any of the tokens found fails', async () => {
      const good = await sign(ec, { iss: 'https://other.example' });
      expect((await custom.authenticate(request({}, `/p?access_token=${good}`), soon())).verdict).toBe('allow');
      const both = request({ authorization: `Bearer ${good}`, 'x-jwt-assertion': 'Token a.b.c' });
      expect(await custom.authenticate(both, soon())).toMatchObject({ verdict: 'deny', reason: R.headerBadBase64 });
    });
  });
});

describe('requestAuthenticationSchema', () => {
  const parse = (rule: Record<string, unknown>) => requestAuthenticationSchema.safeParse({
    apiVersion: 'chio.dev/v1', kind: 'RequestAuthentication', metadata: { name: 'a' }, spec: { jwtRules: [{ issuer: ISSUER, ...rule }] },
  });

  describe('when a rule lists algorithms', () => {
    it.each(['none', 'HS256', 'hs512', 'XS1'])('refuses %s', (alg) => {
      const out = parse({ jwksUri: 'https://issuer.example/jwks', algorithms: ['RS256', alg] });
      expect(out.success).toBe(false);
      expect(out.error?.issues[0]?.path).toEqual(['spec', 'jwtRules', 0, 'algorithms', 1]);
    });
  });

  // Envoy writes the verified payload there and drops the client's own; Chio does neither, so
  // an upstream reading that header would trust what the client sent.
  it('refuses outputPayloadToHeader, saying why', () => {
    const out = parse({ jwksUri: 'https://issuer.example/jwks', outputPayloadToHeader: 'x-jwt-payload' });
    expect(out.success).toBe(false);
    expect(out.error?.issues[0]).toMatchObject({ path: ['spec', 'jwtRules', 0, 'outputPayloadToHeader'], message: expect.stringContaining('a client could send that header itself') });
  });

  // Istio's other JWTRule fields: refused too, each saying why, rather than "Unrecognized key".
  it.each([
    ['outputClaimToHeaders', [{ header: 'x-sub', claim: 'sub' }], 'a client could send that header itself'],
    ['fromCookies', ['session'], 'cookies are not read'],
    ['timeout', '5s', 'gives up after 1 s'],
  ])('refuses %s, saying why', (field, value, why) => {
    const out = parse({ jwksUri: 'https://issuer.example/jwks', [field]: value });
    expect(out.success).toBe(false);
    expect(out.error?.issues[0]).toMatchObject({ path: ['spec', 'jwtRules', 0, field], message: expect.stringContaining(why) });
  });

  describe('when the key source is given', () => {
    it('accepts exactly one of jwks, jwksUri, jwksFile', () => {
      expect(parse({ jwksUri: 'https://issuer.example/jwks', fromHeaders: [{ name: 'x-jwt' }], forwardOriginalToken: true }).success).toBe(true);
      expect(parse({}).success).toBe(false);
      expect(parse({ jwksUri: 'https://issuer.example/jwks', jwksFile: 'k.json' }).success).toBe(false);
      expect(parse({ jwksUri: 'file:///etc/passwd' }).success).toBe(false);
    });
  });
});

describe('JwtAuthenticator', () => {
  describe('when an inline or file JWKS is bad', () => {
    it.each([
      [{ jwks: 'not json' }, 'jwks: Jwks is an invalid JSON'],
      [{ jwks: '{}' }, 'jwks: Jwks does not have [keys] field'],
      [{ jwks: '{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}' }, "jwks: Jwks doesn't have any valid public key"],
      [{ jwksFile: 'missing.json' }, 'jwksFile: cannot read'],
    ])('throws CONFIG_INVALID naming the document and field (%j)', (rule, message) => {
      let caught: unknown;
      try {
        new JwtAuthenticator([doc(rule)], { baseDir: FIXTURES });
      } catch (err) {
        caught = err;
      }
      expect(isChioError(caught, 'CONFIG_INVALID')).toBe(true);
      expect((caught as Error).message).toContain(`RequestAuthentication jwt: field spec.jwtRules.0.${message}`);
    });
  });
});

describe('JwtAuthenticator with a jwksUri', () => {
  let server: Server;
  let uri: string;
  let mode: 'healthy' | 'slow' | 'late' | 'garbage' | 'error';
  let served: Signer[];
  let hits: number;
  let clock: number;
  const timers = new Set<NodeJS.Timeout>();

  beforeAll(async () => {
    server = createServer((_, res) => {
      hits += 1;
      if (mode === 'healthy') res.writeHead(200, { 'content-type': 'application/json' }).end(jwks(...served));
      else if (mode === 'garbage') res.writeHead(200).end('<html>garbage</html>');
      else if (mode === 'error') res.writeHead(500).end();
      else timers.add(setTimeout(() => res.end(jwks(...served)), mode === 'late' ? 300 : 5000));
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    uri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  });
  afterAll(async () => {
    for (const t of timers) clearTimeout(t);
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
  });
  beforeEach(() => {
    mode = 'healthy';
    served = [rsa];
    hits = 0;
    clock = Date.now();
  });
  const make = (options: JwtAuthenticatorOptions = {}, jwksUri = uri) => new JwtAuthenticator([doc({ jwksUri })], { now: () => clock, ...options });

  describe('when the endpoint is healthy', () => {
    it('fetches once for many requests, concurrent or not, until the TTL ends', async () => {
      const auth = make({ cacheTtlMs: 60_000 });
      const token = await sign(rsa);
      const outs = await Promise.all(Array.from({ length: 5 }, () => auth.authenticate(bearer(token), soon())));
      expect(outs.map((o) => o.verdict)).toEqual(Array(5).fill('allow'));
      expect((await auth.authenticate(bearer(token), soon())).verdict).toBe('allow');
      expect(hits).toBe(1);
      clock += 60_000;
      expect((await auth.authenticate(bearer(token), soon())).verdict).toBe('allow');
      await until(() => hits === 2);
      clock += 1_000;
      expect((await auth.authenticate(bearer(token), soon())).verdict).toBe('allow');
      expect(hits).toBe(2);
    });

    it('counts each key-set lookup as a cache hit or miss (chio_cache_lookups_total{cache="jwks"})', async () => {
      const lookups = async (result: string) => (await cacheLookupsTotal.get()).values.find((v) => v.labels.cache === 'jwks' && v.labels.result === result)?.value ?? 0;
      const [hits0, misses0, stale0] = [await lookups('hit'), await lookups('miss'), await lookups('stale')];
      const auth = make({ cacheTtlMs: 60_000 });
      const token = await sign(rsa);
      expect((await auth.authenticate(bearer(token), soon())).verdict).toBe('allow');
      expect((await auth.authenticate(bearer(token), soon())).verdict).toBe('allow');
      expect((await auth.authenticate(bearer(token), soon())).verdict).toBe('allow');
      clock += 60_000;
      expect((await auth.authenticate(bearer(token), soon())).verdict).toBe('allow');
      expect([(await lookups('hit')) - hits0, (await lookups('miss')) - misses0, (await lookups('stale')) - stale0]).toEqual([2, 1, 1]);
      // The stale lookup began a fetch: let it reach the server before the next test counts hits.
      await until(() => hits === 2);
    });

    it('refetches on an unknown kid (rotation) at most once per minRefreshIntervalMs', async () => {
      const auth = make({ minRefreshIntervalMs: 10_000 });
      expect((await auth.authenticate(bearer(await sign(rsa)), soon())).verdict).toBe('allow');
      const rotated = await sign(rsa2);
      clock += 5_000;
      expect(await auth.authenticate(bearer(rotated), soon())).toMatchObject({ verdict: 'deny', reason: R.kidAlgMismatch });
      expect(hits).toBe(1);
      served = [rsa, rsa2];
      clock += 5_000;
      expect((await auth.authenticate(bearer(rotated), soon())).verdict).toBe('allow');
      expect(hits).toBe(2);
      const unknown = await sign({ ...ec, jwk: { ...ec.jwk, kid: 'ec-unknown' } });
      expect(await auth.authenticate(bearer(unknown), soon())).toMatchObject({ verdict: 'deny', reason: R.kidAlgMismatch });
      expect(hits).toBe(2);
    });
  });

  describe('when the identity provider is slower than one Check', () => {
    it('denies the Check that cannot wait, but the fetch goes on and later Checks find the keys', async () => {
      mode = 'late';
      const auth = make({ fetchTimeoutMs: 2_000 });
      const token = await sign(rsa);
      expect(await auth.authenticate(bearer(token), Date.now() + 100)).toMatchObject({ verdict: 'deny', reason: R.jwksFetchFail });
      await new Promise((r) => setTimeout(r, 400));
      expect((await auth.authenticate(bearer(token), Date.now() + 100)).verdict).toBe('allow');
      expect(hits).toBe(1);
    });

    it('prefetches at policy load, so the first Check does not wait', async () => {
      mode = 'late';
      const auth = make({ fetchTimeoutMs: 2_000 });
      auth.prefetch();
      await new Promise((r) => setTimeout(r, 400));
      expect((await auth.authenticate(bearer(await sign(rsa)), Date.now() + 50)).verdict).toBe('allow');
      expect(hits).toBe(1);
    });
  });

  describe('when the endpoint fails after a set was fetched', () => {
    const TTL = 60_000;
    const STALE = 3_600_000;
    // Lives past the clock's steps, so that only the key set decides.
    const lasting = (s: Signer) => sign(s, { exp: Math.floor(Date.now() / 1000) + 48 * 3600 });
    const fetched = async () => {
      const auth = make({ cacheTtlMs: TTL, maxStaleMs: STALE });
      const token = await lasting(rsa);
      expect((await auth.authenticate(bearer(token), soon())).verdict).toBe('allow');
      return { auth, token };
    };

    it.each(['error', 'garbage'] as const)('answers with the last set past its TTL while fetches fail (%s), for maxStaleMs', async (m) => {
      const { auth, token } = await fetched();
      mode = m;
      for (const step of [TTL, 10_000, STALE - 10_001]) {
        clock += step;
        expect((await auth.authenticate(bearer(token), soon())).verdict).toBe('allow');
      }
      clock += 10_000;
      expect(await auth.authenticate(bearer(token), soon())).toMatchObject({ verdict: 'deny', reason: R.jwksFetchFail });
      // Once the endpoint answers again, its set is used.
      mode = 'healthy';
      served = [rsa2];
      clock += 10_000;
      expect(await auth.authenticate(bearer(token), soon())).toMatchObject({ verdict: 'deny', reason: R.kidAlgMismatch });
      expect((await auth.authenticate(bearer(await lasting(rsa2)), soon())).verdict).toBe('allow');
    });

    it('answers at once while the refetch hangs, and takes the new set when it comes', async () => {
      const { auth, token } = await fetched();
      mode = 'late';
      clock += TTL;
      // Allowed by a deadline shorter than the fetch takes (300 ms): answered without waiting for it.
      expect((await auth.authenticate(bearer(token), Date.now() + 100)).verdict).toBe('allow');
      served = [rsa2];
      await until(() => hits === 2);
      // The new set lands some 300 ms after the server saw its request: wait for it, not a fixed time.
      let last: unknown;
      for (const stop = Date.now() + 5_000; Date.now() < stop; await new Promise((r) => setTimeout(r, 20))) {
        last = await auth.authenticate(bearer(token), soon());
        if ((last as { verdict: string }).verdict === 'deny') break;
      }
      expect(last).toMatchObject({ verdict: 'deny', reason: R.kidAlgMismatch });
    });

    it('hands its key sets, with what they fetched, to the authenticator that replaces it (a policy reload)', async () => {
      const { auth, token } = await fetched();
      mode = 'error';
      clock += TTL;
      const next = make({ cacheTtlMs: TTL, maxStaleMs: STALE, remoteJwks: auth.remoteJwks });
      expect((await next.authenticate(bearer(token), soon())).verdict).toBe('allow');
      // Without them, a new authenticator has no set while the endpoint fails.
      expect(await make({ cacheTtlMs: TTL, maxStaleMs: STALE }).authenticate(bearer(token), soon())).toMatchObject({ verdict: 'deny', reason: R.jwksFetchFail });
    });

    it('does not answer for a key the last set lacks: that token waits for the fetch', async () => {
      const { auth } = await fetched();
      mode = 'error';
      clock += TTL;
      expect(await auth.authenticate(bearer(await lasting(rsa2)), soon())).toMatchObject({ verdict: 'deny', reason: R.jwksFetchFail });
      expect(hits).toBe(2);
    });
  });

  describe('when the endpoint fails', () => {
    it.each(['garbage', 'error'] as const)('denies on %s and does not refetch within minRefreshIntervalMs', async (m) => {
      mode = m;
      const auth = make();
      const token = await sign(rsa);
      expect(await auth.authenticate(bearer(token), soon())).toEqual({ verdict: 'deny', code: 'JWT_KEYS_UNAVAILABLE', reason: R.jwksFetchFail, credentialSha256: sha256(token), removeHeaders: ['authorization'] });
      expect(await auth.authenticate(bearer(token), soon())).toMatchObject({ verdict: 'deny', reason: R.jwksFetchFail });
      expect(hits).toBe(1);
      mode = 'healthy';
      clock += 10_000;
      expect((await auth.authenticate(bearer(token), soon())).verdict).toBe('allow');
    });

    it('counts each fetch by its result (chio_jwks_fetches_total), what ChioJwksFetchFailing reads', async () => {
      const fetches = async (result: string) => (await jwksFetchesTotal.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
      const [ok0, failed0] = [await fetches('ok'), await fetches('failed')];
      const token = await sign(rsa);
      for (const m of ['error', 'garbage'] as const) {
        mode = m;
        clock += 10_000;
        expect((await make().authenticate(bearer(token), soon())).verdict).toBe('deny');
      }
      mode = 'healthy';
      expect((await make().authenticate(bearer(token), soon())).verdict).toBe('allow');
      expect([(await fetches('ok')) - ok0, (await fetches('failed')) - failed0]).toEqual([1, 2]);
    });

    it('denies when the connection is refused', async () => {
      const dead = createServer();
      await new Promise<void>((done) => dead.listen(0, '127.0.0.1', done));
      const port = (dead.address() as AddressInfo).port;
      await new Promise((done) => dead.close(done));
      const auth = make({}, `http://127.0.0.1:${port}/jwks.json`);
      expect(await auth.authenticate(bearer(await sign(rsa)), soon())).toMatchObject({ verdict: 'deny', reason: R.jwksFetchFail });
    });

    it('never holds a request past its deadline when the endpoint hangs', async () => {
      mode = 'slow';
      const auth = make();
      const token = await sign(rsa);
      // Each answer must come before a timer due 50 ms after its deadline: told by their order,
      // not by the clock. A busy machine may fire every timer late, but those due by then still
      // fire in the order they were due, and a deadline's answer follows its timer in the same
      // turn (or comes at once, if the deadline passed before it was asked).
      const order: string[] = [];
      const started = Date.now();
      const marks = [150, 250].map((ms) => new Promise<void>((r) => setTimeout(r, started + ms - Date.now())).then(() => order.push(`${ms} ms`)));
      const answered = (name: string, deadline: number) => auth.authenticate(bearer(token), deadline).finally(() => order.push(name));
      const outs = await Promise.all([answered('200 ms deadline', started + 200), answered('100 ms deadline', started + 100), ...marks]);
      for (const out of outs.slice(0, 2)) expect(out).toMatchObject({ verdict: 'deny', reason: R.jwksFetchFail });
      // (Not the two answers' order: a machine that holds this turn past both deadlines before
      // they are asked has both answered at once, rightly.)
      const before = (answer: string, mark: string) => order.indexOf(answer) < order.indexOf(mark);
      expect(before('100 ms deadline', '150 ms'), order.join(', ')).toBe(true);
      expect(before('200 ms deadline', '250 ms'), order.join(', ')).toBe(true);
      await until(() => hits > 0); // both may have been answered before the server was reached
      expect(hits).toBe(1);
    });

    it('gives up after fetchTimeoutMs even with a distant deadline', async () => {
      mode = 'slow';
      const started = Date.now();
      const out = await make({ fetchTimeoutMs: 100 }).authenticate(bearer(await sign(rsa)), Date.now() + 10_000);
      expect(out).toMatchObject({ verdict: 'deny', reason: R.jwksFetchFail });
      expect(Date.now() - started).toBeLessThan(1000);
    });
  });
});

describe('JwtAuthenticator with a jwksUri that redirects', () => {
  /** A stand-in for fetch: each URL's answer, and every URL asked, with how redirects were to be taken. */
  function fetchOf(answers: Record<string, () => Response>) {
    const asked: Array<{ url: string; redirect: RequestRedirect | undefined }> = [];
    const fake = (async (input: string | URL | Request, init?: RequestInit) => {
      const url = String(input);
      asked.push({ url, redirect: init?.redirect });
      return answers[url]?.() ?? new Response(null, { status: 404 });
    }) as typeof fetch;
    return { fake, asked };
  }
  const redirect = (location: string) => () => new Response(null, { status: 302, headers: { location } });
  const keys = () => new Response(jwks(rsa), { status: 200, headers: { 'content-type': 'application/json' } });
  const authWith = (fake: typeof fetch) => new JwtAuthenticator([doc({ jwksUri: 'https://issuer.example/jwks' })], { fetch: fake });

  it('follows a redirect that stays on https, taking redirects into its own hands', async () => {
    const { fake, asked } = fetchOf({ 'https://issuer.example/jwks': redirect('https://keys.example/v2/jwks'), 'https://keys.example/v2/jwks': keys });
    expect((await authWith(fake).authenticate(bearer(await sign(rsa)), soon())).verdict).toBe('allow');
    expect(asked).toEqual([{ url: 'https://issuer.example/jwks', redirect: 'manual' }, { url: 'https://keys.example/v2/jwks', redirect: 'manual' }]);
  });

  it('does not follow a redirect from https to http, where anyone on the path could serve keys', async () => {
    const { fake, asked } = fetchOf({ 'https://issuer.example/jwks': redirect('http://keys.example/jwks'), 'http://keys.example/jwks': keys });
    expect(await authWith(fake).authenticate(bearer(await sign(rsa)), soon())).toMatchObject({ verdict: 'deny', reason: R.jwksFetchFail });
    expect(asked.map((a) => a.url)).toEqual(['https://issuer.example/jwks']);
  });

  it(`gives up after ${MAX_JWKS_REDIRECTS} redirects`, async () => {
    const { fake, asked } = fetchOf({ 'https://issuer.example/jwks': redirect('/jwks?again') , 'https://issuer.example/jwks?again': redirect('/jwks') });
    expect(await authWith(fake).authenticate(bearer(await sign(rsa)), soon())).toMatchObject({ verdict: 'deny', reason: R.jwksFetchFail });
    expect(asked).toHaveLength(MAX_JWKS_REDIRECTS + 1);
  });
});
