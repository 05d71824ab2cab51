/**
 * JWT authentication as Istio's RequestAuthentication does it (SPEC §3, §4 item 2).
 *
 * Document (`apiVersion: chio.dev/v1`, `kind: RequestAuthentication`; schema in jwt-rules.ts), Istio's fields:
 *   spec.jwtRules[] (≤ 64): issuer; audiences?; jwksUri? | jwks? (an inline JWKS as a JSON string);
 *   fromHeaders? [{name, prefix?}]; fromParams? (query parameters); forwardOriginalToken?
 *   (outputPayloadToHeader is refused, see jwt-rules.ts). With neither fromHeaders nor fromParams, a rule reads
 *   `Authorization: Bearer <jwt>` and the `access_token` query parameter (Envoy's default).
 * Chio additions:
 *   jwksFile: a JWKS file, read once when the documents are loaded. Exactly one of jwks, jwksUri,
 *     jwksFile (Chio does no OpenID discovery).
 *   algorithms: the algorithms a rule accepts; default DEFAULT_JWT_ALGORITHMS. `none` and HMAC
 *     (HS*) are refused in configuration: a shared secret cannot authenticate a third party.
 *
 * authenticate() answers skip (no JWT: absence is for AuthorizationPolicy to judge, as in Istio;
 * a bearer value without a dot is a Chio capability token, SPEC §3), allow, or deny with Envoy
 * jwt_authn's reason (JWT_REASONS). Checks run in Envoy's order: size → shape → header → payload
 * → issuer → algorithm → nbf/exp (± skew) → audiences → key → signature. Everything before the
 * signature reads unverified bytes; the claims returned are those of the verified payload.
 *
 * Verified tokens are cached (SPEC §3: bounded, keyed by the token's SHA-256, never past
 * expiry): an RS256 or ES256 verify is most of a JWT Check's CPU. A cached token still passes
 * every check above on every Check (its rule is its issuer's, fixed for the authenticator's
 * life); only the signature is taken from the cache, and only for the very key set it was
 * verified with. A JWKS refetched since is another set, so a token signed by a key the issuer
 * removed is denied at once, as it is without the cache. A policy reload makes a new
 * authenticator, and so a new cache; a failed verification is never cached.
 */
import { resolve } from 'node:path';
import type { JWTPayload, JWTVerifyOptions } from 'jose';
import { ChioError, type ChioErrorCode } from '../errors/index.js';
import type { CheckInput } from '../decision/check-input.js';
import { DEFAULT_MAX_STALE_MS, parseJwks, readJwksFile, RemoteJwks, secretJwkMembers, type KeySet } from './jwks.js';
import { valuesAfterPrefix } from './header-values.js';
import { DEFAULT_CLOCK_SKEW_SECONDS, durationSeconds } from '../time.js';
import { DEFAULT_JWT_ALGORITHMS, JWT_REASONS, MAX_JWT_BYTES, MAX_JWTS_PER_REQUEST, jwtCodeOf, type JwtRule, type RequestAuthentication } from './jwt-rules.js';
import { decodeUnverified } from './jwt-decode.js';
import { reasonOf, verifyWithKeySet } from './jwt-signature.js';
import { DEFAULT_VERIFICATION_CACHE_SIZE, VerificationCache } from './verification-cache.js';
import { sha256HexOfText } from '../crypto/sha256.js';

// The document and the reasons are part of this module's surface.
export * from './jwt-rules.js';

/** JWKS fetching: one fetch's budget, how long a fetched set is used, the least time between fetches. */
export const DEFAULT_FETCH_TIMEOUT_MS = 1000;
export const DEFAULT_CACHE_TTL_MS = 5 * 60 * 1000;
export const DEFAULT_MIN_REFRESH_INTERVAL_MS = 10 * 1000;

export type JwtOutcome =
  | { verdict: 'skip' }
  | {
      verdict: 'allow'; issuer: string; subject?: string; claims: Record<string, unknown>; credentialSha256: string; requestPrincipal: string;
      /** Headers the token came in, to remove before upstream (Istio: unless forwardOriginalToken). */
      removeHeaders: string[];
    }
  | {
      verdict: 'deny'; code: ChioErrorCode; reason: string; credentialSha256?: string;
      /** Headers a rejected token came in: never forwarded either (shadow mode answers allow). */
      removeHeaders: string[];
    };

