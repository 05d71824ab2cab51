/**
 * JSON Web Key Sets for JWT authentication (SPEC §3): a defensive JWKS parser and the cache of a
 * remote JWKS (`jwksUri`).
 *
 * A JWKS is `{"keys": [JWK, …]}` (RFC 7517 §5). Only public asymmetric keys are kept (`kty` RSA,
 * EC or OKP, no private members, accepted by node:crypto, and for Ed25519 a key someone can hold
 * the secret of: not a point of small order); the rest are dropped, as Envoy's
 * jwt_verify_lib does, and a set left with none is refused. Symmetric (`oct`) keys never verify
 * anything here: an HMAC secret is not a key a third party may publish.
 *
 * Remote cache contract, per URI (`RemoteJwks`):
 * - a fetched set is used for `cacheTtlMs`; the first request after that starts a refetch;
 * - past its TTL, a set that holds the token's key still answers, at once, while the new one is
 *   fetched, for up to `maxStaleMs` more: an identity provider that is slow or down delays no
 *   Check and denies no token it signed with a key it published (as Envoy's background JWKS
 *   fetch and istiod's key cache keep their last set). After that, or for a key the set lacks,
 *   a request waits for the fetch as below;
 * - a token whose `kid` the set lacks triggers a refetch (key rotation at the issuer);
 * - a fetch MUST NOT start less than `minRefreshIntervalMs` after the previous one began, so
 *   unknown kids, a dead endpoint or garbage answers cannot make Chio hammer the issuer; until
 *   then the current set answers (and an unknown kid finds no key), or, with no fresh set, the
 *   request fails at once;
 * - concurrent requests share one in-flight fetch, and each waits at most until its own deadline;
 * - a GET whose kept-alive connection is lost before any answer is sent once more, on a new
 *   connection, within the same fetchTimeoutMs (src/http-get-retry.ts);
 * - the fetch is aborted after fetchTimeoutMs, whatever the deadline of the request that started
 *   it: that request gives up at its own deadline. Deadlines are absolute milliseconds on the
 *   real clock (`Date.now()`), as timers are.
 */
import { createPublicKey, type JsonWebKey as NodeJwk } from 'node:crypto';
import { createLocalJWKSet, type JSONWebKeySet, type JWK } from 'jose';
import { readResponseBody } from '../response-body.js';
import { getOnceMoreIfLost } from '../http-get-retry.js';
import { ChioError } from '../errors/index.js';
import { readRegularFile, UnreadableFile } from '../setting-file.js';
import { isJsonObject } from '../json.js';
import { fromBase64Url } from '../encoding.js';
import { canHoldSignatures } from '../tlog/note.js';
import { beforeDeadline } from '../time.js';
import { cacheLookupsTotal, jwksFetchesTotal } from '../metrics.js';

/** A key set served fresh from the cache with the key id asked for is a hit; anything else a miss. */
const jwksHits = cacheLookupsTotal.labels('jwks', 'hit');
const jwksMisses = cacheLookupsTotal.labels('jwks', 'miss');
/** A set past its TTL that answered while a new one was fetched: many of these say the issuer's endpoint fails. */
const jwksStale = cacheLookupsTotal.labels('jwks', 'stale');
const jwksFetchesOk = jwksFetchesTotal.labels('ok');
const jwksFetchesFailed = jwksFetchesTotal.labels('failed');

/** How long past its TTL a set still answers for the keys it holds while fetches fail. */
export const DEFAULT_MAX_STALE_MS = 24 * 60 * 60 * 1000;

/** A JWKS document (inline, file or HTTP body) larger than this is refused. */
export const MAX_JWKS_BYTES = 256 * 1024;
/** Keys per set; real issuers publish a handful (current, next, previous). */
export const MAX_JWKS_KEYS = 64;

const PUBLIC_KTYS = new Set(['RSA', 'EC', 'OKP']);
// Members that carry private or symmetric key material (RFC 7518 §6.2.2, §6.3.2, §6.4.1; RFC 8037 §2).
const SECRET_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** A parsed set, ready for jose, with the key ids it holds. */
export interface KeySet {
  readonly getKey: ReturnType<typeof createLocalJWKSet>;
  /**
   * The keys without a kid, when the set has some: Envoy's jwt_verify_lib tries them for a
   * token that names a kid too, where jose's getKey looks only at keys with that kid.
   */
  readonly kidless?: ReturnType<typeof createLocalJWKSet>;
  readonly kids: ReadonlySet<string>;
}

/**
 * Parse a JWKS document (attacker-controlled when fetched). Throws ChioError('MALFORMED') with
 * jwt_verify_lib's wording for the first problem found.
 */
