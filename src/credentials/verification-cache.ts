/**
 * A bounded cache of verified credentials, keyed by the credential's SHA-256 (SPEC §3: an
 * Ed25519 verify costs more than a whole bare Check; an RS256 or ES256 JWT's several times a
 * whole Check). An entry is never returned at or past its expiry, nor when the caller says it no
 * longer holds (a JWT's key set has changed since); when full, the least recently used entry
 * goes. Policy reloads start a new cache, so a change of trusted issuers takes effect at once.
 */

import { cacheLookupsTotal } from '../metrics.js';

/** Entries kept at most. */
export const DEFAULT_VERIFICATION_CACHE_SIZE = 10_000;

export class VerificationCache<T> {
  private readonly entries = new Map<string, { value: T; expiresAt: number }>();
  // Bound once: a labelled inc() per lookup would hash the labels on the Check path.
  private readonly hits;
  private readonly misses;

  /** `name` is the `cache` label of chio_cache_lookups_total. */
  constructor(private readonly maxEntries = DEFAULT_VERIFICATION_CACHE_SIZE, name = 'capability') {
    this.hits = cacheLookupsTotal.labels(name, 'hit');
    this.misses = cacheLookupsTotal.labels(name, 'miss');
  }

  /**
   * The cached value, if present, `nowSeconds < expiresAt` and `holds(value)`. An entry that
   * fails either is dropped and the lookup is a miss.
   */
  get(key: string, nowSeconds: number, holds?: (value: T) => boolean): T | undefined {
    const entry = this.entries.get(key);
    if (!entry) return this.miss();
    this.entries.delete(key);
    if (nowSeconds >= entry.expiresAt || (holds !== undefined && !holds(entry.value))) return this.miss();
    this.entries.set(key, entry); // most recently used goes last
    this.hits.inc();
    return entry.value;
  }

  private miss(): undefined {
    this.misses.inc();
    return undefined;
  }

  set(key: string, value: T, expiresAt: number): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  get size(): number {
    return this.entries.size;
  }
}
