/**
 * Known answers from golang/mod sumdb/note/note_test.go (the PeterNeumann key pair, its signed
 * message, and EnochRoot's key and signature), with Go's rejection cases.
 */
import * as ed from '@noble/ed25519';
import { describe, expect, it } from 'vitest';
import { isChioError } from '../../../src/errors/index.js';
import {
  type NoteSigner,
  MAX_NOTE_SIZE,
  ed25519KeyId,
  generateSignerKey,
  isValidKeyName,
  newEd25519SignerKey,
  newEd25519VerifierKey,
  openNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
  toNoteSigner,
} from '../../../src/tlog/index.js';
import { expectCode, thrownCode } from './helpers.js';

const PETER_SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const PETER_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const ENOCH_VKEY = 'EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop';
const TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_B64 = 'x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=';
const ENOCH_B64 = 'rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=';
const PETER_SIG = `\u2014 PeterNeumann ${PETER_B64}\n`;
const ENOCH_SIG = `\u2014 EnochRoot ${ENOCH_B64}\n`;
const PETER = { name: 'PeterNeumann', keyId: 0xc74f20a3, base64: PETER_B64 };
const ENOCH = { name: 'EnochRoot', keyId: 0xaf0cfe78, base64: ENOCH_B64 };

const peter = () => parseVerifierKey(PETER_VKEY);
const enoch = () => parseVerifierKey(ENOCH_VKEY);
/** Go inserts "ABCD" at byte 60; "—" is 3 UTF-8 bytes but one UTF-16 unit, so 58 here. */
const insertABCD = (line: string) => `${line.slice(0, 58)}ABCD${line.slice(58)}`;

describe('parseVerifierKey', () => {
  describe('when given the PeterNeumann verifier key', () => {
    it('returns its name, key ID and public key', () => {
      const v = peter();
      expect(v).toMatchObject({ name: 'PeterNeumann', keyId: 0xc74f20a3 });
      expect(newEd25519VerifierKey(v.name, v.publicKey)).toBe(PETER_VKEY);
    });
  });

  describe('when the key is mangled (Go TestNewVerifier)', () => {
    it('rejects every proper substring and every single-byte change with KEY_INVALID', () => {
      for (let i = 0; i <= PETER_VKEY.length; i++) {
        for (let j = i + 1; j <= PETER_VKEY.length; j++) {
          if (i !== 0 || j !== PETER_VKEY.length) expectCode(() => parseVerifierKey(PETER_VKEY.slice(i, j)), 'KEY_INVALID');
        }
      }
      for (let i = 0; i < PETER_VKEY.length; i++) {
        const changed = PETER_VKEY.slice(0, i) + String.fromCharCode(PETER_VKEY.charCodeAt(i) + 1) + PETER_VKEY.slice(i + 1);
        expectCode(() => parseVerifierKey(changed), 'KEY_INVALID');
      }
    });

    it('rejects a wrong-length key and an unknown algorithm, even with adjusted key IDs', () => {
      expectCode(() => parseVerifierKey('PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=='), 'KEY_INVALID');
      expectCode(() => parseVerifierKey('PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'), 'KEY_INVALID');
      expectCode(() => parseVerifierKey(42 as unknown as string), 'KEY_INVALID');
      expectCode(() => parseVerifierKey(`${'a'.repeat(2000)}+c74f20a3+AA==`), 'KEY_INVALID');
    });

    it('rejects its key ID in upper case (Go takes it): keys are compared as text, so one key has one spelling', () => {
      expectCode(() => parseVerifierKey(PETER_VKEY.replace('+c74f20a3+', '+C74F20A3+')), 'KEY_INVALID');
    });
  });
});