export function parseJwks(text: string): KeySet {
  if (text.length > MAX_JWKS_BYTES) throw new ChioError('MALFORMED', `Jwks is larger than ${MAX_JWKS_BYTES} bytes`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (cause) {
    throw new ChioError('MALFORMED', 'Jwks is an invalid JSON', { cause });
  }
  if (!isJsonObject(doc)) throw new ChioError('MALFORMED', 'Jwks is an invalid JSON');
  if (!('keys' in doc)) throw new ChioError('MALFORMED', 'Jwks does not have [keys] field');
  if (!Array.isArray(doc.keys)) throw new ChioError('MALFORMED', '[keys] in Jwks is not an array');
  if (doc.keys.length > MAX_JWKS_KEYS) throw new ChioError('MALFORMED', `Jwks has more than ${MAX_JWKS_KEYS} keys`);
  const keys = doc.keys.filter(isPublicJwk);
  if (keys.length === 0) throw new ChioError('MALFORMED', "Jwks doesn't have any valid public key");
  const jwks: JSONWebKeySet = { keys };
  const kidless = keys.filter((k) => k.kid === undefined);
  return {
    getKey: createLocalJWKSet(jwks),
    ...(kidless.length > 0 ? { kidless: createLocalJWKSet({ keys: kidless }) } : {}),
    kids: new Set(keys.flatMap((k) => (typeof k.kid === 'string' ? [k.kid] : []))),
  };
}

/**
 * The private or symmetric members (`d`, `k`…) the keys of a JWKS document hold, by name;
 * [] when none, or when `text` is no JWKS (parseJwks says why).
 */
export function secretJwkMembers(text: string): string[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return [];
  }
  if (!isJsonObject(doc) || !Array.isArray(doc.keys)) return [];
  const found = new Set<string>();
  for (const key of doc.keys) if (isJsonObject(key)) for (const m of SECRET_MEMBERS) if (Object.hasOwn(key, m)) found.add(m);
  return [...found];
}

/** Read and parse a JWKS file (configuration, read once when the policies load). */
export function readJwksFile(path: string): KeySet {
  let text: string;
  try {
    text = readRegularFile(path, MAX_JWKS_BYTES).toString('utf8');
  } catch (cause) {
    // Refused as it is (a FIFO, a device, too large) or, when it cannot be opened, not found.
    if (cause instanceof UnreadableFile) throw new ChioError('NOT_FOUND', `cannot read ${path}`, { cause });
    throw new ChioError('MALFORMED', (cause as Error).message, { cause });
  }
  return parseJwks(text);
}


function isPublicJwk(value: unknown): value is JWK {
  if (!isJsonObject(value) || typeof value.kty !== 'string' || !PUBLIC_KTYS.has(value.kty)) return false;
  if (SECRET_MEMBERS.some((m) => Object.hasOwn(value, m))) return false;
  if (value.kid !== undefined && typeof value.kid !== 'string') return false;
  try {
    if (createPublicKey({ key: value as NodeJwk, format: 'jwk' }).type !== 'public') return false;
    // node:crypto takes a small-order R with S = 0 under a small-order Ed25519 key (under the
    // identity, for every token): such a key, which no one holds the secret of, is dropped.
    return value.kty !== 'OKP' || value.crv !== 'Ed25519' || canHoldSignatures(fromBase64Url(String(value.x)));
  } catch {
    return false;
  }
}

export interface RemoteJwksOptions {
  fetchTimeoutMs: number;
  cacheTtlMs: number;
  minRefreshIntervalMs: number;
  /** How long past `cacheTtlMs` a set answers for its keys while a new one is fetched. */
  maxStaleMs: number;
  /** The clock for cache ages (milliseconds). */
  now: () => number;
  fetch: typeof fetch;
}

/** The cached key set of one `jwksUri` (see the contract at the top of this file). */
export class RemoteJwks {
  readonly uri: string;
  readonly #opts: RemoteJwksOptions;
  #current: { keys: KeySet; fetchedAt: number } | undefined;
  #lastAttemptAt: number | undefined;
  #inFlight: Promise<KeySet> | undefined;

  constructor(uri: string, opts: RemoteJwksOptions) {
    this.uri = uri;
    this.#opts = opts;
  }

