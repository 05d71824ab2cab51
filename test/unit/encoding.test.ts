import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromBase64, fromBase64Url, fromHex, toBase64, toBase64Url, toHex, utf8 } from '../../src/encoding.js';
import { ChioError } from '../../src/errors/index.js';

// RFC 4648 §10 test vectors.
const RFC4648: Array<[string, string]> = [
  ['', ''], ['f', 'Zg=='], ['fo', 'Zm8='], ['foo', 'Zm9v'], ['foob', 'Zm9vYg=='], ['fooba', 'Zm9vYmE='], ['foobar', 'Zm9vYmFy'],
];

describe('toBase64 / fromBase64', () => {
  it.each(RFC4648)('encodes %j as %j (RFC 4648 §10)', (plain, encoded) => {
    expect(toBase64(utf8(plain))).toBe(encoded);
    expect(new TextDecoder().decode(fromBase64(encoded))).toBe(plain);
  });

  it('agrees with Buffer on every length 0..64 of random bytes', () => {
    for (let n = 0; n <= 64; n++) {
      const bytes = new Uint8Array(Array.from({ length: n }, (_, i) => (i * 73 + n * 31) & 0xff));
      expect(toBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
      expect(toBase64Url(bytes)).toBe(Buffer.from(bytes).toString('base64url'));
      expect(fromBase64Url(toBase64Url(bytes))).toEqual(bytes);
    }
  });

  describe('when the input is not canonical', () => {
    it.each(['Zg', 'Zg=', 'Zh==', 'Z===', 'Zm9v!', 'Zm 9v', 'Zm9v\n'])('rejects %j with MALFORMED', (text) => {
      expect(() => fromBase64(text)).toThrow(ChioError);
      try {
        fromBase64(text);
      } catch (err) {
        expect((err as ChioError).code).toBe('MALFORMED');
      }
    });

    it('rejects padding and + / in base64url', () => {
      expect(() => fromBase64Url('Zg==')).toThrow(ChioError);
      expect(() => fromBase64Url('a+b/')).toThrow(ChioError);
    });
  });
});

describe('toHex / fromHex', () => {
  it('round-trips and rejects odd or non-hex input', () => {
    expect(toHex(fromHex('00ff10Ab'))).toBe('00ff10ab');
    expect(() => fromHex('abc')).toThrow(ChioError);
    expect(() => fromHex('zz')).toThrow(ChioError);
  });

  it('agree with Buffer for any bytes, and fromHex takes exactly the strings of hex digit pairs (property)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      expect(toHex(bytes)).toBe(Buffer.from(bytes).toString('hex'));
      expect(fromHex(toHex(bytes))).toEqual(bytes);
      expect(fromHex(toHex(bytes).toUpperCase())).toEqual(bytes);
    }));
    // Any UTF-16 code unit, so digits' look-alikes beyond ASCII (whose low byte is a digit's) are tried.
    const unit = fc.oneof(fc.constantFrom(...'0123456789abcdefABCDEFgG/:@`'), fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)));
    fc.assert(fc.property(fc.array(unit, { maxLength: 8 }), (units) => {
      const text = units.join('');
      const valid = text.length % 2 === 0 && /^[0-9a-fA-F]*$/.test(text);
      if (valid) expect(fromHex(text)).toEqual(new Uint8Array(Buffer.from(text, 'hex')));
      else expect(() => fromHex(text)).toThrow(ChioError);
    }), { numRuns: 2000 });
    for (const c of [0x130, 0x160, 0x161, 0xff10, 0x3000 + 0x61]) expect(() => fromHex(`a${String.fromCharCode(c)}`)).toThrow(ChioError);
  });
});