describe('parseSignerKey', () => {
  describe('when given the PeterNeumann signer key', () => {
    it('derives the matching verifier key', () => {
      const s = parseSignerKey(PETER_SKEY);
      expect(s).toMatchObject({ name: 'PeterNeumann', keyId: 0xc74f20a3, verifierKey: PETER_VKEY });
      expect(newEd25519SignerKey(s.name, s.seed)).toEqual({ signerKey: PETER_SKEY, verifierKey: PETER_VKEY });
    });
  });

  describe('when the key is mangled (Go TestNewSigner)', () => {
    it('rejects every proper substring and every single-byte change with KEY_INVALID', () => {
      for (let i = 0; i <= PETER_SKEY.length; i++) {
        for (let j = i + 1; j <= PETER_SKEY.length; j++) {
          if (i !== 0 || j !== PETER_SKEY.length) expectCode(() => parseSignerKey(PETER_SKEY.slice(i, j)), 'KEY_INVALID');
        }
      }
      for (let i = 0; i < PETER_SKEY.length; i++) {
        const changed = PETER_SKEY.slice(0, i) + String.fromCharCode(PETER_SKEY.charCodeAt(i) + 1) + PETER_SKEY.slice(i + 1);
        expectCode(() => parseSignerKey(changed), 'KEY_INVALID');
      }
    });
  });
});

describe('generateSignerKey', () => {
  describe('when generating a key pair', () => {
    it('gives a signer and verifier that agree (Go TestGenerateKey)', () => {
      const { signerKey, verifierKey } = generateSignerKey('EnochRoot');
      const s = parseSignerKey(signerKey);
      const v = parseVerifierKey(verifierKey);
      expect([s.name, s.keyId]).toEqual([v.name, v.keyId]);
      const msg = new TextEncoder().encode('hi');
      const sig = s.sign(msg);
      expect(v.verify(msg, sig)).toBe(true);
      sig[0]! ^= 1;
      expect(v.verify(msg, sig)).toBe(false);
      sig[0]! ^= 1;
      msg[0]! ^= 1;
      expect(v.verify(msg, sig)).toBe(false);
    });

    it('uses the given randomness', () => {
      const seed = new Uint8Array(32).fill(9);
      expect(generateSignerKey('x', () => seed)).toEqual(newEd25519SignerKey('x', seed));
    });
  });

  describe('when the name or key material is invalid', () => {
    it('throws KEY_INVALID', () => {
      expectCode(() => generateSignerKey('bad name'), 'KEY_INVALID');
      expectCode(() => newEd25519SignerKey('ok', new Uint8Array(31)), 'KEY_INVALID');
      expectCode(() => newEd25519VerifierKey('ok', new Uint8Array(31)), 'KEY_INVALID');
      expectCode(() => newEd25519VerifierKey('a+b', new Uint8Array(32)), 'KEY_INVALID');
    });
  });
});

describe('isValidKeyName', () => {
  describe('when given names', () => {
    it('accepts non-empty names without Unicode white space or "+"', () => {
      for (const good of ['PeterNeumann', 'chio.local/receipts', 'ünïcødé', 'a\u200bb', 'x\ufeff']) expect(isValidKeyName(good)).toBe(true);
      for (const bad of ['', 'a b', 'a+b', 'a\tb', 'a\u00a0b', 'a\u0085b', 'a\u2028b', 'a\u3000b', 'a\ud800b', 7]) expect(isValidKeyName(bad)).toBe(false);
    });
  });
});

describe('toNoteSigner', () => {
  describe('when wrapping another Ed25519 signer', () => {
    it('signs exactly like the parsed signer key', () => {
      const parsed = parseSignerKey(PETER_SKEY);
      const wrapped = toNoteSigner('PeterNeumann', { publicKey: parsed.publicKey, sign: (m) => ed.sign(m, parsed.seed) });
      expect(wrapped.keyId).toBe(0xc74f20a3);
      expect(ed25519KeyId('PeterNeumann', parsed.publicKey)).toBe(0xc74f20a3);
      expect(signNote(TEXT, [wrapped])).toBe(signNote(TEXT, [parsed]));
    });
  });
});

