/**
 * The Kubernetes CEL IP and CIDR libraries, which kyverno-authz's CEL environment has
 * (kubernetes.io "CEL in Kubernetes": IP address library, CIDR library), with their overloads:
 *
 *   ip(string) → net.IP                 error unless an address (./k8s-ip-address.ts says which)
 *   isIP(string) → bool
 *   ip.isCanonical(string) → bool       the text is the address's one canonical form; error
 *                                       unless an address
 *   <net.IP>.family() → int             4 or 6
 *   <net.IP>.isUnspecified(), .isLoopback(), .isLinkLocalMulticast(), .isLinkLocalUnicast(),
 *   .isGlobalUnicast() → bool
 *   cidr(string) → net.CIDR             error unless a CIDR
 *   isCIDR(string) → bool
 *   <net.CIDR>.containsIP(net.IP | string) → bool        a string that is no address is an error
 *   <net.CIDR>.containsCIDR(net.CIDR | string) → bool    a string that is no CIDR is an error
 *   <net.CIDR>.ip() → net.IP            its address as written (`cidr('10.0.0.1/8').ip()` is 10.0.0.1)
 *   <net.CIDR>.masked() → net.CIDR      the bits past the prefix cleared
 *   <net.CIDR>.prefixLength() → int
 *   string(net.IP), string(net.CIDR) → string    the canonical text
 *   ==, != on two net.IP or two net.CIDR  (a CIDR compares its address as written: `cidr('10.0.0.1/8')
 *                                       != cidr('10.0.0.1/8').masked()`)
 *
 * Not here: the type names as values (`type(x) == net.IP`). A failed conversion is an
 * evaluation error whose message does not quote the request's text.
 *
 * Each call on a string reads at most MAX_CIDR_CHARS of it, longer texts being refused unread,
 * and charges PARSE_CHARGE, and each conversion to a string what it builds, to the Check's
 * string budget (chargeScan), as ./bounded-strings.ts does: one node of the cost estimate is a
 * bounded amount of work, so a comprehension of them is bounded by the estimate too.
 */
import { EvaluationError, type Environment } from '@marcbachmann/cel-js';
import { chargeScan } from './cel-bounds.js';
import {
  CIDRPrefix, IPAddress, MAX_CIDR_CHARS, cidrContainsCIDR, cidrContainsIP, formatCIDRPrefix, formatIPAddress, isGlobalUnicast,
  isLinkLocalMulticast, isLinkLocalUnicast, isLoopback, isUnspecified, maskCIDRPrefix, parseCIDRPrefix, parseIPAddress,
} from './k8s-ip-address.js';

/** The `ip` identifier, namespace of `ip.isCanonical` (as cel-go names the function). */
class IpNamespace {}

const invalid = (code: string, message: string) => new EvaluationError({ code, message } as never);

/**
 * What parsing one text counts, whatever its length: a text longer than MAX_CIDR_CHARS is
 * refused unread, and a parse took up to 2 µs (Node 20, CPU time: 25 M characters a second
 * charged by length), as long as the slowest string calls take for 300 characters (150 M a
 * second, ./cel-bounds.ts MAX_SCANNED_CHARS).
 */
export const PARSE_CHARGE = 300;

const charged = (text: string): string => {
  chargeScan(PARSE_CHARGE);
  return text;
};

export function toIPAddress(text: string): IPAddress {
  const ip = parseIPAddress(charged(text));
  if (typeof ip === 'string') throw invalid('invalid_ip', `ip: not an IP address: ${ip}`);
  return ip;
}

export function toCIDRPrefix(text: string): CIDRPrefix {
  const prefix = parseCIDRPrefix(charged(text));
  if (typeof prefix === 'string') throw invalid('invalid_cidr', `cidr: not a CIDR: ${prefix}`);
  return prefix;
}

/** `ip.isCanonical(text)`: an error, as ip(text) is, when the text is no address at all. */
export function isCanonicalIP(text: string): boolean {
  return formatIPAddress(toIPAddress(text)) === text;
}

const toText = (text: string): string => {
  chargeScan(text.length);
  return text;
};

/** Adds the `net.IP` and `net.CIDR` types, the `ip` namespace and the functions above to `env`. */
export function registerKubernetesIpLibrary(env: Environment): void {
  env.registerType('net.IP', IPAddress);
  env.registerType('net.CIDR', CIDRPrefix);
  env.registerType('IpNamespace', IpNamespace);
  env.registerConstant('ip', 'IpNamespace', new IpNamespace());
  env.registerOperator('net.IP == net.IP', (a: IPAddress, b: IPAddress) => a.equals(b));
  env.registerOperator('net.CIDR == net.CIDR', (a: CIDRPrefix, b: CIDRPrefix) => a.equals(b));

  const fn = (signature: string, handler: (...args: any[]) => unknown) => env.registerFunction(signature, handler);
  fn('ip(string): net.IP', toIPAddress);
  fn('isIP(string): bool', (text: string) => typeof parseIPAddress(charged(text)) !== 'string');
  fn('IpNamespace.isCanonical(string): bool', (_: IpNamespace, text: string) => isCanonicalIP(text));
  fn('net.IP.family(): int', (ip: IPAddress) => BigInt(ip.family));
  fn('net.IP.isUnspecified(): bool', isUnspecified);
  fn('net.IP.isLoopback(): bool', isLoopback);
  fn('net.IP.isLinkLocalMulticast(): bool', isLinkLocalMulticast);
  fn('net.IP.isLinkLocalUnicast(): bool', isLinkLocalUnicast);
  fn('net.IP.isGlobalUnicast(): bool', isGlobalUnicast);
  fn('string(net.IP): string', (ip: IPAddress) => toText(formatIPAddress(ip)));

  fn('cidr(string): net.CIDR', toCIDRPrefix);
  fn('isCIDR(string): bool', (text: string) => typeof parseCIDRPrefix(charged(text)) !== 'string');
  fn('net.CIDR.containsIP(net.IP): bool', cidrContainsIP);
  fn('net.CIDR.containsIP(string): bool', (prefix: CIDRPrefix, text: string) => cidrContainsIP(prefix, toIPAddress(text)));
  fn('net.CIDR.containsCIDR(net.CIDR): bool', cidrContainsCIDR);
  fn('net.CIDR.containsCIDR(string): bool', (prefix: CIDRPrefix, text: string) => cidrContainsCIDR(prefix, toCIDRPrefix(text)));
  fn('net.CIDR.ip(): net.IP', (prefix: CIDRPrefix) => prefix.address);
  fn('net.CIDR.masked(): net.CIDR', maskCIDRPrefix);
  fn('net.CIDR.prefixLength(): int', (prefix: CIDRPrefix) => BigInt(prefix.bits));
  fn('string(net.CIDR): string', (prefix: CIDRPrefix) => toText(formatCIDRPrefix(prefix)));
}
