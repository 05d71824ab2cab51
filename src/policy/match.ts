/**
 * Istio-style string patterns, used by AuthorizationPolicy fields and capability grants:
 * an exact value, `prefix*`, `*suffix`, or `*` (any non-empty value). Host patterns compare
 * case-insensitively, and a pattern without a port matches the host with any port: SPEC §4's
 * rule ("matched with and without its port"), where Istio compares the whole authority.
 */
import { domainToASCII } from 'node:url';
import { canonicalIp } from '../decision/host.js';

/**
 * True when `value` matches the Istio pattern. A leading `*` is tried before a trailing one, as
 * Istio's StringMatcher does, so `*admin*` is the suffix `admin*`: read as the prefix `*admin`,
 * a DENY on the header value `evil-admin*` that Istio denies let it through.
 */
export function matchPattern(pattern: string, value: string): boolean {
  if (pattern === '*') return value.length > 0;
  if (pattern.startsWith('*')) return value.endsWith(pattern.slice(1));
  if (pattern.endsWith('*')) return value.startsWith(pattern.slice(0, -1));
  return pattern === value;
}

export function matchAny(patterns: readonly string[], value: string): boolean {
  return patterns.some((p) => matchPattern(p, value));
}

/**
 * A host pattern in the form request hosts are matched in (normalizeHostPattern): made once,
 * when a policy loads or a capability token is read, never on the Check path.
 */
export type HostPattern = string & { readonly hostPattern: unique symbol };

/** Host patterns as written, each brought to its HostPattern. */
export function hostPatterns(written: readonly string[]): HostPattern[] {
  return written.map(normalizeHostPattern);
}

/**
 * Host matching: case-insensitive; a pattern without a port ignores the request's port. The
 * request's host arrives normalised (decision/host.ts); the pattern was brought to the same
 * form when it was read — ASCII (IDNA), no trailing dot — so that a rule written
 * `Admin.Example.com.` or in Unicode still matches every spelling of its host.
 */
export function matchAnyHostPattern(patterns: readonly HostPattern[], host: string): boolean {
  const h = host.toLowerCase();
  // The host without its port, for the patterns without one; worked out once per host.
  const portless = hasPort(h) ? stripPort(h) : undefined;
  return patterns.some((p) => matchPattern(p, h) || (portless !== undefined && !hasPort(p) && matchPattern(p, portless)));
}

function hasPort(host: string): boolean {
  return /:\d+$/.test(host) && !host.endsWith(']');
}

function stripPort(host: string): string {
  return host.replace(/:\d+$/, '');
}

/** A host pattern in the form request hosts are matched in: lower case, ASCII, no trailing dot, no empty port. */
export function normalizeHostPattern(written: string): HostPattern {
  // An empty port is no port, as in a request host (decision/host.ts step 4): kept, the pattern
  // matched no host, and `hosts: [admin.example.com:]` in a DENY denied nothing.
  const pattern = /[^:]:$/.test(written) ? written.slice(0, -1) : written;
  const port = /:(\d+|\*)$/.exec(pattern)?.[0] ?? '';
  let name = pattern.slice(0, pattern.length - port.length).toLowerCase();
  if (name.endsWith('.') && name.length > 1) name = name.slice(0, -1);
  // IDNA for a name in Unicode; a leading or trailing `*` stays as it is.
  if (!/^[\x00-\x7f]*$/.test(name)) {
    const lead = name.startsWith('*') ? '*' : '';
    const trail = !lead && name.endsWith('*') ? '*' : '';
    const core = name.slice(lead.length, name.length - trail.length);
    const dot = core.startsWith('.') ? '.' : '';
    const ascii = domainToASCII(core.slice(dot.length));
    if (ascii !== '') name = `${lead}${dot}${ascii}${trail}`;
  }
  // IP hosts in their one canonical spelling, as request hosts are (decision/host.ts).
  if (!name.includes('*')) name = canonicalIp(name) ?? name;
  return `${name}${port}` as HostPattern;
}
