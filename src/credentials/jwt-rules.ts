/**
 * The RequestAuthentication document (SPEC §4 item 2; the document format is described in
 * jwt.ts) and Envoy jwt_authn's deny reasons with Chio's error code for each: what a JWT rule
 * may say, and what a client is told when a JWT fails.
 */
import { z } from 'zod';
import type { ChioErrorCode } from '../errors/index.js';
import { metadataSchema } from '../policy/metadata.js';
import { MAX_JWKS_BYTES } from './jwks.js';
import { DURATION_PATTERN } from '../time.js';

/** Default algorithms: the asymmetric JWS algorithms Envoy verifies (RFC 7518 §3, RFC 8037). */
export const DEFAULT_JWT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'PS256', 'PS384', 'PS512', 'EdDSA'] as const;
/** What `algorithms` may list: the defaults and ES512. */
export const SUPPORTED_JWT_ALGORITHMS: readonly string[] = [...DEFAULT_JWT_ALGORITHMS, 'ES512'];
/** A longer token is refused before it is parsed. */
export const MAX_JWT_BYTES = 8 * 1024;
/**
 * Distinct JWTs verified in one request; more are denied unverified. Two or more that all verify
 * are denied too (jwt.ts): this bounds the work spent on saying which one failed.
 */
export const MAX_JWTS_PER_REQUEST = 4;

/**
 * Deny reasons, verbatim from Envoy's jwt_verify_lib `getStatusString` (src/status.cc), but
 * `tooLarge`. `badFormat` is the wording SPEC §3 quotes (jwt_verify_lib before it appended
 * " with two dots and 3 sections", which Envoy's source/common/jwt/status.cc now returns).
 */
export const JWT_REASONS = {
  badFormat: 'Jwt is not in the form of Header.Payload.Signature',
  headerBadBase64: 'Jwt header is an invalid Base64url encoded',
  headerBadJson: 'Jwt header is an invalid JSON',
  headerBadAlg: 'Jwt header [alg] field is required and must be a string',
  algNotSupported: 'Jwt header [alg] is not supported',
  // Chio's own: Envoy ignores crit (RFC 7515 §4.1.11), which a recipient must not.
  critNotSupported: 'Jwt header [crit] is not supported',
  headerBadKid: 'Jwt header [kid] field is not a string',
  payloadBadBase64: 'Jwt payload is an invalid Base64url encoded',
  payloadBadJson: 'Jwt payload is an invalid JSON',
  issNotString: 'Jwt payload [iss] field is not a string',
  subNotString: 'Jwt payload [sub] field is not a string',
  iatNotInteger: 'Jwt payload [iat] field is not an integer',
  nbfNotInteger: 'Jwt payload [nbf] field is not an integer',
  expNotInteger: 'Jwt payload [exp] field is not an integer',
  audNotString: 'Jwt payload [aud] field is not a string or string list',
  signatureBadBase64: 'Jwt signature is an invalid Base64url encoded',
  unknownIssuer: 'Jwt issuer is not configured',
  audienceNotAllowed: 'Audiences in Jwt are not allowed',
  notYetValid: 'Jwt not yet valid',
  expired: 'Jwt is expired',
  verificationFails: 'Jwt verification fails',
  multipleTokens: 'Found multiple Jwt tokens',
  kidAlgMismatch: "Jwks doesn't have key to match kid or alg from Jwt",
  jwksFetchFail: 'Jwks remote fetch is failed',
  // Chio's own: Envoy has no such status (its header-size limits answer first).
  tooLarge: 'Jwt is too large',
  // Chio's own, for the rule options requireExpiration and maxLifetime.
  expMissing: 'Jwt has no expiration',
  lifetimeTooLong: 'Jwt lifetime exceeds maxLifetime',
} as const;

