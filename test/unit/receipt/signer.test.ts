import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromBase64, toBase64, toBase64Url, toHex } from '../../../src/encoding.js';
import { canonicalBytes } from '../../../src/receipt/jcs.js';
import { prepareBody, sealReceipts, signReceipt, signReceiptToBytes } from '../../../src/receipt/sign.js';
import { GENESIS_PREV, receiptBodyBytes, receiptBytes, toReceiptBody } from '../../../src/receipt/receipt.js';
import { createNodeSignatureCheck, createNodeSigner } from '../../../src/crypto/ed25519.js';
import { sha256Hex } from '../../../src/crypto/sha256.js';
import { nobleSignatureCheck, verifyReceiptBytes } from '../../../src/receipt/verify.js';
import { bodyOf, draftOf, expectCode, hex, kernelOf, signReceipt as signDraft, utf8 } from './helpers.js';

ed.hashes.sha512 = sha512;

/** RFC 8032 §7.1, Ed25519 TEST 1 (empty message) and TEST 2 (one octet). */
const RFC8032 = [
  {
    name: 'TEST 1',
    secretKey: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    name: 'TEST 2',
    secretKey: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    publicKey: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
];

/** Chio's own Ed25519 checks: the portable one (receipts, proofs) and the ledger's node:crypto one. */
const CHIO_CHECKS = [
  ['nobleSignatureCheck (receipt/verify.ts)', nobleSignatureCheck],
  ['createNodeSignatureCheck (crypto/ed25519.ts)', createNodeSignatureCheck()],
] as const;

/** node:crypto's verify over a raw 32-byte public key. */
function nodeVerifyRaw(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: toBase64Url(publicKey) }, format: 'jwk' });
  return nodeVerify(null, message, key, signature);
}

describe('createNodeSigner', () => {
  describe.each(RFC8032)('when given the RFC 8032 §7.1 $name secret key', (v) => {
    const signer = createNodeSigner(hex(v.secretKey));

    it('derives the RFC public key', () => {
      expect(toHex(signer.publicKey)).toBe(v.publicKey);
    });

    it('signs the RFC message to the RFC signature', () => {
      expect(toHex(signer.sign(hex(v.message)))).toBe(v.signature);
    });

    it.each(CHIO_CHECKS)('has its signature accepted by %s and rejected after any bit flip', (_name, check) => {
      const message = hex(v.message);
      const sig = signer.sign(message);
      expect(check(sig, message, signer.publicKey)).toBe(true);
      for (let bit = 0; bit < 512; bit++) {
        const flipped = sig.slice();
        flipped[bit >> 3] = flipped[bit >> 3]! ^ (1 << (bit & 7));
        expect(check(flipped, message, signer.publicKey)).toBe(false);
      }
    });
  });

  describe('when node:crypto and @noble/ed25519 sign the same messages', () => {
    it('produce identical signatures that each verify with the other', () => {
      for (let k = 0; k < 16; k++) {
        const seed = Uint8Array.from({ length: 32 }, (_, i) => (i * 31 + k * 17 + 3) & 0xff);
        const signer = createNodeSigner(seed);
        expect(signer.publicKey).toEqual(ed.getPublicKey(seed));
        for (const length of [0, 1, 31, 32, 33, 64, 127, 1000]) {
          const message = Uint8Array.from({ length }, (_, i) => (i * 7 + k) & 0xff);
          const bySigner = signer.sign(message);
          const byNoble = ed.sign(message, seed);
          // Ed25519 is deterministic (RFC 8032 §5.1.6): one key and message, one signature.
          expect(toHex(bySigner)).toBe(toHex(byNoble));
          expect(ed.verify(bySigner, message, signer.publicKey, { zip215: false })).toBe(true);
          expect(nodeVerifyRaw(byNoble, message, signer.publicKey)).toBe(true);
        }
      }
    });
  });

  describe('when the seed is not 32 bytes', () => {
    it('throws KEY_INVALID', () => {
      expectCode(() => createNodeSigner(new Uint8Array(31)), 'KEY_INVALID');
      expectCode(() => createNodeSigner(new Uint8Array(33)), 'KEY_INVALID');
      expectCode(() => createNodeSigner(new Uint8Array(64)), 'KEY_INVALID');
    });
  });
});

