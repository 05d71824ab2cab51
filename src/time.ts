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

/** A duration like `30s`, `30m`, `1h`, `7d`. */
export const DURATION_PATTERN = /^(\d+)([smhd])$/;
const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400 } as const;

/** Seconds in a duration, or undefined when `text` is not one. */
export function durationSeconds(text: string): number | undefined {
  const m = DURATION_PATTERN.exec(text);
  return m ? Number(m[1]) * UNIT_SECONDS[m[2] as keyof typeof UNIT_SECONDS] : undefined;
}