describe('signNote', () => {
  describe('when signing the Go example text (Go TestSign)', () => {
    it('produces the published note byte for byte', () => {
      expect(signNote(TEXT, [parseSignerKey(PETER_SKEY)])).toBe(`${TEXT}\n${PETER_SIG}`);
    });

    it('replaces an existing signature by the same key and keeps others first', () => {
      const signer = parseSignerKey(PETER_SKEY);
      expect(signNote(TEXT, [signer], [{ ...PETER, base64: 'BADSIGN=' }])).toBe(`${TEXT}\n${PETER_SIG}`);
      expect(signNote(TEXT, [signer], [ENOCH])).toBe(`${TEXT}\n${ENOCH_SIG}${PETER_SIG}`);
    });
  });

  describe('when the text or signatures are malformed', () => {
    it('throws MALFORMED or KEY_INVALID', () => {
      const signer = parseSignerKey(PETER_SKEY);
      expectCode(() => signNote('abc', [signer]), 'MALFORMED');
      expectCode(() => signNote('a\x01b\n', [signer]), 'MALFORMED');
      expectCode(() => signNote(TEXT, [], [{ name: 'a+b', keyId: 0, base64: 'ABCD' }]), 'MALFORMED');
      expectCode(() => signNote(TEXT, [], [{ ...PETER, base64: 'BADHASH=' }]), 'MALFORMED');
      expectCode(() => signNote(TEXT, []), 'MALFORMED');
      const badName: NoteSigner = { ...signer, name: 'bad name', sign: signer.sign };
      expectCode(() => signNote(TEXT, [badName]), 'KEY_INVALID');
    });
  });
});

