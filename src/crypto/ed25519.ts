/**
 * Ed25519 with node:crypto, for Node services on the hot path: signing receipts, checkpoints
 * and tokens, and checking signatures in the ledger (about ten times faster than pure JS here).
 * The portable verification code (src/receipt/verify.ts, src/tlog, src/verify) uses @noble.
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { canHoldSignatures } from '../tlog/note.js';
import { ChioError } from '../errors/index.js';

/** DER prefix of a PKCS#8 Ed25519 private key (RFC 8410): the 32-byte seed follows it. */
const PKCS8_ED25519_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);

export interface Ed25519Signer {
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Uint8Array;
}

/** A signer over a 32-byte Ed25519 seed, backed by node:crypto. */
export function createNodeSigner(seed: Uint8Array): Ed25519Signer {
  if (seed.length !== 32) throw new ChioError('KEY_INVALID', 'an Ed25519 seed is 32 bytes');
  const der = new Uint8Array(PKCS8_ED25519_PREFIX.length + 32);
  der.set(PKCS8_ED25519_PREFIX);
  der.set(seed, PKCS8_ED25519_PREFIX.length);
  const privateKey: KeyObject = createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  // The raw public key is the last 32 bytes of the SPKI encoding.
  const publicKey = new Uint8Array(spki.subarray(spki.length - 32));
  return {
    publicKey,
    sign: (message) => new Uint8Array(sign(null, message, privateKey)),
  };
}

/**
 * An Ed25519 signature check with node:crypto, for Node services on the hot path (the ledger).
 * Public keys are turned into KeyObjects once and kept (the trusted kernel keys are few).
 *
 * It answers as the portable check does (RFC 8032 strict, receipt/verify.ts): a public key that
 * is not the canonical encoding of a point, or is a point of small order, holds no signature.
 * OpenSSL alone takes such keys, and under one a signature of a small-order R and S = 0 passes
 * its cofactorless equation for most messages (under the identity, for every one): a forgery
 * with no secret, which POST /v1/verify reported as a signature that holds.
 */
export function createNodeSignatureCheck(): (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array) => boolean {
  const keys = new Map<string, KeyObject | null>();
  return (signature, message, publicKey) => {
    const id = Buffer.from(publicKey).toString('hex');
    let key = keys.get(id);
    if (key === undefined) {
      key = canHoldSignatures(publicKey) ? nodePublicKey(publicKey) : null;
      if (keys.size < 1024) keys.set(id, key);
    }
    return key !== null && verify(null, message, key, signature);
  };
}

/** A raw 32-byte Ed25519 public key as a node:crypto KeyObject. */
export function nodePublicKey(publicKey: Uint8Array): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey).toString('base64url') }, format: 'jwk' });
}
