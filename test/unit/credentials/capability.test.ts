import { describe, expect, it } from 'vitest';
import {
  CAPABILITY_SCHEMA, IssuerTrust, MAX_GRANTS, MAX_TOKEN_CHARS, issueCapability, verifyCapability,
  type CapabilityClaims,
} from '../../../src/credentials/capability.js';
import { type ChioErrorCode, isChioError } from '../../../src/errors/index.js';
import { fromBase64Url, toBase64, toBase64Url } from '../../../src/encoding.js';
import { canonicalBytes } from '../../../src/receipt/jcs.js';
import { createNodeSigner } from '../../../src/crypto/ed25519.js';
import { newEd25519SignerKey, newEd25519VerifierKey } from '../../../src/tlog/index.js';
import { DEFAULT_CLOCK_SKEW_SECONDS } from '../../../src/time.js';
import { expectCode, thrownCode } from '../receipt/helpers.js';
import { KEYS_NO_ONE_HOLDS } from '../../support/small-order-keys.js';

const seedOf = (byte: number) => new Uint8Array(32).fill(byte);
const ISSUER = { signer: createNodeSigner(seedOf(1)), vkey: newEd25519SignerKey('demo-issuer', seedOf(1)).verifierKey };
const OTHER = { signer: createNodeSigner(seedOf(2)), vkey: newEd25519SignerKey('other-issuer', seedOf(2)).verifierKey };
const TRUST = new IssuerTrust([ISSUER.vkey]);

const ISSUED = 1_700_000_000;
const EXPIRES = ISSUED + 3600;
const NOW = ISSUED + 60;

const CLAIMS: CapabilityClaims = {
  schema: CAPABILITY_SCHEMA,
  id: 'cap-0001',
  issuer: ISSUER.vkey,
  subject: 'agent-1',
  scope: { grants: [{ methods: ['POST'], paths: ['/tools/*'] }, { hosts: ['api.example'], methods: ['GET'], paths: ['/tools/list', '*'] }] },
  issued_at: ISSUED,
  expires_at: EXPIRES,
};
const TOKEN = issueCapability(CLAIMS, ISSUER.signer);

const textOf = (token: string): string => new TextDecoder().decode(fromBase64Url(token));
const tokenOfText = (text: string): string => toBase64Url(new TextEncoder().encode(text));

/** Sign claims of any shape (the issuer is honest; the shape is what is under test). */
function issueRaw(claims: Record<string, unknown>, signer = ISSUER.signer): string {
  return issueCapability(claims as unknown as CapabilityClaims, signer);
}

/** The token's JSON object with `edit` applied, re-encoded without re-signing. */
function tampered(edit: (t: Record<string, any>) => void): string {
  const t = JSON.parse(textOf(TOKEN)) as Record<string, any>;
  edit(t);
  return toBase64Url(canonicalBytes(t));
}

describe('issueCapability', () => {
  describe('when given claims', () => {
    it('encodes base64url without padding of the JCS of the claims and their signature', () => {
      expect(TOKEN).toMatch(/^[A-Za-z0-9_-]+$/);
      const decoded = JSON.parse(textOf(TOKEN)) as Record<string, unknown>;
      expect(textOf(TOKEN)).toBe(new TextDecoder().decode(canonicalBytes(decoded)));
      expect(decoded.signature).toBe(toBase64(ISSUER.signer.sign(canonicalBytes(CLAIMS))));
      expect(Object.keys(decoded).sort()).toEqual(['expires_at', 'id', 'issued_at', 'issuer', 'schema', 'scope', 'signature', 'subject']);
    });
  });
});