/**
 * fetchTimeoutMs caps one JWKS fetch; cacheTtlMs is how long a fetched JWKS is used;
 * minRefreshIntervalMs is the least time between two fetches of one JWKS; skewSeconds is the
 * tolerance on exp and nbf; now (ms since the epoch) is the clock for exp/nbf and JWKS cache
 * ages; baseDir is where relative `jwksFile` paths start (default: the working directory).
 */
export interface JwtAuthenticatorOptions {
  fetchTimeoutMs?: number;
  cacheTtlMs?: number;
  minRefreshIntervalMs?: number;
  /** How long past cacheTtlMs a remote set still answers for the keys it holds while fetches fail. */
  maxStaleMs?: number;
  /**
   * The remote key sets of the authenticator this one replaces (a policy reload), by URI: taken
   * over with what they fetched, so that a reload during an identity provider's outage does not
   * end the stale window and deny every JWT of it.
   */
  remoteJwks?: ReadonlyMap<string, RemoteJwks>;
  skewSeconds?: number;
  now?: () => number;
  fetch?: typeof fetch;
  baseDir?: string;
  /**
   * The bytes of jwksFile files already read, by absolute path: the policy set reads each once
   * and hashes those very bytes, so the keys enforced are the ones its hash names.
   */
  jwksFiles?: ReadonlyMap<string, Uint8Array>;
  /** Verified tokens kept (default DEFAULT_VERIFICATION_CACHE_SIZE); least recently used go first. */
  verifiedCacheSize?: number;
}

/** A signature check's result: the verified claims, and the key set that verified them. */
interface VerifiedJwt {
  keys: KeySet;
  claims: JWTPayload;
}

/** Where a token may be: a header (value after `prefix`) or a query parameter. */
type Location = { kind: 'header'; name: string; prefix: string } | { kind: 'param'; name: string };

interface Rule {
  issuer: string;
  audiences: readonly string[];
  algorithms: readonly string[];
  /** Keys of the locations this rule reads (see locationKey). */
  locations: ReadonlySet<string>;
  keys: KeySet | RemoteJwks;
  forwardOriginalToken: boolean;
  requireExpiration: boolean;
  /** Longest exp − iat (or exp − now without iat), in seconds; undefined: any. */
  maxLifetimeSeconds: number | undefined;
}

const SKIP: JwtOutcome = { verdict: 'skip' };
const DEFAULT_LOCATIONS: readonly Location[] = [
  { kind: 'header', name: 'authorization', prefix: 'Bearer ' },
  { kind: 'param', name: 'access_token' },
];

/** Verifies JWTs against the rules of RequestAuthentication documents. */
export class JwtAuthenticator {
  readonly #rules = new Map<string, Rule>();
  readonly #locations = new Map<string, Location>();
  readonly #remote = new Map<string, RemoteJwks>();
  readonly #skewSeconds: number;
  readonly #now: () => number;
  readonly #verified: VerificationCache<VerifiedJwt>;