/** The error code of each reason: the receipt, metrics and the status table use the code. */
const JWT_REASON_CODES: Readonly<Record<string, ChioErrorCode>> = {
  [JWT_REASONS.unknownIssuer]: 'JWT_UNKNOWN_ISSUER',
  [JWT_REASONS.audienceNotAllowed]: 'JWT_AUDIENCE_NOT_ALLOWED',
  [JWT_REASONS.notYetValid]: 'JWT_NOT_YET_VALID',
  [JWT_REASONS.expired]: 'JWT_EXPIRED',
  [JWT_REASONS.expMissing]: 'JWT_INVALID',
  [JWT_REASONS.lifetimeTooLong]: 'JWT_INVALID',
  [JWT_REASONS.verificationFails]: 'JWT_SIGNATURE_INVALID',
  [JWT_REASONS.kidAlgMismatch]: 'JWT_SIGNATURE_INVALID',
  [JWT_REASONS.jwksFetchFail]: 'JWT_KEYS_UNAVAILABLE',
  [JWT_REASONS.multipleTokens]: 'JWT_INVALID',
};

/** The code for one of JWT_REASONS: every reason not listed above is a malformed token. */
export function jwtCodeOf(reason: string): ChioErrorCode {
  return JWT_REASON_CODES[reason] ?? 'JWT_MALFORMED';
}

const text = (max: number) => z.string().min(1).max(max);
const algorithms = z.array(z.string().max(16)).min(1).max(16).superRefine((algs, ctx) => {
  for (const [i, alg] of algs.entries()) {
    if (alg.toLowerCase() === 'none' || /^HS/i.test(alg)) {
      ctx.addIssue({ code: 'custom', path: [i], message: `${alg} is never allowed: "none" and HMAC (HS*) cannot authenticate a token issued by another party` });
    } else if (!SUPPORTED_JWT_ALGORITHMS.includes(alg)) {
      ctx.addIssue({ code: 'custom', path: [i], message: `${alg} is not one of ${SUPPORTED_JWT_ALGORITHMS.join(', ')}` });
    }
  }
});
/** An Istio field Chio refuses, saying why. */
const unsupported = (why: string) => z.never({ error: `is not supported by Chio (${why}): remove it` }).optional();
const jwtRule = z
  .strictObject({
    issuer: text(1024),
    audiences: z.array(text(1024)).max(64).optional(),
    jwksUri: z.url({ protocol: /^https?$/ }).max(2048).optional(),
    jwks: text(MAX_JWKS_BYTES).optional(),
    jwksFile: text(1024).optional(),
    fromHeaders: z.array(z.strictObject({ name: text(256), prefix: z.string().max(64).optional() })).max(16).optional(),
    fromParams: z.array(text(256)).max(16).optional(),
    forwardOriginalToken: z.boolean().optional(),
    // Istio fields Chio does not implement, refused rather than ignored. Envoy writes the verified
    // payload or claims to these headers (the client's own values removed); Chio does neither, so
    // an upstream reading them would trust the client's. A token in a cookie would go unverified.
    outputPayloadToHeader: unsupported('the verified payload is not written to a header, and a client could send that header itself'),
    outputClaimToHeaders: unsupported('verified claims are not written to headers, and a client could send that header itself'),
    fromCookies: unsupported('cookies are not read, so a token there would reach the upstream unverified'),
    timeout: unsupported('a JWKS fetch gives up after 1 s, and a Check waits for it only until its own deadline'),
    algorithms: algorithms.optional(),
    // Istio accepts a JWT without exp (Envoy's require_expiration defaults to false); these
    // two Chio options let a rule insist on one, and on a bounded lifetime.
    requireExpiration: z.boolean().optional(),
    maxLifetime: z.string().regex(DURATION_PATTERN, 'must be a duration like 30m, 1h, 7d').optional(),
  })
  .refine((r) => [r.jwks, r.jwksUri, r.jwksFile].filter((v) => v !== undefined).length === 1, 'exactly one of jwks, jwksUri, jwksFile is required');

export const requestAuthenticationSchema = z.strictObject({
  apiVersion: z.literal('chio.dev/v1'),
  kind: z.literal('RequestAuthentication'),
  metadata: metadataSchema,
  spec: z.strictObject({ jwtRules: z.array(jwtRule).max(64).default([]) }),
});

export type RequestAuthentication = z.output<typeof requestAuthenticationSchema>;
export type JwtRule = RequestAuthentication['spec']['jwtRules'][number];
