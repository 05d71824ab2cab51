/**
 * The host policies match on (SPEC §4). Istio matches `hosts` case-insensitively (on the whole
 * authority; matching without the port is SPEC §4's rule, policy/match.ts); an upstream (or
 * DNS) treats `Admin.Example.com.`, `admin.example.com:` and `admin.example.com` as one host. So every spelling is brought to one form before any
 * policy or grant looks at it:
 *
 *   1. the authority must be a plain `host[:port]`: no userinfo (`user:pass@`), no spaces,
 *      no control characters, no percent-escapes — anything else is refused (Request guard);
 *   2. an IPv6 literal stays bracketed and is lower-cased; it must be a valid address;
 *   3. a name is lower-cased and turned to its ASCII (IDNA / punycode) form; one trailing dot
 *      is dropped; empty labels (`a..b`, `.a`) and characters outside letters, digits, `-`,
 *      `_` and `.` are refused;
 *   4. an empty port (`host:`) is dropped; a port is 1–65535 without leading zeros;
 *   5. IP addresses get their one canonical spelling, as the WHATWG URL parser (and so
 *      browsers, Node and most resolvers) reads them: `[0:0::1]` is `[::1]`, an IPv4-mapped
 *      `[::ffff:a9fe:a9fe]` is the IPv4 address `169.254.169.254` it reaches, and a name whose
 *      last label is a number — `2852039166`, `0xa9fea9fe`, `0251.0376.0251.0376`,
 *      `169.254.43518` — is the IPv4 address `169.254.169.254`; one that is no valid address
 *      (`1.2.3.4.5`, `foo.123`) is refused.
 *
 * The result is `name` or `name:port`; host patterns without a port then match it with any
 * port (policy/match.ts).
 */
import { domainToASCII } from 'node:url';
import { isIPv6 } from 'node:net';
import { ChioError } from '../errors/index.js';

/** Longest host name (RFC 1035 §2.3.4), before the port. */
export const MAX_HOST_NAME_CHARS = 253;

const NAME = /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/;

/** The normalised authority of a request; '' stays ''. Throws REQUEST_MALFORMED when refused. */
export function normalizeHost(authority: string): string {
  if (authority === '') return '';
  const refuse = (why: string) => new ChioError('REQUEST_MALFORMED', `host ${why}`);
  if (authority.includes('@')) throw refuse('has userinfo');
  if (/\s/.test(authority)) throw refuse('has a space');
  if (/[\u0000-\u001f\u007f]/.test(authority)) throw refuse('has a control character');
  if (authority.includes('%')) throw refuse('has a percent-escape');
  const { name, port } = splitPort(authority, refuse);
  const host = name.startsWith('[') ? normalizeIpv6(name, refuse) : normalizeName(name, refuse);
  return port === undefined ? host : `${host}:${port}`;
}

function splitPort(authority: string, refuse: (why: string) => ChioError): { name: string; port?: number } {
  const bracket = authority.lastIndexOf(']');
  const colon = authority.lastIndexOf(':');
  if (colon < 0 || colon < bracket) return { name: authority };
  const name = authority.slice(0, colon);
  const digits = authority.slice(colon + 1);
  if (digits === '') return { name };
  if (!/^[1-9][0-9]{0,4}$/.test(digits) || Number(digits) > 65535) throw refuse('has an invalid port');
  return { name, port: Number(digits) };
}

function normalizeIpv6(name: string, refuse: (why: string) => ChioError): string {
  const inner = name.slice(1, -1);
  if (!name.endsWith(']') || !isIPv6(inner)) throw refuse('is not a valid IPv6 literal');
  return canonicalIp(name) ?? `[${inner.toLowerCase()}]`;
}

/** A last label that makes the WHATWG parser read the whole name as IPv4 (RFC 3986 leaves it open). */
const NUMERIC_LABEL = /(^|\.)(0x[0-9a-f]*|[0-9]+)$/;

/**
 * The canonical spelling of an IP host (`[…]` for IPv6, dotted quad for IPv4) by the WHATWG
 * URL parser; undefined when `name` is no IP address in its eyes, or not a valid one.
 */
export function canonicalIp(name: string): string | undefined {
  if (!name.startsWith('[') && !NUMERIC_LABEL.test(name)) return undefined;
  let hostname: string;
  try {
    hostname = new URL(`http://${name}/`).hostname;
  } catch {
    return undefined;
  }
  // An IPv4-mapped IPv6 address is the IPv4 address a socket reaches (RFC 4291 §2.5.5.2).
  const mapped = /^\[::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})\]$/.exec(hostname);
  if (!mapped) return hostname;
  const [hi, lo] = [parseInt(mapped[1]!, 16), parseInt(mapped[2]!, 16)];
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

function normalizeName(name: string, refuse: (why: string) => ChioError): string {
  // An unbracketed colon left after the port was split off: a bare IPv6 or a second port.
  if (name.includes(':') || name.includes('[') || name.includes(']')) throw refuse('is not a valid authority');
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  // domainToASCII lower-cases and applies IDNA; it answers '' for what it cannot convert.
  const ascii = /^[\x21-\x7e]*$/.test(trimmed) ? trimmed.toLowerCase() : domainToASCII(trimmed);
  if (ascii === '' || ascii.length > MAX_HOST_NAME_CHARS || !NAME.test(ascii)) throw refuse('is not a valid host name');
  if (!NUMERIC_LABEL.test(ascii)) return ascii;
  const ip = canonicalIp(ascii);
  if (ip === undefined) throw refuse('is not a valid IPv4 address');
  return ip;
}