  /** Reads inline and file JWKS now (no network); throws ChioError('CONFIG_INVALID') naming doc and field. */
  constructor(docs: readonly RequestAuthentication[], options: JwtAuthenticatorOptions = {}) {
    const fetchTimeoutMs = positive(options.fetchTimeoutMs, DEFAULT_FETCH_TIMEOUT_MS, 'fetchTimeoutMs');
    const cacheTtlMs = positive(options.cacheTtlMs, DEFAULT_CACHE_TTL_MS, 'cacheTtlMs');
    const minRefreshIntervalMs = positive(options.minRefreshIntervalMs, DEFAULT_MIN_REFRESH_INTERVAL_MS, 'minRefreshIntervalMs');
    const maxStaleMs = positive(options.maxStaleMs, DEFAULT_MAX_STALE_MS, 'maxStaleMs');
    if (cacheTtlMs < minRefreshIntervalMs) throw new ChioError('CONFIG_INVALID', 'JWT options: cacheTtlMs must not be shorter than minRefreshIntervalMs');
    this.#skewSeconds = options.skewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS;
    if (!Number.isInteger(this.#skewSeconds) || this.#skewSeconds < 0) throw new ChioError('CONFIG_INVALID', 'JWT options: skewSeconds must be a whole number ≥ 0');
    this.#now = options.now ?? Date.now;
    const cacheSize = options.verifiedCacheSize ?? DEFAULT_VERIFICATION_CACHE_SIZE;
    if (!Number.isSafeInteger(cacheSize) || cacheSize < 1) throw new ChioError('CONFIG_INVALID', 'JWT options: verifiedCacheSize must be a whole number ≥ 1');
    this.#verified = new VerificationCache(cacheSize, 'jwt');
    const remote = { fetchTimeoutMs, cacheTtlMs, minRefreshIntervalMs, maxStaleMs, now: this.#now, fetch: options.fetch ?? fetch };
    const byUri = this.#remote;
    for (const doc of docs) {
      for (const [i, rule] of doc.spec.jwtRules.entries()) {
        const where = `RequestAuthentication ${doc.metadata.name}: field spec.jwtRules.${i}`;
        if (this.#rules.has(rule.issuer)) throw new ChioError('CONFIG_INVALID', `${where}.issuer: ${rule.issuer} has another rule already`);
        let keys: KeySet | RemoteJwks;
        if (rule.jwksUri !== undefined) {
          keys = byUri.get(rule.jwksUri) ?? options.remoteJwks?.get(rule.jwksUri) ?? new RemoteJwks(rule.jwksUri, remote);
          byUri.set(rule.jwksUri, keys);
        } else {
          keys = loadLocalJwks(rule, where, options.baseDir ?? process.cwd(), options.jwksFiles);
        }
        this.#rules.set(rule.issuer, {
          issuer: rule.issuer,
          audiences: rule.audiences ?? [],
          algorithms: rule.algorithms ?? DEFAULT_JWT_ALGORITHMS,
          locations: new Set(this.#addLocations(rule)),
          keys,
          forwardOriginalToken: rule.forwardOriginalToken === true,
          // A bounded lifetime needs an end: maxLifetime implies requireExpiration.
          requireExpiration: rule.requireExpiration === true || rule.maxLifetime !== undefined,
          maxLifetimeSeconds: rule.maxLifetime === undefined ? undefined : durationSeconds(rule.maxLifetime),
        });
      }
    }
  }

  /** True when some rule reads JWTs from `authorization: Bearer …` (the default location). */
  readsBearerAuthorization(): boolean {
    return [...this.#locations.values()].some((l) => l.kind === 'header' && l.name === 'authorization' && l.prefix.trim().toLowerCase() === 'bearer');
  }

  /** The names of the headers any rule reads JWTs from. */
  headerNames(): string[] {
    return [...new Set([...this.#locations.values()].flatMap((l) => (l.kind === 'header' ? [l.name] : [])))];
  }

  /** Those of headerNames() whose value (`get`) holds something after a rule's prefix: a token, judged or not. */
  headersHoldingTokens(get: (name: string) => string | undefined): string[] {
    const names = new Set<string>();
    for (const l of this.#locations.values()) if (l.kind === 'header' && valuesAfterPrefix(get(l.name), l.prefix).some((v) => v !== '')) names.add(l.name);
    return [...names];
  }

  /** Fetch every remote JWKS in the background, so the first Checks find keys ready. */
  /** The remote key sets, by URI: what the next authenticator takes over (JwtAuthenticatorOptions.remoteJwks). */
  get remoteJwks(): ReadonlyMap<string, RemoteJwks> {
    return this.#remote;
  }

  prefetch(): void {
    for (const rule of this.#rules.values()) if (rule.keys instanceof RemoteJwks) rule.keys.prefetch();
  }

  /**
   * Authenticate the JWTs `input` carries. Never waits past `deadline` (absolute ms, real clock):
   * a JWKS that cannot be had by then is a deny with JWT_REASONS.jwksFetchFail.
   */
  async authenticate(input: CheckInput, deadline: number): Promise<JwtOutcome> {
    const tokens = this.#extract(input);
    if (tokens.size === 0) return SKIP;
    const everyHeader = [...new Set([...tokens.values()].flatMap((locations) => this.#headersOf(locations)))];
    if (tokens.size > MAX_JWTS_PER_REQUEST) return { verdict: 'deny', code: jwtCodeOf(JWT_REASONS.multipleTokens), reason: JWT_REASONS.multipleTokens, removeHeaders: everyHeader };
    // As Envoy: every token found must verify, each denied with its own reason.
    let verified: Extract<JwtOutcome, { verdict: 'allow' }> | undefined;
    for (const [token, locations] of tokens) {
      const outcome = await this.#authenticateOne(token, locations, deadline);
      if (outcome.verdict === 'deny') return { ...outcome, removeHeaders: everyHeader };
      if (outcome.verdict === 'allow') verified ??= outcome;
    }
    if (verified === undefined) return SKIP;
    // Two different tokens that both verify name no one caller (Istio: "not supported, the
    // principal is undefined"). The policies would judge one while the upstream may read the
    // other (a query parameter is never removed): a DENY on the second would not hold.
    if (tokens.size > 1) return { verdict: 'deny', code: jwtCodeOf(JWT_REASONS.multipleTokens), reason: JWT_REASONS.multipleTokens, credentialSha256: verified.credentialSha256, removeHeaders: everyHeader };
    return verified;
  }

  #addLocations(rule: JwtRule): string[] {
    const locations: Location[] =
      rule.fromHeaders === undefined && rule.fromParams === undefined
        ? [...DEFAULT_LOCATIONS]
        : [
            ...(rule.fromHeaders ?? []).map((h): Location => ({ kind: 'header', name: h.name.toLowerCase(), prefix: h.prefix ?? '' })),
            ...(rule.fromParams ?? []).map((name): Location => ({ kind: 'param', name })),
          ];
    return locations.map((loc) => {
      const key = locationKey(loc);
      this.#locations.set(key, loc);
      return key;
    });
  }

  /** The header names among `locations` (location keys). */
  #headersOf(locations: ReadonlySet<string>): string[] {
    return [...locations].map((k) => this.#locations.get(k)).flatMap((l) => (l?.kind === 'header' ? [l.name] : []));
  }

  /** Distinct JWT candidates → the locations they were found in. */
  #extract(input: CheckInput): Map<string, Set<string>> {
    const found = new Map<string, Set<string>>();
    let query: URLSearchParams | undefined;
    for (const [key, loc] of this.#locations) {
      let values: string[];
      if (loc.kind === 'header') {
        values = valuesAfterPrefix(input.headers.get(loc.name), loc.prefix);
      } else {
        query ??= new URLSearchParams(queryOf(input.rawPath));
        // A repeated parameter is several tokens, each verified: an upstream may read any one.
        values = query.getAll(loc.name).map((v) => v.trim());
      }
      for (const value of values) {
        // No dot: not a JWT but a Chio capability token (SPEC §3), the Capability guard's to judge.
        if (!value.includes('.')) continue;
        const locations = found.get(value) ?? new Set<string>();
        found.set(value, locations.add(key));
      }
    }
    return found;
  }

  async #authenticateOne(token: string, locations: ReadonlySet<string>, deadline: number): Promise<JwtOutcome> {
    // The receipt's credential_sha256, and the key of the verification cache.
    const credentialSha256 = sha256HexOfText(token);
    const deny = (reason: string): JwtOutcome => ({ verdict: 'deny', code: jwtCodeOf(reason), reason, credentialSha256, removeHeaders: this.#headersOf(locations) });
    if (token.length > MAX_JWT_BYTES) return deny(JWT_REASONS.tooLarge);
    const jwt = decodeUnverified(token);
    if (typeof jwt === 'string') return deny(jwt);
    const { payload } = jwt;
    const rule = payload.iss === undefined ? undefined : this.#rules.get(payload.iss);
    // Every place the token was found must be one its issuer's rule reads: Envoy verifies each
    // place on its own. One that fits must not carry the others, where the upstream reading
    // another issuer's header or parameter would take the token for one the mesh had verified.
    if (rule === undefined || ![...locations].every((l) => rule.locations.has(l))) return deny(JWT_REASONS.unknownIssuer);
    if (!rule.algorithms.includes(jwt.alg)) return deny(JWT_REASONS.algNotSupported);
    const nowMs = this.#now();
    const now = Math.floor(nowMs / 1000);
    if (payload.nbf !== undefined && now + this.#skewSeconds < payload.nbf) return deny(JWT_REASONS.notYetValid);
    if (payload.exp !== undefined && now > payload.exp + this.#skewSeconds) return deny(JWT_REASONS.expired);
    if (payload.exp === undefined && rule.requireExpiration) return deny(JWT_REASONS.expMissing);
    // The lifetime from issue, and from now: an iat in the future must not stretch it.
    if (payload.exp !== undefined && rule.maxLifetimeSeconds !== undefined && payload.exp - Math.min(payload.iat ?? now, now) > rule.maxLifetimeSeconds) {
      return deny(JWT_REASONS.lifetimeTooLong);
    }
    if (!audiencesAllowed(rule.audiences, payload.aud)) return deny(JWT_REASONS.audienceNotAllowed);
    let keys: KeySet;
    try {
      keys = rule.keys instanceof RemoteJwks ? await rule.keys.keysFor(jwt.kid, deadline) : rule.keys;
    } catch {
      return deny(JWT_REASONS.jwksFetchFail);
    }
    // Not at or past exp (the skew is for the full check), not before nbf, and only with the
    // key set the token was verified with.
    let claims = this.#verified.get(credentialSha256, now, (v) => v.keys === keys && now >= (v.claims.nbf ?? 0))?.claims;
    if (claims === undefined) {
      try {
        claims = await this.#verifySignature(token, jwt.kid, rule, keys, nowMs);
      } catch (err) {
        return deny(reasonOf(err));
      }
      if (claims.exp === undefined || now < claims.exp) this.#verified.set(credentialSha256, { keys, claims }, claims.exp ?? Infinity);
    }
    const subject = typeof claims.sub === 'string' ? claims.sub : undefined;
    return {
      verdict: 'allow',
      issuer: rule.issuer,
      ...(subject !== undefined ? { subject } : {}),
      claims: claims as Record<string, unknown>,
      credentialSha256,
      requestPrincipal: `${rule.issuer}/${subject ?? ''}`,
      removeHeaders: rule.forwardOriginalToken ? [] : this.#headersOf(locations),
    };
  }

  /** The verified payload of `token` under `rule` with `keys`; throws jose's error. */
  #verifySignature(token: string, kid: string | undefined, rule: Rule, keys: KeySet, nowMs: number): Promise<JWTPayload> {
    const options: JWTVerifyOptions = {
      algorithms: [...rule.algorithms],
      issuer: rule.issuer,
      clockTolerance: this.#skewSeconds,
      currentDate: new Date(nowMs),
      ...(rule.audiences.length > 0 ? { audience: [...rule.audiences] } : {}),
    };
    return verifyWithKeySet(token, kid, keys, options);
  }
}

function positive(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v <= 0) throw new ChioError('CONFIG_INVALID', `JWT options: ${name} must be a positive number of milliseconds`);
  return v;
}

function loadLocalJwks(rule: JwtRule, where: string, baseDir: string, read?: ReadonlyMap<string, Uint8Array>): KeySet {
  const field = rule.jwksFile !== undefined ? 'jwksFile' : 'jwks';
  let keys: KeySet;
  try {
    if (rule.jwksFile === undefined) keys = parseJwks(rule.jwks ?? '');
    else {
      const path = resolve(baseDir, rule.jwksFile);
      const bytes = read?.get(path);
      keys = bytes ? parseJwks(new TextDecoder().decode(bytes)) : readJwksFile(path);
    }
  } catch (cause) {
    throw new ChioError('CONFIG_INVALID', `${where}.${field}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
  // parseJwks skips such keys, but an inline jwks is archived as written and served to anyone
  // under the policy hash (a jwksFile only as its SHA-256): a private key there is published.
  const secret = rule.jwks === undefined ? [] : secretJwkMembers(rule.jwks);
  if (secret.length > 0) throw new ChioError('CONFIG_INVALID', `${where}.jwks: a key holds private key material (${secret.join(', ')}); policy sets are published, so give only public keys`);
  return keys;
}

function locationKey(loc: Location): string {
  return loc.kind === 'header' ? `header ${loc.name} ${JSON.stringify(loc.prefix)}` : `param ${loc.name}`;
}

function queryOf(rawPath: string): string {
  const path = rawPath.split('#', 1)[0] ?? '';
  const at = path.indexOf('?');
  return at < 0 ? '' : path.slice(at + 1);
}

/** Envoy's rule: with audiences configured, one of the token's must be among them. */
function audiencesAllowed(allowed: readonly string[], aud: string | string[] | undefined): boolean {
  if (allowed.length === 0) return true;
  const list = typeof aud === 'string' ? [aud] : (aud ?? []);
  return list.some((a) => allowed.includes(a));
}
