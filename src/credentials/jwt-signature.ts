/**
 * A JWT's signature checked with a key set as Envoy's jwt_authn picks keys (by kid, then the keys
 * without one), and jose's errors turned into Envoy's reasons.
 */
import { errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose';
import type { KeySet } from './jwks.js';
import { JWT_REASONS } from './jwt-rules.js';

/**
 * jwtVerify with the set's keys as Envoy picks them: those with the token's kid and those with
 * none (every key, for a token without a kid); when several fit, each is tried.
 */
export async function verifyWithKeySet(token: string, kid: string | undefined, keys: KeySet, options: JWTVerifyOptions): Promise<JWTPayload> {
  const { kidless } = keys;
  try {
    return await verifyWithKeys(token, keys.getKey, options);
  } catch (err) {
    if (kid === undefined || kidless === undefined) throw err;
    if (!(err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWSSignatureVerificationFailed)) throw err;
    try {
      return await verifyWithKeys(token, (header, input) => kidless({ ...header, kid: undefined }, input), options);
    } catch (again) {
      // No key without a kid fits the alg either: the first answer stands.
      throw again instanceof errors.JWKSNoMatchingKey ? err : again;
    }
  }
}

async function verifyWithKeys(token: string, getKey: JWTVerifyGetKey, options: JWTVerifyOptions): Promise<JWTPayload> {
  try {
    return (await jwtVerify(token, getKey, options)).payload;
  } catch (err) {
    if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw err;
    for await (const key of err) {
      try {
        return (await jwtVerify(token, key, options)).payload;
      } catch (e) {
        if (!(e instanceof errors.JWSSignatureVerificationFailed)) throw e;
      }
    }
    throw new errors.JWSSignatureVerificationFailed();
  }
}

/** jose's error → Envoy's reason. Claims were checked before, so these are mostly key and signature. */
export function reasonOf(err: unknown): string {
  if (err instanceof errors.JWTExpired) return JWT_REASONS.expired;
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf') return JWT_REASONS.notYetValid;
    if (err.claim === 'aud') return JWT_REASONS.audienceNotAllowed;
    if (err.claim === 'iss') return JWT_REASONS.unknownIssuer;
    return JWT_REASONS.verificationFails;
  }
  if (err instanceof errors.JWKSNoMatchingKey) return JWT_REASONS.kidAlgMismatch;
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) return JWT_REASONS.algNotSupported;
  return JWT_REASONS.verificationFails;
}
