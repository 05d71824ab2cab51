/**
 * Istio-style string patterns, used by AuthorizationPolicy fields and capability grants:
 * an exact value, `prefix*`, `*suffix`, or `*` (any non-empty value). Host patterns compare
 * case-insensitively, and a pattern without a port matches the host with any port, as Istio does.
 */

/** True when `value` matches the Istio pattern. */
export function matchPattern(pattern: string, value: string): boolean {
  if (pattern === '*') return value.length > 0;
  if (pattern.endsWith('*')) return value.startsWith(pattern.slice(0, -1));
  if (pattern.startsWith('*')) return value.endsWith(pattern.slice(1));
  return pattern === value;
}

export function matchAny(patterns: readonly string[], value: string): boolean {
  return patterns.some((p) => matchPattern(p, value));
}

/** Host matching: case-insensitive; a pattern without a port ignores the request's port. */
export function matchHost(pattern: string, host: string): boolean {
  const h = host.toLowerCase();
  const p = pattern.toLowerCase();
  if (matchPattern(p, h)) return true;
  return !hasPort(p) && hasPort(h) && matchPattern(p, stripPort(h));
}

export function matchAnyHost(patterns: readonly string[], host: string): boolean {
  return patterns.some((p) => matchHost(p, host));
}

function hasPort(host: string): boolean {
  return /:\d+$/.test(host) && !host.endsWith(']');
}

function stripPort(host: string): string {
  return host.replace(/:\d+$/, '');
}
