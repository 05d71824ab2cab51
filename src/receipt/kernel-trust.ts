/**
 * Which kernel keys a receipt may be signed by, and when (docs/configuration.md, "Rotating the
 * kernel key"). A trust set is a list of C2SP verifier keys, each with an optional validity
 * window on the receipt's own `time`: `not_before <= time <= not_after`, both inclusive (as
 * X.509's validity period). A key being retired gets a `not_after`: receipts it signed before
 * then — still in flight, or integrated long ago — stay trusted, later ones do not.
 *
 * The time compared is the one the receipt states, signed by the same key: a window bounds
 * routine rotation, not a stolen key (a thief can backdate). A compromised key is removed.
 *
 * Pure and portable (no node:): the ledger, the verifier, `chio prove` and the explorer share it.
 * A plain list of keys is still a trust set: every key in it, without a window.
 */
import { ChioError } from '../errors/index.js';
import { KEY_NO_ONE_HOLDS, canHoldSignatures, parseVerifierKey } from '../tlog/note.js';

/** One trusted kernel key, as written in kernels.yaml and listed by GET /v1/keys. */
export interface TrustedKernelKey {
  /** C2SP verifier key: `<name>+<hex key id>+<base64>`. */
  readonly key: string;
  /** RFC 3339: receipts stating an earlier time are not trusted under this key. */
  readonly not_before?: string;
  /** RFC 3339: receipts stating a later time are not trusted under this key. */
  readonly not_after?: string;
}

/** Most keys one set may hold: a rotation needs two or three; the signature check caches each one's parse. */
export const MAX_TRUSTED_KERNEL_KEYS = 32;

interface Window {
  notBefore?: bigint;
  notAfter?: bigint;
}

/** A validated trust set; build it with `new KernelTrustSet(entries)` (throws MALFORMED/KEY_INVALID naming the entry). */
export class KernelTrustSet {
  readonly entries: readonly TrustedKernelKey[];
  private readonly windows = new Map<string, Window>();

  constructor(entries: readonly TrustedKernelKey[]) {
    if (entries.length > MAX_TRUSTED_KERNEL_KEYS) throw new ChioError('MALFORMED', `more than ${MAX_TRUSTED_KERNEL_KEYS} kernel keys`);
    entries.forEach((entry, i) => {
      const where = `entry ${i + 1}`;
      let publicKey: Uint8Array;
      try {
        ({ publicKey } = parseVerifierKey(entry.key));
      } catch (err) {
        // The parser's reason never quotes the key.
        throw new ChioError('KEY_INVALID', `${where}: not a C2SP verifier key (${(err as Error).message})`, { cause: err });
      }
      // The ledger's threads check with node:crypto, which takes a forgery under such a key.
      if (!canHoldSignatures(publicKey)) throw new ChioError('KEY_INVALID', `${where}: ${KEY_NO_ONE_HOLDS}`);
      if (this.windows.has(entry.key)) throw new ChioError('MALFORMED', `${where}: ${entry.key} is listed twice (which window would hold?)`);
      const window: Window = {};
      if (entry.not_before !== undefined) window.notBefore = boundOf(entry.not_before, `${where}: not_before`);
      if (entry.not_after !== undefined) window.notAfter = boundOf(entry.not_after, `${where}: not_after`);
      if (window.notBefore !== undefined && window.notAfter !== undefined && window.notBefore > window.notAfter) {
        throw new ChioError('MALFORMED', `${where}: not_before ${entry.not_before} is after not_after ${entry.not_after}`);
      }
      this.windows.set(entry.key, window);
    });
    // Copies: a caller's array changed later cannot change what this set trusts.
    this.entries = entries.map((e) => ({ ...e }));
  }

  /** Every trusted key, windowed or not, in the order given. */
  get keys(): string[] {
    return this.entries.map((e) => e.key);
  }

