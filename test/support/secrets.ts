/**
 * The secret part of a signer key (PRIVATE+KEY+<name>+<id>+<base64 seed>), for tests that check
 * it is never echoed. Base64 itself may hold '+', so the last '+'-separated piece can be a short
 * fragment or empty, which would make a "not.toContain" check flaky; the seed is everything after
 * the fourth '+'.
 */
export function signerSecret(signerKey: string): string {
  const parts = signerKey.trim().split('+');
  if (parts.length < 5 || parts[0] !== 'PRIVATE' || parts[1] !== 'KEY') throw new Error('not a signer key');
  return parts.slice(4).join('+');
}