describe('IssuerTrust', () => {
  describe('when built from verifier keys', () => {
    it('knows exactly those keys and the maxTtl', () => {
      const trust = new IssuerTrust([ISSUER.vkey, OTHER.vkey], 600);
      expect(trust.keyFor(ISSUER.vkey)).toBeDefined();
      expect(trust.keyFor(OTHER.vkey)).toBeDefined();
      expect(trust.keyFor(newEd25519SignerKey('third', seedOf(3)).verifierKey)).toBeUndefined();
      expect(trust.maxTtlSeconds).toBe(600);
      expect(new IssuerTrust([]).maxTtlSeconds).toBeUndefined();
    });
  });

  describe('when a key is malformed', () => {
    it('throws KEY_INVALID', () => {
      expectCode(() => new IssuerTrust(['not a key']), 'KEY_INVALID');
      expectCode(() => new IssuerTrust([ISSUER.vkey.replace(/\+[0-9a-f]{8}\+/, '+00000000+')]), 'KEY_INVALID');
    });
  });

  describe('when a key is one no one holds the secret of (a small-order point)', () => {
    it('throws KEY_INVALID: node:crypto would take a token "signed" under it with R small order and S = 0', () => {
      for (const publicKey of KEYS_NO_ONE_HOLDS) expectCode(() => new IssuerTrust([newEd25519VerifierKey('weak-issuer', publicKey)]), 'KEY_INVALID');
    });
  });
});

