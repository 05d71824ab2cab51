/**
 * Time helpers shared by the services: giving up at a deadline, the clock skew credentials are
 * allowed, and the durations that policy files and the CLI write (`30s`, `30m`, `1h`, `7d`).
 */
import { ChioError } from './errors/index.js';

/**
 * Clock skew tolerated on credential times (JWT exp/nbf, capability issued_at/expires_at), in
 * seconds: Envoy jwt_authn's default clock_skew_seconds, so that both kinds of credential
 * expire alike under the same clocks.
 */
export const DEFAULT_CLOCK_SKEW_SECONDS = 60;

/**
 * `work`, or ChioError('TIMEOUT') at `deadline` (absolute ms, real clock), whichever settles
 * first. The work is left to settle on its own; a late rejection of it is expected, not an
 * unhandled one.
 */
export function beforeDeadline<T>(work: Promise<T>, deadline: number, what: string): Promise<T> {
  work.catch(() => undefined);
  const ms = deadline - Date.now();
  if (ms <= 0) return Promise.reject(new ChioError('TIMEOUT', `${what}: deadline passed`));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ChioError('TIMEOUT', `${what}: deadline passed`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** The largest |ms since the epoch| a Date holds (ECMA-262 §21.4.1.1). */
const MAX_DATE_MS = 8.64e15;
let isoSecond = NaN;
let isoPrefix = '';

/**
 * `new Date(ms).toISOString()`, the same string, without building a Date and its text on
 * every Check (about 0.45 µs of each): the text up to the second is kept from the last call,
 * which at a few thousand Checks a second was the same second.
 */
export function isoTime(ms: number): string {
  if (!Number.isInteger(ms) || Math.abs(ms) > MAX_DATE_MS) return new Date(ms).toISOString();
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    isoPrefix = new Date(second * 1000).toISOString().slice(0, -4); // '….000Z' without '000Z'
    isoSecond = second;
  }
  const milli = ms - second * 1000;
  return `${isoPrefix}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
}

/** A duration like `30s`, `30m`, `1h`, `7d`. */
export const DURATION_PATTERN = /^(\d+)([smhd])$/;
const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400 } as const;

/** Seconds in a duration, or undefined when `text` is not one. */
export function durationSeconds(text: string): number | undefined {
  const m = DURATION_PATTERN.exec(text);
  return m ? Number(m[1]) * UNIT_SECONDS[m[2] as keyof typeof UNIT_SECONDS] : undefined;
}
