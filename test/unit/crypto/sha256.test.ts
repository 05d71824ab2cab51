import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sha256Hex, sha256HexOfText } from '../../../src/crypto/sha256.js';
import { utf8 } from '../../../src/encoding.js';

describe('sha256HexOfText', () => {
  // Credential hashes and revocation keys are compared with ones made from the text's bytes
  // (receipts, the revocation bucket): the text must be hashed as exactly those bytes.
  it('hashes the bytes TextEncoder makes of any text, lone surrogates as U+FFFD', () => {
    const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 40 }), fc.constantFrom('', '\ud800', 'a\udc00b', '\ud83d\ude00', '\ufffd', 'é'));
    fc.assert(fc.property(text, (t) => {
      expect(sha256HexOfText(t)).toBe(sha256Hex(utf8(t)));
    }), { numRuns: 2000, seed: 20_261_202 });
  });
});