describe('openNote', () => {
  describe('when one signature is by a trusted key and one is not (Go TestOpen)', () => {
    it('verifies the first and records the second as unverified', () => {
      const n = openNote(`${TEXT}\n${PETER_SIG}${ENOCH_SIG}`, [peter()]);
      expect(n).toEqual({ text: TEXT, sigs: [PETER], unverifiedSigs: [ENOCH] });
    });
  });

  describe('when both keys are trusted', () => {
    it('verifies both, from a string or from bytes', () => {
      const msg = `${TEXT}\n${PETER_SIG}${ENOCH_SIG}`;
      const want = { text: TEXT, sigs: [PETER, ENOCH], unverifiedSigs: [] };
      expect(openNote(msg, [peter(), enoch()])).toEqual(want);
      expect(openNote(new TextEncoder().encode(msg), [peter(), enoch()])).toEqual(want);
    });
  });

  describe('when no signature is by a trusted key', () => {
    it('throws UNTRUSTED_KEY with the unverified note as cause', () => {
      try {
        openNote(`${TEXT}\n${PETER_SIG}${ENOCH_SIG}`, []);
        expect.unreachable();
      } catch (err) {
        expect(isChioError(err, 'UNTRUSTED_KEY')).toBe(true);
        expect((err as Error).cause).toEqual({ text: TEXT, sigs: [], unverifiedSigs: [PETER, ENOCH] });
      }
      // Same name, other key ID: an unknown key, not a bad signature.
      expectCode(() => openNote(`${TEXT}\n${PETER_SIG.replace('x08g', 'xxxx')}`, [peter()]), 'UNTRUSTED_KEY');
    });
  });

  describe('when two trusted keys share a name and key ID', () => {
    it('throws CONFIG_INVALID only if that key signed', () => {
      expectCode(() => openNote(`${TEXT}\n${ENOCH_SIG}`, [enoch(), peter(), enoch()]), 'CONFIG_INVALID');
      expect(openNote(`${TEXT}\n${PETER_SIG}`, [enoch(), peter(), enoch()]).sigs).toEqual([PETER]);
    });
  });

  describe('when a trusted key signature does not verify', () => {
    it('throws SIGNATURE_INVALID, also for a signature of the wrong length', () => {
      expectCode(() => openNote(`${TEXT}\n\u2014 PeterNeumann x08go/Y=\n`, [peter()]), 'SIGNATURE_INVALID');
      expectCode(() => openNote(`${TEXT}\n${insertABCD(PETER_SIG)}`, [peter()]), 'SIGNATURE_INVALID');
      expectCode(() => openNote(`${TEXT.replace('answer', 'Answer')}\n${PETER_SIG}`, [peter()]), 'SIGNATURE_INVALID');
    });
  });

  describe('when signatures repeat', () => {
    it('counts each trusted key once and each identical unknown line once', () => {
      const enochABCD = { ...ENOCH, base64: 'rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5nABCD2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=' };
      const msg = `${TEXT}\n${PETER_SIG}${PETER_SIG}${ENOCH_SIG}${ENOCH_SIG}${insertABCD(ENOCH_SIG)}`;
      expect(openNote(msg, [peter()])).toEqual({ text: TEXT, sigs: [PETER], unverifiedSigs: [ENOCH, enochABCD] });
    });

    it("rejects a trusted key's failed signature after its good one (C2SP: reject the whole note; Go skips it)", () => {
      expectCode(() => openNote(`${TEXT}\n${PETER_SIG}${insertABCD(PETER_SIG)}`, [peter()]), 'SIGNATURE_INVALID');
      expectCode(() => openNote(`${TEXT}\n${PETER_SIG}${ENOCH_SIG}${insertABCD(ENOCH_SIG)}`, [peter(), enoch()]), 'SIGNATURE_INVALID');
    });
  });

  describe('when there are too many signatures', () => {
    it('throws MALFORMED past 100 lines, trusted or not', () => {
      expectCode(() => openNote(`${TEXT}\n${PETER_SIG.repeat(101)}`, [peter()]), 'MALFORMED');
      expectCode(() => openNote(`${TEXT}\n${PETER_SIG.repeat(101)}`, []), 'MALFORMED');
      expect(openNote(`${TEXT}\n${PETER_SIG.repeat(100)}`, [peter()]).sigs).toEqual([PETER]);
    });
  });

  describe('when the note is malformed', () => {
    it.each([
      ['no signature block', TEXT],
      ['an empty signature block', `${TEXT}\n`],
      ['no final newline', `${TEXT}\n${PETER_SIG.slice(0, -1)}`],
      ['a control character', `\x01${TEXT}\n${PETER_SIG}`],
      ['a carriage return', `${TEXT.replace('\n', '\r\n')}\n${PETER_SIG}`],
      ['a name with a space', `${TEXT}\n\u2014 Bad Name ${PETER_B64}`],
      ['a name with a space and newline', `${TEXT}\n\u2014 Bad Name ${PETER_B64}\n`],
      ['an unexpected line', `${TEXT}\n${PETER_SIG}Unexpected line.\n`],
      ['no signature', `${TEXT}\n\u2014 PeterNeumann\n`],
      ['a key ID without signature', `${TEXT}\n\u2014 PeterNeumann x08gow==\n`],
      ['a hyphen for the dash', `${TEXT}\n${PETER_SIG.replace('\u2014', '-')}`],
      ['bad base64', `${TEXT}\n${PETER_SIG.replace('x08g', 'x08!')}`],
      ['a lone surrogate', `\ud800${TEXT}\n${PETER_SIG}`],
    ])('throws MALFORMED for %s', (_, msg) => {
      expectCode(() => openNote(msg, [peter()]), 'MALFORMED');
    });

    it('throws MALFORMED for invalid UTF-8 bytes and oversized notes', () => {
      const bytes = new TextEncoder().encode(`x${TEXT}\n${PETER_SIG}`);
      bytes[0] = 0xff;
      expectCode(() => openNote(bytes, [peter()]), 'MALFORMED');
      const huge = `${'a'.repeat(MAX_NOTE_SIZE)}\n\n${PETER_SIG}`;
      expectCode(() => openNote(huge, [peter()]), 'MALFORMED');
      expectCode(() => openNote(new TextEncoder().encode(huge), [peter()]), 'MALFORMED');
    });
  });

  describe('when the text starts with a byte order mark', () => {
    it('keeps it as part of the signed text', () => {
      const signer = parseSignerKey(PETER_SKEY);
      const text = `\ufeff${TEXT}`;
      const bytes = new TextEncoder().encode(signNote(text, [signer]));
      expect(openNote(bytes, [peter()]).text).toBe(text);
    });
  });

  describe('when any byte of a signed note is changed', () => {
    it('rejects the note with a ChioError', () => {
      const bytes = new TextEncoder().encode(`${TEXT}\n${PETER_SIG}`);
      for (let i = 0; i < bytes.length; i++) {
        const changed = bytes.slice();
        changed[i]! ^= 0x01;
        expect(['MALFORMED', 'SIGNATURE_INVALID', 'UNTRUSTED_KEY']).toContain(thrownCode(() => openNote(changed, [peter()])));
      }
    });
  });
});