describe('sha256Hex', () => {
  describe('when given the FIPS 180-2 examples', () => {
    it('returns the known digests', () => {
      expect(sha256Hex(new Uint8Array())).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
      expect(sha256Hex(utf8('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    });
  });
});

describe('receipt signatures across implementations', () => {
  const KERNEL = kernelOf(9);
  const AT = { chain: 'chain-x', seq: 1, prev: GENESIS_PREV };

  describe('when a receipt is signed with node:crypto (createNodeSigner)', () => {
    it('verifies with @noble (verify.ts) and with node:crypto', () => {
      const r = signDraft(draftOf(3), AT, KERNEL);
      const body = receiptBodyBytes(toReceiptBody(r));
      expect(verifyReceiptBytes(receiptBytes(r), [KERNEL.verifierKey]).id).toBe(r.id);
      expect(nodeVerifyRaw(Buffer.from(r.signature, 'base64'), body, KERNEL.signer.publicKey)).toBe(true);
    });
  });

  describe('when a receipt is signed with @noble/ed25519 sign', () => {
    it('verifies with verify.ts and carries the same signature as node:crypto gives', () => {
      const nobleKernel = { ...KERNEL, signer: { publicKey: ed.getPublicKey(KERNEL.seed), sign: (m: Uint8Array) => ed.sign(m, KERNEL.seed) } };
      const byNoble = signDraft(draftOf(3), AT, nobleKernel);
      const byNode = signDraft(draftOf(3), AT, KERNEL);
      expect(verifyReceiptBytes(receiptBytes(byNoble), [KERNEL.verifierKey]).id).toBe(byNode.id);
      expect(byNoble.signature).toBe(byNode.signature);
      expect(byNoble.signature).toBe(toBase64(ed.sign(receiptBodyBytes(toReceiptBody(byNode)), KERNEL.seed)));
    });
  });
});

describe('signReceipt', () => {
  const KERNEL = kernelOf(11);
  const BODY = bodyOf(draftOf(5), { chain: 'chain-s', seq: 7, prev: 'ab'.repeat(32) }, KERNEL.verifierKey);

  describe('when given a body and a signer', () => {
    it('hands the signer exactly the JCS bytes of the body', () => {
      const seen: Uint8Array[] = [];
      signReceipt(BODY, { sign: (m) => (seen.push(m), KERNEL.signer.sign(m)) });
      expect(seen).toEqual([canonicalBytes(BODY)]);
    });

    it('names the receipt by the hex SHA-256 of those bytes and keeps the body as it is', () => {
      const receipt = signReceipt(BODY, KERNEL.signer);
      expect(receipt.id).toBe(sha256Hex(canonicalBytes(BODY)));
      expect(toReceiptBody(receipt)).toEqual(BODY);
    });

    it('gives a receipt that verify.ts accepts with the kernel key, and rejects after any flip of a signature bit', () => {
      const receipt = signReceipt(BODY, KERNEL.signer);
      expect(verifyReceiptBytes(receiptBytes(receipt), [KERNEL.verifierKey])).toEqual(receipt);
      const signature = fromBase64(receipt.signature);
      for (let bit = 0; bit < 512; bit += 37) {
        const flipped = signature.slice();
        flipped[bit >> 3] = flipped[bit >> 3]! ^ (1 << (bit & 7));
        expectCode(() => verifyReceiptBytes(receiptBytes({ ...receipt, signature: toBase64(flipped) }), [KERNEL.verifierKey]), 'SIGNATURE_INVALID');
      }
    });
  });

  describe('when the id hash is node:crypto instead of the portable default', () => {
    it('gives the same receipt', () => {
      expect(signReceipt(BODY, KERNEL.signer, sha256Hex)).toEqual(signReceipt(BODY, KERNEL.signer));
    });
  });
});

describe('signReceiptToBytes', () => {
  const KERNEL = kernelOf(12);
  // Any text a request can carry into a receipt: unicode, escapes, quotes, surrogate pairs.
  // ASCII text too, on its own: the body of most receipts, and graphemes alone rarely make one.
  const bodiesOf = (text: fc.Arbitrary<string>) => fc.record({ path: text, host: text, reason: text, subject: text, seq: fc.integer({ min: 1, max: 2 ** 40 }), corrects: fc.option(fc.constant('cd'.repeat(32)), { nil: undefined }) })
    .map(({ path, host, reason, subject, seq, corrects }) => {
      const draft = draftOf(seq, {
        request: { kind: 'http', method: 'POST', host, path },
        subject: { subject },
        decision: { verdict: 'deny', guard: 'Policy', reason, http_status: 403, shadow: false },
      });
      return { ...bodyOf(draft, { chain: 'chain-t', seq, prev: 'ab'.repeat(32) }, KERNEL.verifierKey), ...(corrects ? { corrects } : {}) };
    });
  const bodies = fc.oneof(bodiesOf(fc.string({ unit: 'grapheme', maxLength: 40 })), bodiesOf(fc.string({ unit: 'binary-ascii', maxLength: 40 })));

  it('gives the same receipt as signReceipt, and exactly its JCS bytes, for any body', () => {
    fc.assert(fc.property(bodies, (body) => {
      const { receipt, bytes } = signReceiptToBytes(body, KERNEL.signer, sha256Hex);
      expect(receipt).toEqual(signReceipt(body, KERNEL.signer, sha256Hex));
      expect(toHex(bytes)).toBe(toHex(receiptBytes(receipt)));
      expect(verifyReceiptBytes(bytes, [KERNEL.verifierKey])).toEqual(receipt);
    }), { numRuns: 300 });
  });

  it('seals a batch of such bodies, ASCII or not, to exactly each receipt\'s JCS bytes', () => {
    fc.assert(fc.property(fc.array(bodies, { minLength: 1, maxLength: 6 }), (batch) => {
      for (const { receipt, bytes } of sealReceipts(batch.map((body) => prepareBody(body, sha256Hex)), KERNEL.signer)) {
        expect(toHex(bytes)).toBe(toHex(receiptBytes(receipt)));
        expect(verifyReceiptBytes(bytes, [KERNEL.verifierKey])).toEqual(receipt);
      }
    }), { numRuns: 300 });
  });
});