describe('verifyCapability', () => {
  describe('when the token is valid', () => {
    it('returns the signed claims, without the signature', () => {
      expect(verifyCapability(TOKEN, TRUST, NOW)).toEqual(CLAIMS);
    });

    it('accepts it from any of several trusted issuers', () => {
      const token = issueRaw({ ...CLAIMS, issuer: OTHER.vkey }, OTHER.signer);
      expect(verifyCapability(token, new IssuerTrust([ISSUER.vkey, OTHER.vkey]), NOW).issuer).toBe(OTHER.vkey);
    });
  });

  describe('when any single byte of the decoded token is flipped', () => {
    it('rejects every one of them with a ChioError', () => {
      const bytes = fromBase64Url(TOKEN);
      const accepted: number[] = [];
      const notChio: number[] = [];
      const codes = new Set<ChioErrorCode>();
      for (let i = 0; i < bytes.length; i++) {
        const flipped = bytes.slice();
        flipped[i] = flipped[i]! ^ 0x01;
        try {
          verifyCapability(toBase64Url(flipped), TRUST, NOW);
          accepted.push(i);
        } catch (err) {
          if (isChioError(err)) codes.add(err.code);
          else notChio.push(i);
        }
      }
      expect(accepted).toEqual([]);
      expect(notChio).toEqual([]);
      expect([...codes].sort()).toEqual(['CAPABILITY_MALFORMED', 'CAPABILITY_NOT_YET_VALID', 'CAPABILITY_SIGNATURE_INVALID', 'CAPABILITY_UNTRUSTED_ISSUER']);
    });
  });

  describe('when the issuer is not trusted', () => {
    it('throws CAPABILITY_UNTRUSTED_ISSUER for a token signed by its own, untrusted, issuer', () => {
      expectCode(() => verifyCapability(issueRaw({ ...CLAIMS, issuer: OTHER.vkey }, OTHER.signer), TRUST, NOW), 'CAPABILITY_UNTRUSTED_ISSUER');
    });

    it('throws CAPABILITY_UNTRUSTED_ISSUER when nobody is trusted', () => {
      expectCode(() => verifyCapability(TOKEN, new IssuerTrust([]), NOW), 'CAPABILITY_UNTRUSTED_ISSUER');
    });
  });

  describe('when the signature does not hold', () => {
    it('throws CAPABILITY_SIGNATURE_INVALID for a signature by another key under a trusted issuer name', () => {
      expectCode(() => verifyCapability(issueCapability(CLAIMS, OTHER.signer), TRUST, NOW), 'CAPABILITY_SIGNATURE_INVALID');
    });

    it('throws CAPABILITY_SIGNATURE_INVALID for claims changed after signing', () => {
      expectCode(() => verifyCapability(tampered((t) => (t.subject = 'agent-2')), TRUST, NOW), 'CAPABILITY_SIGNATURE_INVALID');
      expectCode(() => verifyCapability(tampered((t) => (t.scope.grants[0].paths = ['*'])), TRUST, NOW), 'CAPABILITY_SIGNATURE_INVALID');
      expectCode(() => verifyCapability(tampered((t) => delete t.scope.grants[1].hosts), TRUST, NOW), 'CAPABILITY_SIGNATURE_INVALID');
      expectCode(() => verifyCapability(tampered((t) => (t.expires_at += 1)), TRUST, NOW), 'CAPABILITY_SIGNATURE_INVALID');
    });

    it('throws CAPABILITY_SIGNATURE_INVALID for a signature of the wrong length', () => {
      expectCode(() => verifyCapability(tampered((t) => (t.signature = toBase64(new Uint8Array(63)))), TRUST, NOW), 'CAPABILITY_SIGNATURE_INVALID');
      expectCode(() => verifyCapability(tampered((t) => (t.signature = toBase64(new Uint8Array(65)))), TRUST, NOW), 'CAPABILITY_SIGNATURE_INVALID');
    });

    it('throws CAPABILITY_MALFORMED for a signature that is not base64', () => {
      expectCode(() => verifyCapability(tampered((t) => (t.signature = 'not-base64!')), TRUST, NOW), 'CAPABILITY_MALFORMED');
    });
  });

  describe('when the clock is near issued_at (not yet valid while now + skew < issued_at)', () => {
    it('accepts now = issued_at - skew and rejects one second earlier with CAPABILITY_NOT_YET_VALID', () => {
      expect(verifyCapability(TOKEN, TRUST, ISSUED - DEFAULT_CLOCK_SKEW_SECONDS).id).toBe('cap-0001');
      expectCode(() => verifyCapability(TOKEN, TRUST, ISSUED - DEFAULT_CLOCK_SKEW_SECONDS - 1), 'CAPABILITY_NOT_YET_VALID');
    });

    it('with no skew, is valid from issued_at exactly (SPEC §3: issued_at ≤ now)', () => {
      expect(verifyCapability(TOKEN, TRUST, ISSUED, 0).id).toBe('cap-0001');
      expectCode(() => verifyCapability(TOKEN, TRUST, ISSUED - 1, 0), 'CAPABILITY_NOT_YET_VALID');
    });
  });

  describe('when the clock is near expires_at (expired once now - skew ≥ expires_at)', () => {
    it('accepts now = expires_at + skew - 1 and rejects now = expires_at + skew with CAPABILITY_EXPIRED', () => {
      expect(verifyCapability(TOKEN, TRUST, EXPIRES - DEFAULT_CLOCK_SKEW_SECONDS - 1).id).toBe('cap-0001');
      expect(verifyCapability(TOKEN, TRUST, EXPIRES + DEFAULT_CLOCK_SKEW_SECONDS - 1).id).toBe('cap-0001');
      expectCode(() => verifyCapability(TOKEN, TRUST, EXPIRES + DEFAULT_CLOCK_SKEW_SECONDS), 'CAPABILITY_EXPIRED');
    });

    it('with no skew, is expired at expires_at exactly (SPEC §3: now < expires_at)', () => {
      expect(verifyCapability(TOKEN, TRUST, EXPIRES - 1, 0).id).toBe('cap-0001');
      expectCode(() => verifyCapability(TOKEN, TRUST, EXPIRES, 0), 'CAPABILITY_EXPIRED');
    });
  });

  describe('when the lifetime is out of bounds', () => {
    it('accepts a lifetime of exactly maxTtl and rejects one second more with CAPABILITY_TTL_EXCEEDED', () => {
      expect(verifyCapability(TOKEN, new IssuerTrust([ISSUER.vkey], 3600), NOW).id).toBe('cap-0001');
      expectCode(() => verifyCapability(TOKEN, new IssuerTrust([ISSUER.vkey], 3599), NOW), 'CAPABILITY_TTL_EXCEEDED');
    });

    it('throws CAPABILITY_MALFORMED when it expires at or before it is issued', () => {
      expectCode(() => verifyCapability(issueRaw({ ...CLAIMS, expires_at: ISSUED }), TRUST, ISSUED), 'CAPABILITY_MALFORMED');
      expectCode(() => verifyCapability(issueRaw({ ...CLAIMS, expires_at: ISSUED - 1 }), TRUST, ISSUED), 'CAPABILITY_MALFORMED');
    });
  });

  describe('when the claims do not have the token shape', () => {
    const cases: [string, Record<string, unknown>][] = [
      ['an unknown field', { ...CLAIMS, admin: true }],
      ['another schema', { ...CLAIMS, schema: 'chio.capability.v2' }],
      ['no id', { ...CLAIMS, id: undefined }],
      ['an empty id', { ...CLAIMS, id: '' }],
      ['an id over 1024 characters', { ...CLAIMS, id: 'i'.repeat(1025) }],
      ['a numeric subject', { ...CLAIMS, subject: 7 }],
      ['issued_at as a string', { ...CLAIMS, issued_at: String(ISSUED) }],
      ['a fractional expires_at', { ...CLAIMS, expires_at: EXPIRES + 0.5 }],
      ['no scope', { ...CLAIMS, scope: undefined }],
      ['grants not a list', { ...CLAIMS, scope: { grants: { methods: ['GET'], paths: ['/'] } } }],
      ['no grants', { ...CLAIMS, scope: { grants: [] } }],
      [`${MAX_GRANTS + 1} grants`, { ...CLAIMS, scope: { grants: Array.from({ length: MAX_GRANTS + 1 }, () => ({ methods: ['GET'], paths: ['/'] })) } }],
      ['a grant that is a string', { ...CLAIMS, scope: { grants: ['GET /'] } }],
      ['a grant without methods', { ...CLAIMS, scope: { grants: [{ paths: ['/'] }] } }],
      ['a grant without paths', { ...CLAIMS, scope: { grants: [{ methods: ['GET'] }] } }],
      ['a grant with no methods', { ...CLAIMS, scope: { grants: [{ methods: [], paths: ['/'] }] } }],
      ['a grant with an empty path', { ...CLAIMS, scope: { grants: [{ methods: ['GET'], paths: [''] }] } }],
      ['a grant with a numeric method', { ...CLAIMS, scope: { grants: [{ methods: [1], paths: ['/'] }] } }],
      ['a grant with an empty hosts list', { ...CLAIMS, scope: { grants: [{ hosts: [], methods: ['GET'], paths: ['/'] }] } }],
      ['a grant with 65 paths', { ...CLAIMS, scope: { grants: [{ methods: ['GET'], paths: Array.from({ length: 65 }, (_, i) => `/p${i}`) }] } }],
    ];
    it.each(cases)('throws CAPABILITY_MALFORMED for %s, even when signed', (_name, claims) => {
      const defined = Object.fromEntries(Object.entries(claims).filter(([, v]) => v !== undefined));
      expectCode(() => verifyCapability(issueRaw(defined), TRUST, NOW), 'CAPABILITY_MALFORMED');
    });

    it.each(['[]', '"token"', 'null', '42', '{}'])('throws CAPABILITY_MALFORMED for the JSON value %s', (text) => {
      expectCode(() => verifyCapability(tokenOfText(text), TRUST, NOW), 'CAPABILITY_MALFORMED');
    });
  });

  describe('when the JSON inside the token is not canonical', () => {
    const text = textOf(TOKEN);
    const cases: [string, string][] = [
      ['whitespace after a colon', text.replace('"id":', '"id": ')],
      ['pretty-printed', JSON.stringify(JSON.parse(text), null, 1)],
      ['members in reverse order', JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(text) as object).reverse()))],
      ['a duplicate member', text.replace('"id":"cap-0001"', '"id":"cap-9999","id":"cap-0001"')],
      ['a trailing newline', `${text}\n`],
      ['a non-canonical number', text.replace(`"issued_at":${ISSUED}`, `"issued_at":${ISSUED}.0`)],
    ];
    it.each(cases)('throws CAPABILITY_MALFORMED for %s', (_name, variant) => {
      expect(variant).not.toBe(text);
      expectCode(() => verifyCapability(tokenOfText(variant), TRUST, NOW), 'CAPABILITY_MALFORMED');
    });
  });

  describe('when the token is not base64url of a bounded size', () => {
    it('throws CAPABILITY_MALFORMED for an empty token and one of 9 KB', () => {
      expectCode(() => verifyCapability('', TRUST, NOW), 'CAPABILITY_MALFORMED');
      expectCode(() => verifyCapability('A'.repeat(9 * 1024), TRUST, NOW), 'CAPABILITY_MALFORMED');
      expectCode(() => verifyCapability('A'.repeat(MAX_TOKEN_CHARS + 1), TRUST, NOW), 'CAPABILITY_MALFORMED');
    });

    // A correctly signed token whose JSON is exactly `n` bytes long (padding in one path).
    function signedTokenOfBytes(n: number): string {
      const claimsWith = (path: string, fillers: number) => ({
        ...CLAIMS,
        scope: { grants: [{ methods: ['GET'], paths: [path, ...Array.from({ length: fillers }, () => `/${'f'.repeat(999)}`)] }] },
      });
      const base = fromBase64Url(issueRaw(claimsWith('/', 0))).length;
      const fillers = Math.floor((n - base) / 1003); // each filler path adds 1000 characters and `,""`
      const token = issueRaw(claimsWith(`/${'a'.repeat(n - base - fillers * 1003)}`, fillers));
      expect(fromBase64Url(token).length).toBe(n);
      return token;
    }

    it('accepts a signed token of exactly MAX_TOKEN_CHARS characters and rejects a longer one', () => {
      const longest = signedTokenOfBytes((MAX_TOKEN_CHARS * 3) / 4);
      expect(longest.length).toBe(MAX_TOKEN_CHARS);
      expect(verifyCapability(longest, TRUST, NOW).id).toBe('cap-0001');
      const over = signedTokenOfBytes((MAX_TOKEN_CHARS * 3) / 4 + 1);
      expect(over.length).toBeGreaterThan(MAX_TOKEN_CHARS);
      expectCode(() => verifyCapability(over, TRUST, NOW), 'CAPABILITY_MALFORMED');
    });

    it.each([
      ['a "+" (base64, not base64url)', (t: string) => `+${t.slice(1)}`],
      ['a "/"', (t: string) => `${t.slice(0, 10)}/${t.slice(11)}`],
      ['"=" padding', (t: string) => `${t}${'='.repeat((4 - (t.length % 4)) % 4 || 4)}`],
      ['a space', (t: string) => `${t.slice(0, 10)} ${t.slice(11)}`],
      ['a dot (a JWS separator)', (t: string) => `${t.slice(0, 10)}.${t.slice(11)}`],
      ['a non-ASCII letter', (t: string) => `${t.slice(0, 10)}é${t.slice(11)}`],
      ['an impossible length', (t: string) => `${t}${'A'.repeat(t.length % 4 === 0 ? 1 : 5 - (t.length % 4))}`],
    ])('throws CAPABILITY_MALFORMED for %s', (_name, mangle) => {
      const token = mangle(TOKEN);
      expect(token).not.toBe(TOKEN);
      expectCode(() => verifyCapability(token, TRUST, NOW), 'CAPABILITY_MALFORMED');
    });
  });

  // A signed token's bytes are not malleable: a member added anywhere is refused (this once
  // slipped through inside scope and grants, which were rebuilt before the signature check).
  describe('when someone adds a member inside scope or a grant of a signed token', () => {
    it('throws CAPABILITY_MALFORMED for an unknown member in a grant', () => {
      expect(thrownCode(() => verifyCapability(tampered((t) => (t.scope.grants[0].note = 'added')), TRUST, NOW))).toBe('CAPABILITY_MALFORMED');
    });

    it('throws CAPABILITY_MALFORMED for an unknown member in scope', () => {
      expect(thrownCode(() => verifyCapability(tampered((t) => (t.scope.note = 'added')), TRUST, NOW))).toBe('CAPABILITY_MALFORMED');
    });
  });
});
