import { describe, expect, it } from 'vitest';
import { createNodeSignatureCheck, createNodeSigner } from '../../../src/crypto/ed25519.js';
import { nobleSignatureCheck } from '../../../src/receipt/verify.js';

describe('createNodeSignatureCheck', () => {
  const check = createNodeSignatureCheck();

  it('agrees with the portable @noble check on valid and on every one-bit-flipped signature', () => {
    for (let k = 0; k < 8; k++) {
      const signer = createNodeSigner(new Uint8Array(32).fill(k + 1));
      const message = new TextEncoder().encode(`receipt body ${k}`);
      const signature = signer.sign(message);
      expect(check(signature, message, signer.publicKey)).toBe(true);
      expect(nobleSignatureCheck(signature, message, signer.publicKey)).toBe(true);
      for (let bit = 0; bit < 512; bit += 7) {
        const bad = signature.slice();
        bad[bit >> 3]! ^= 1 << (bit & 7);
        expect(check(bad, message, signer.publicKey)).toBe(nobleSignatureCheck(bad, message, signer.publicKey));
        expect(check(bad, message, signer.publicKey)).toBe(false);
      }
    }
  });

  it('refuses a signature under another key', () => {
    const a = createNodeSigner(new Uint8Array(32).fill(1));
    const b = createNodeSigner(new Uint8Array(32).fill(2));
    const message = new TextEncoder().encode('m');
    expect(check(a.sign(message), message, b.publicKey)).toBe(false);
  });
});
