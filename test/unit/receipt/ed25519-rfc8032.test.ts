/**
 * RFC 8032 §7.1 Ed25519 vectors against Chio's three checks (the portable one of receipts, the
 * note verifier of checkpoints, node:crypto's of the ledger), and the malleability RFC 8032
 * §5.1.7 forbids: S + L (and any S >= L) is the same scalar mod L, and MUST be refused.
 */
import { describe, expect, it } from 'vitest';
import { createNodeSignatureCheck } from '../../../src/crypto/ed25519.js';
import { fromHex, toHex } from '../../../src/encoding.js';
import { nobleSignatureCheck } from '../../../src/receipt/verify.js';
import { newEd25519VerifierKey, parseVerifierKey } from '../../../src/tlog/index.js';

const L = 2n ** 252n + 27742317777372353535851937790883648493n;

const VECTORS = [
  {
    name: 'TEST 1',
    publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    name: 'TEST 2',
    publicKey: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    name: 'TEST 3',
    publicKey: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature: '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
];

const le = (b: Uint8Array): bigint => b.reduceRight((n, byte) => (n << 8n) | BigInt(byte), 0n);
function le32(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++, n >>= 8n) out[i] = Number(n & 0xffn);
  return out;
}
/** The signature with S replaced by `s`. */
function withS(signature: Uint8Array, s: bigint): Uint8Array {
  const out = signature.slice();
  out.set(le32(s), 32);
  return out;
}

const node = createNodeSignatureCheck();
const CHECKS = [
  ['nobleSignatureCheck', nobleSignatureCheck],
  ['the note verifier', (sig: Uint8Array, msg: Uint8Array, pk: Uint8Array) => parseVerifierKey(newEd25519VerifierKey('rfc8032', pk)).verify(msg, sig)],
  ['createNodeSignatureCheck', node],
] as const;

describe.each(VECTORS)('RFC 8032 §7.1 $name', (v) => {
  const pk = fromHex(v.publicKey);
  const msg = fromHex(v.message);
  const sig = fromHex(v.signature);
  const s = le(sig.subarray(32));

  it.each(CHECKS)('%s accepts the published signature', (_name, check) => {
    expect(s < L).toBe(true);
    expect(check(sig, msg, pk)).toBe(true);
  });

  it.each(CHECKS)('%s refuses S + L, S + 2L, S + 8L and S + 15L (non-canonical S), and S = L', (_name, check) => {
    for (const k of [1n, 2n, 8n, 15n]) {
      const t = s + k * L;
      if (t >= 2n ** 256n) continue;
      const malleated = withS(sig, t);
      expect(toHex(malleated)).not.toBe(v.signature);
      expect(check(malleated, msg, pk)).toBe(false);
    }
    expect(check(withS(sig, L), msg, pk)).toBe(false);
  });

  it.each(CHECKS)('%s refuses R with the sign bit flipped and a truncated or extended signature', (_name, check) => {
    const flipped = sig.slice();
    flipped[31]! ^= 0x80;
    expect(check(flipped, msg, pk)).toBe(false);
    expect(check(sig.subarray(0, 63), msg, pk)).toBe(false);
    expect(check(Uint8Array.from([...sig, 0]), msg, pk)).toBe(false);
  });
});
