/**
 * Ed25519 public keys no one holds a secret for: the eight points of order dividing 8, and
 * encodings of them that OpenSSL also takes (the identity with y = 1 + p, and with its sign bit
 * set). Under such a key a "signature" of a small-order R and S = 0 passes node:crypto's
 * cofactorless check for many messages (under the identity, for every one): a forgery with no
 * secret. RFC 8032 strict verification refuses every one of them.
 */
const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));

/** The eight points of order dividing 8, canonical encodings; the first is the identity. */
export const SMALL_ORDER_POINTS = [
  '0100000000000000000000000000000000000000000000000000000000000000',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  '0000000000000000000000000000000000000000000000000000000000000080',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85',
  '0000000000000000000000000000000000000000000000000000000000000000',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
].map(hex);

/** The identity, encoded otherwise: y = 1 + p, and y = 1 with the sign bit set. */
export const NON_CANONICAL_IDENTITIES = [
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0100000000000000000000000000000000000000000000000000000000000080',
].map(hex);

/** Every key above. */
export const KEYS_NO_ONE_HOLDS = [...SMALL_ORDER_POINTS, ...NON_CANONICAL_IDENTITIES];

/** A signature that node:crypto takes for any message under an identity key: R = the identity, S = 0. */
export function identityForgery(): Uint8Array {
  const signature = new Uint8Array(64);
  signature.set(SMALL_ORDER_POINTS[0]!);
  return signature;
}
