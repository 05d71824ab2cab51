import { describe, expect, it } from 'vitest';
import { createNodeSignatureCheck, createNodeSigner } from '../../../src/crypto/ed25519.js';
import { nobleSignatureCheck } from '../../../src/receipt/verify.js';
import { KEYS_NO_ONE_HOLDS, SMALL_ORDER_POINTS } from '../../support/small-order-keys.js';

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

  it('refuses, as the portable check does, every signature under a small-order public key (node:crypto alone accepts forgeries)', () => {
    // The eight points of order dividing 8, and two other encodings of the identity. Under such a key a signature (R = a small-order
    // point, S = 0) passes OpenSSL's cofactorless check for most messages, with no secret at
    // all: under the identity (01 00 … 00) for every message. RFC 8032 strict (@noble with
    // zip215: false) refuses them all; the report of POST /v1/verify said "holds".
    let tried = 0;
    for (const key of KEYS_NO_ONE_HOLDS) {
      for (let m = 0; m < 8; m++) {
        const message = new TextEncoder().encode(`forged ${m}`);
        for (const r of SMALL_ORDER_POINTS) {
          const signature = new Uint8Array(64);
          signature.set(r);
          expect(nobleSignatureCheck(signature, message, key)).toBe(false);
          expect(check(signature, message, key)).toBe(false);
          tried++;
        }
      }
    }
    expect(tried).toBe(KEYS_NO_ONE_HOLDS.length * 8 * 8);
  });

  it('refuses a signature under another key', () => {
    const a = createNodeSigner(new Uint8Array(32).fill(1));
    const b = createNodeSigner(new Uint8Array(32).fill(2));
    const message = new TextEncoder().encode('m');
    expect(check(a.sign(message), message, b.publicKey)).toBe(false);
  });
});
