/**
 * A bounded cache of verified credentials, keyed by the credential's SHA-256 (SPEC §3: an
 * Ed25519 verify costs more than a whole bare Check). An entry is never returned at or past its
 * expiry; when full, the least recently used entry goes. Policy reloads start a new cache, so
 * a change of trusted issuers takes effect at once.
 */

/** Entries kept at most. */
export const DEFAULT_VERIFICATION_CACHE_SIZE = 10_000;

export class VerificationCache<T> {
  private readonly entries = new Map<string, { value: T; expiresAt: number }>();

  constructor(private readonly maxEntries = DEFAULT_VERIFICATION_CACHE_SIZE) {}

  /** The cached value, if present and `nowSeconds < expiresAt`. */
  get(key: string, nowSeconds: number): T | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    if (nowSeconds >= entry.expiresAt) return undefined;
    this.entries.set(key, entry); // most recently used goes last
    return entry.value;
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
