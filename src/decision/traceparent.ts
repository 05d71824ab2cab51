/**
 * The W3C Trace Context `traceparent` header (W3C Recommendation "Trace Context", §3.2), as a
 * receipt and the log lines of a Check record it:
 *
 *   traceparent = version "-" trace-id "-" parent-id "-" trace-flags
 *   version     = 2 lower-case hex digits; only "00" is recorded
 *   trace-id    = 32 lower-case hex digits, not all zero
 *   parent-id   = 16 lower-case hex digits, not all zero
 *   trace-flags = 2 lower-case hex digits
 *
 * e.g. `00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01` (55 characters).
 *
 * The header is attacker-controlled: a value that is not exactly this is not recorded at all
 * (never cut or repaired), and neither is a repeated header (Chio joins repeats with ",", which
 * no valid value contains). Versions above 00 may carry more fields the spec does not define
 * yet; rather than record what it cannot check, Chio leaves them out.
 */

/** Length of a version-00 traceparent. */
export const TRACEPARENT_LENGTH = 55;

const VERSION_00 = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;
const ALL_ZERO = /^0+$/;

/** The value to record, or undefined when the header is absent or not a valid version-00 traceparent. */
export function parseTraceparent(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  // Optional whitespace around a header value is not part of it (RFC 9110 §5.5).
  const value = header.length <= TRACEPARENT_LENGTH + 8 ? header.trim() : '';
  const m = VERSION_00.exec(value);
  if (!m || ALL_ZERO.test(m[1]!) || ALL_ZERO.test(m[2]!)) return undefined;
  return value;
}