  /** Throws UNTRUSTED_KEY unless `kernelKey` is in the set and `time` (the receipt's) is inside its window. */
  check(kernelKey: string, time: string): void {
    const window = this.windows.get(kernelKey);
    if (!window) throw new ChioError('UNTRUSTED_KEY', 'receipt is signed by an untrusted kernel key');
    if (window.notBefore === undefined && window.notAfter === undefined) return;
    const at = rfc3339Nanos(time);
    if (at === undefined) throw new ChioError('UNTRUSTED_KEY', 'receipt time is not an RFC 3339 time, so it cannot be placed in its kernel key\'s validity window');
    if (window.notBefore !== undefined && at < window.notBefore) throw new ChioError('UNTRUSTED_KEY', `receipt time ${time} is before its kernel key's not_before`);
    if (window.notAfter !== undefined && at > window.notAfter) throw new ChioError('UNTRUSTED_KEY', `receipt time ${time} is after its kernel key's not_after (the key is retired)`);
  }
}

/** What verifiers take: a trust set, or a plain list of keys (trusted at any time). */
export type KernelKeys = readonly string[] | KernelTrustSet;

/** Throws UNTRUSTED_KEY unless the receipt's `kernel_key` is trusted for its `time`. */
export function checkKernelKey(trust: KernelKeys, kernelKey: string, time: string): void {
  if (trust instanceof KernelTrustSet) return trust.check(kernelKey, time);
  if (!trust.includes(kernelKey)) throw new ChioError('UNTRUSTED_KEY', 'receipt is signed by an untrusted kernel key');
}

/** The keys of a trust set or list. */
export function kernelKeyList(trust: KernelKeys): readonly string[] {
  return trust instanceof KernelTrustSet ? trust.keys : trust;
}

/** The entries of a trust set or list (a list's keys have no window). */
export function kernelKeyEntries(trust: KernelKeys): readonly TrustedKernelKey[] {
  return trust instanceof KernelTrustSet ? trust.entries : trust.map((key) => ({ key }));
}

/**
 * A trust set as GET /v1/keys and an export manifest publish it: `kernels`, every key (a plain
 * list, as older readers take it), and `kernel_windows`, one entry per key in that order, only
 * when some key has a window.
 */
export function publishedKernelKeys(trust: KernelKeys): { kernels: string[]; kernel_windows?: TrustedKernelKey[] } {
  const entries = kernelKeyEntries(trust);
  const windowed = entries.some((e) => e.not_before !== undefined || e.not_after !== undefined);
  return { kernels: [...kernelKeyList(trust)], ...(windowed ? { kernel_windows: entries.map((e) => ({ ...e })) } : {}) };
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/**
 * Nanoseconds since the epoch of an RFC 3339 time (`2025-06-01T12:00:00Z`, fractions to the
 * nanosecond, any offset), or undefined when `text` is not one or names no calendar time.
 * Exact where Date.parse is not: it accepts other forms and drops digits past the millisecond,
 * so a receipt a microsecond after a not_after would pass.
 */
export function rfc3339Nanos(text: string): bigint | undefined {
  const m = typeof text === 'string' ? RFC3339.exec(text) : null;
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  const d = new Date(ms);
  // Date.UTC rolls 2025-02-30 over into March and 24:00 into the next day: refuse, not move.
  if (year < 1 || d.getUTCFullYear() !== year || d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day || d.getUTCHours() !== hour || d.getUTCMinutes() !== minute || d.getUTCSeconds() !== second) return undefined;
  const fraction = BigInt((m[7] ?? '').padEnd(9, '0'));
  let offsetMinutes = 0;
  if (m[8] === undefined) {
    const [offH, offM] = [Number(m[10]), Number(m[11])];
    if (offH > 23 || offM > 59) return undefined;
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (offH * 60 + offM);
  }
  return (BigInt(ms) - BigInt(offsetMinutes) * 60_000n) * 1_000_000n + fraction;
}

function boundOf(text: string, what: string): bigint {
  const at = rfc3339Nanos(text);
  if (at === undefined) throw new ChioError('MALFORMED', `${what} ${JSON.stringify(text)} is not an RFC 3339 time like 2025-06-01T12:00:00Z`);
  return at;
}