  /**
   * The set to verify a token with key id `kid` by `deadline`. Throws ChioError ('UNAVAILABLE',
   * 'TIMEOUT' or 'MALFORMED') when no usable set can be had in time; never waits past `deadline`.
   */
  async keysFor(kid: string | undefined, deadline: number): Promise<KeySet> {
    const now = this.#opts.now();
    const current = this.#current;
    const age = current === undefined ? Infinity : now - current.fetchedAt;
    const fresh = age < this.#opts.cacheTtlMs;
    const holdsKey = current !== undefined && (kid === undefined || current.keys.kids.has(kid));
    if (fresh && holdsKey) {
      jwksHits.inc();
      return current.keys;
    }
    if (holdsKey && age < this.#opts.cacheTtlMs + this.#opts.maxStaleMs) {
      jwksStale.inc();
      this.#refresh(now);
      return current.keys;
    }
    jwksMisses.inc();
    if (!this.#refresh(now)) {
      if (fresh) return current!.keys;
      throw new ChioError('UNAVAILABLE', `JWKS ${this.uri}: no key set, and the last fetch began less than ${this.#opts.minRefreshIntervalMs} ms ago`);
    }
    return beforeDeadline(this.#inFlight!, deadline, `JWKS ${this.uri}`);
  }

  /**
   * Start a fetch unless one is in flight or the last began less than minRefreshIntervalMs ago;
   * whether a fetch is in flight now.
   */
  #refresh(now: number): boolean {
    if (this.#inFlight !== undefined) return true;
    if (this.#lastAttemptAt !== undefined && now - this.#lastAttemptAt < this.#opts.minRefreshIntervalMs) return false;
    this.#lastAttemptAt = now;
    // `.finally` runs after this assignment, so a settled fetch never lingers as in-flight.
    this.#inFlight = this.#fetchKeys().finally(() => {
      this.#inFlight = undefined;
    });
    // Every waiter handles the outcome; this keeps a fetch nobody waits for quiet.
    this.#inFlight.catch(() => undefined);
    return true;
  }

  /** Start fetching now if nothing is known yet (at policy load), so no Check waits for it. */
  prefetch(): void {
    if (this.#current !== undefined || this.#inFlight !== undefined) return;
    this.keysFor(undefined, Date.now() + this.#opts.fetchTimeoutMs).catch(() => undefined);
  }

  // The fetch has its own budget (fetchTimeoutMs), not the first waiter's deadline: an identity
  // provider slower than one Check's budget still gets its keys fetched, while every waiter
  // gives up at its own deadline (keysFor).
  async #fetchKeys(): Promise<KeySet> {
    try {
      const keys = await this.#fetchAndParse();
      jwksFetchesOk.inc();
      return keys;
    } catch (err) {
      // What the alert ChioJwksFetchFailing reads: lookups answered stale hide a failing endpoint
      // for 24 h, and after that every JWT of the issuer is a miss and denied.
      jwksFetchesFailed.inc();
      throw err;
    }
  }

  async #fetchAndParse(): Promise<KeySet> {
    const budget = this.#opts.fetchTimeoutMs;
    let text: string;
    try {
      const res = await this.#fetchFollowing(AbortSignal.timeout(budget));
      if (!res.ok) {
        await res.body?.cancel();
        throw new ChioError('UNAVAILABLE', `JWKS ${this.uri}: HTTP ${res.status}`);
      }
      text = await readBounded(res, MAX_JWKS_BYTES);
    } catch (cause) {
      if (cause instanceof ChioError) throw cause;
      throw new ChioError('UNAVAILABLE', `JWKS ${this.uri}: fetch failed`, { cause });
    }
    const keys = parseJwks(text);
    this.#current = { keys, fetchedAt: this.#opts.now() };
    return keys;
  }

  /**
   * GET the JWKS, following at most MAX_JWKS_REDIRECTS redirects, none from https to http. Each
   * GET is sent once more if its kept-alive connection is lost before an answer
   * (src/http-get-retry.ts): a refetch lost so would deny a token signed with a rotated-in key
   * until the next fetch may start (minRefreshIntervalMs).
   */
  async #fetchFollowing(signal: AbortSignal): Promise<Response> {
    let url = new URL(this.uri);
    for (let hop = 0; ; hop++) {
      const res = await getOnceMoreIfLost(url, { signal, redirect: 'manual', headers: { accept: 'application/json' } }, this.#opts.fetch);
      const location = res.status >= 300 && res.status < 400 ? res.headers.get('location') : null;
      if (location === null) return res;
      await res.body?.cancel();
      const next = new URL(location, url);
      if (hop >= MAX_JWKS_REDIRECTS) throw new ChioError('UNAVAILABLE', `JWKS ${this.uri}: more than ${MAX_JWKS_REDIRECTS} redirects`);
      if (next.protocol !== 'https:' && (url.protocol === 'https:' || next.protocol !== 'http:')) {
        throw new ChioError('UNAVAILABLE', `JWKS ${this.uri}: redirected from ${url.protocol} to ${next.protocol}, which is not followed`);
      }
      url = next;
    }
  }
}

/**
 * Redirects a JWKS fetch follows: a few, and never from https to http, where anyone on the path
 * could answer with keys of their own (fetch's own following allows that downgrade).
 */
export const MAX_JWKS_REDIRECTS = 3;

/** The body as UTF-8 text, refusing more than `max` bytes without reading them all. */
async function readBounded(res: Response, max: number): Promise<string> {
  const { bytes, whole } = await readResponseBody(res, max);
  if (!whole) throw new ChioError('MALFORMED', `Jwks is larger than ${max} bytes`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (cause) {
    throw new ChioError('MALFORMED', 'Jwks is an invalid JSON', { cause });
  }
}
