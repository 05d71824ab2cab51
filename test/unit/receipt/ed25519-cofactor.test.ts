/**
 * Ed25519 signatures whose R or public key A carries a small-order (torsion) component. RFC 8032
 * §5.1.7 lets a verifier check either [8][S]B = [8]R + [8][k]A (cofactored) or [S]B = R + [k]A
 * (cofactorless); such signatures pass the first and fail the second (C2SP CCTV ed25519
 * "low_order_component_R/A", "low_order_residue"). node:crypto (OpenSSL), Go's crypto/ed25519
 * (and so sumdb/note witnesses) and libsodium check cofactorless: the portable check has to
 * answer as they do, or a receipt or checkpoint holds in the browser and fails in the ledger.
 *
 * Built from RFC 8032 §7.1 TEST 1's secret key, a fixed nonce and the order-2 point (0, -1).
 */
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { createNodeSignatureCheck } from '../../../src/crypto/ed25519.js';
import { fromHex } from '../../../src/encoding.js';
import { nobleSignatureCheck, verifyReceiptBytes } from '../../../src/receipt/verify.js';
import { receiptBytes } from '../../../src/receipt/receipt.js';
import { newEd25519VerifierKey, openNote, parseVerifierKey } from '../../../src/tlog/index.js';
import { GENESIS_PREV } from '../../../src/receipt/receipt.js';
import { draftOf, expectCode, signReceipt } from './helpers.js';

ed.hashes.sha512 = sha512;

const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const SECRET = fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
/** (0, -1), of order 2. */
const T2 = ed.Point.fromBytes(fromHex('ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'));
const { scalar: a, point: A } = ed.utils.getExtendedPublicKey(SECRET);

const le = (b: Uint8Array): bigint => b.reduceRight((n, byte) => (n << 8n) | BigInt(byte), 0n);
function le32(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++, n >>= 8n) out[i] = Number(n & 0xffn);
  return out;
}

/** S = r + k·a for the given R and public key bytes: valid under the cofactored equation. */
function signWith(R: ed.Point, publicKey: Uint8Array, r: bigint, message: Uint8Array): Uint8Array {
  const rBytes = R.toBytes();
  const k = le(sha512(Uint8Array.from([...rBytes, ...publicKey, ...message]))) % L;
  const sig = new Uint8Array(64);
  sig.set(rBytes);
  sig.set(le32((r + k * a) % L), 32);
  return sig;
}

const r = 0x1234567890abcdef1234567890abcdefn;
/** R = [r]B + T2, under the real key A. */
const torsionR = (message: Uint8Array) => signWith(ed.Point.BASE.multiply(r).add(T2), A.toBytes(), r, message);
/** A' = A + T2 (mixed order, not small order), R = [r]B. */
const MIXED_A = A.add(T2).toBytes();
const mixedA = (message: Uint8Array) => signWith(ed.Point.BASE.multiply(r), MIXED_A, r, message);

const node = createNodeSignatureCheck();
const messages = Array.from({ length: 8 }, (_, i) => new TextEncoder().encode(`message ${i}`));

describe('Ed25519 signatures with a small-order component', () => {
  it('a torsion component in R: the portable check answers as node:crypto does (no)', () => {
    for (const m of messages) {
      const sig = torsionR(m);
      expect(node(sig, m, A.toBytes())).toBe(false);
      expect(nobleSignatureCheck(sig, m, A.toBytes())).toBe(false);
      expect(parseVerifierKey(newEd25519VerifierKey('k', A.toBytes())).verify(m, sig)).toBe(false);
    }
  });

  it('a torsion component in A: the portable check answers as node:crypto does', () => {
    // [S]B - [k]A' = R - [k]T2: the cofactorless equation holds exactly when k is even.
    const answers = messages.map((m) => {
      const sig = mixedA(m);
      const byNode = node(sig, m, MIXED_A);
      expect(nobleSignatureCheck(sig, m, MIXED_A)).toBe(byNode);
      expect(parseVerifierKey(newEd25519VerifierKey('k', MIXED_A)).verify(m, sig)).toBe(byNode);
      return byNode;
    });
    expect(answers).toContain(false);
  });

  it('a receipt signed so verifies neither in the browser verifier nor in the ledger', () => {
    const kernel = { seed: SECRET, signer: { publicKey: A.toBytes(), sign: torsionR }, verifierKey: newEd25519VerifierKey('chio-kernel', A.toBytes()) };
    const receipt = signReceipt(draftOf(1), { chain: 'chain-t', seq: 1, prev: GENESIS_PREV }, kernel);
    expectCode(() => verifyReceiptBytes(receiptBytes(receipt), [kernel.verifierKey], node), 'SIGNATURE_INVALID');
    expectCode(() => verifyReceiptBytes(receiptBytes(receipt), [kernel.verifierKey]), 'SIGNATURE_INVALID');
  });

  it('a checkpoint note signed so does not open', () => {
    const text = 'example.com/log\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n';
    const sig = torsionR(new TextEncoder().encode(text));
    const vkey = parseVerifierKey(newEd25519VerifierKey('example.com/log', A.toBytes()));
    const id = Uint8Array.of(vkey.keyId >>> 24, (vkey.keyId >>> 16) & 0xff, (vkey.keyId >>> 8) & 0xff, vkey.keyId & 0xff);
    const line = `\u2014 example.com/log ${Buffer.from([...id, ...sig]).toString('base64')}\n`;
    expectCode(() => openNote(`${text}\n${line}`, [vkey]), 'SIGNATURE_INVALID');
  });

  it('the honest signature of the same key and nonce still holds everywhere', () => {
    for (const m of messages) {
      const sig = signWith(ed.Point.BASE.multiply(r), A.toBytes(), r, m);
      expect(node(sig, m, A.toBytes())).toBe(true);
      expect(nobleSignatureCheck(sig, m, A.toBytes())).toBe(true);
      expect(parseVerifierKey(newEd25519VerifierKey('k', A.toBytes())).verify(m, sig)).toBe(true);
    }
  });
});
