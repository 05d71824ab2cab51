/**
 * IP addresses and CIDR prefixes read and written as the Kubernetes CEL IP and CIDR libraries
 * do (k8s.io/apiserver pkg/cel/library ip.go, cidr.go), which take Go's net/netip
 * (ParseAddr, ParsePrefix, Addr.String) and refuse a little more:
 *
 *   IPv4   four decimal fields of 0 to 255, no leading zero (`010.0.0.1` is refused, not
 *          read as octal or as 10), nothing else: `1.2.3`, `1.2.3.4.5`, `1.2.3.4 ` are refused;
 *   IPv6   RFC 4291 §2.2 text: up to eight groups of one to four hex digits (either case), one
 *          `::` standing for at least one zero group, and optionally the last 32 bits as an
 *          IPv4 address in the form above (`::1.2.3.4`, `64:ff9b::192.0.2.1`);
 *   refused by Kubernetes, though netip reads them: a zone (`fe80::1%eth0`) and an
 *          IPv4-mapped IPv6 address (`::ffff:1.2.3.4`, anything in ::ffff:0:0/96);
 *   CIDR   an address as above, `/`, and a prefix length without sign or leading zero, at
 *          most 32 (IPv4) or 128 (IPv6). The bits past the prefix may be set
 *          (`192.168.0.1/24` is read, its address kept as written: masked() clears them);
 *   text   an IPv4 address as dotted decimal; an IPv6 address by RFC 5952: lower case, no
 *          leading zeros, the first longest run of two or more zero groups as `::`
 *          (netip's Addr.String); a CIDR as its address, `/`, its length.
 *
 * No valid address is longer than MAX_IP_CHARS, nor a CIDR than MAX_CIDR_CHARS, so a longer
 * text is refused before it is read: the work per call is bounded whatever the request sends.
 */

/** The longest text of an address: `ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255`. */
export const MAX_IP_CHARS = 45;
/** The longest text of a CIDR: the longest address and `/128`. */
export const MAX_CIDR_CHARS = MAX_IP_CHARS + 4;

/** An IPv4 (4 bytes) or IPv6 (16 bytes) address: CEL's `net.IP`. */
export class IPAddress {
  constructor(readonly bytes: Uint8Array) {}

  get family(): 4 | 6 {
    return this.bytes.length === 4 ? 4 : 6;
  }

  equals(other: IPAddress): boolean {
    return this.bytes.length === other.bytes.length && this.bytes.every((b, i) => b === other.bytes[i]);
  }
}

/** An address and a prefix length, the bits past it as written: CEL's `net.CIDR`. */
export class CIDRPrefix {
  constructor(
    readonly address: IPAddress,
    readonly bits: number,
  ) {}

  /** As Go compares netip.Prefix values: the same address, unmasked, and length. */
  equals(other: CIDRPrefix): boolean {
    return this.bits === other.bits && this.address.equals(other.address);
  }
}

/** An address, or why `text` is not one (no part of `text` is in the reason). */
export function parseIPAddress(text: string): IPAddress | string {
  if (text.length > MAX_IP_CHARS) return `longer than any IP address (${MAX_IP_CHARS} characters)`;
  const bytes = parseNetipAddr(text);
  if (typeof bytes === 'string') return bytes;
  if (isIPv4Mapped(bytes)) return 'an IPv4-mapped IPv6 address is not allowed';
  return new IPAddress(bytes);
}

/** A CIDR, or why `text` is not one (no part of `text` is in the reason). */
export function parseCIDRPrefix(text: string): CIDRPrefix | string {
  if (text.length > MAX_CIDR_CHARS) return `longer than any CIDR (${MAX_CIDR_CHARS} characters)`;
  const slash = text.lastIndexOf('/');
  if (slash < 0) return "no '/'";
  const bytes = parseNetipAddr(text.slice(0, slash));
  if (typeof bytes === 'string') return bytes;
  // netip.ParsePrefix: decimal without sign or leading zero (strconv.Atoi would take both).
  const bitsText = text.slice(slash + 1);
  if (!/^(?:0|[1-9][0-9]*)$/.test(bitsText)) return 'bad bits after slash';
  const bits = Number(bitsText);
  if (bits > bytes.length * 8) return 'prefix length out of range';
  if (isIPv4Mapped(bytes)) return 'an IPv4-mapped IPv6 address is not allowed';
  return new CIDRPrefix(new IPAddress(bytes), bits);
}

/** netip's Addr.String(): dotted decimal, or RFC 5952 IPv6 text. */
export function formatIPAddress(ip: IPAddress): string {
  if (ip.family === 4) return ip.bytes.join('.');
  const groups = Array.from({ length: 8 }, (_, i) => (ip.bytes[2 * i]! << 8) | ip.bytes[2 * i + 1]!);
  // The first longest run of two or more zero groups becomes `::` (RFC 5952 §4.2).
  let runStart = -1;
  let runLength = 1;
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > runLength) [runStart, runLength] = [i, j - i];
  }
  if (runStart < 0) return groups.map((g) => g.toString(16)).join(':');
  const hex = (from: number, to: number) => groups.slice(from, to).map((g) => g.toString(16)).join(':');
  return `${hex(0, runStart)}::${hex(runStart + runLength, 8)}`;
}

export function formatCIDRPrefix(prefix: CIDRPrefix): string {
  return `${formatIPAddress(prefix.address)}/${prefix.bits}`;
}

/** The address kinds of netip (Addr.IsLoopback, …), each by its RFC. */
export const isUnspecified = (ip: IPAddress): boolean => ip.bytes.every((b) => b === 0);

/** 127.0.0.0/8 (RFC 1122 §3.2.1.3) or ::1 (RFC 4291 §2.5.3). */
export const isLoopback = (ip: IPAddress): boolean => (ip.family === 4 ? ip.bytes[0] === 127 : ip.bytes.every((b, i) => b === (i === 15 ? 1 : 0)));

/** 224.0.0.0/24 (RFC 5771 §4), or IPv6 multicast of link-local scope, ffX2::/16 (RFC 4291 §2.7). */
export const isLinkLocalMulticast = (ip: IPAddress): boolean =>
  ip.family === 4 ? ip.bytes[0] === 224 && ip.bytes[1] === 0 && ip.bytes[2] === 0 : ip.bytes[0] === 0xff && (ip.bytes[1]! & 0x0f) === 0x02;

/** 169.254.0.0/16 (RFC 3927 §2.1) or fe80::/10 (RFC 4291 §2.4). */
export const isLinkLocalUnicast = (ip: IPAddress): boolean =>
  ip.family === 4 ? ip.bytes[0] === 169 && ip.bytes[1] === 254 : ip.bytes[0] === 0xfe && (ip.bytes[1]! & 0xc0) === 0x80;

/** 224.0.0.0/4 (RFC 1112 §4) or ff00::/8 (RFC 4291 §2.4). */
const isMulticast = (ip: IPAddress): boolean => (ip.family === 4 ? (ip.bytes[0]! & 0xf0) === 0xe0 : ip.bytes[0] === 0xff);

/**
 * Neither unspecified, loopback, multicast, link-local unicast nor (IPv4) 255.255.255.255:
 * private IPv4 and unique local IPv6 addresses are global unicast here, as in Go's net package.
 */
export const isGlobalUnicast = (ip: IPAddress): boolean =>
  !isUnspecified(ip) && !(ip.family === 4 && ip.bytes.every((b) => b === 0xff)) && !isLoopback(ip) && !isMulticast(ip) && !isLinkLocalUnicast(ip);

/** The prefix with every bit of its address past `bits` cleared (netip's Prefix.Masked). */
export function maskCIDRPrefix(prefix: CIDRPrefix): CIDRPrefix {
  const bytes = prefix.address.bytes.map((b, i) => b & byteMask(prefix.bits, i));
  return new CIDRPrefix(new IPAddress(bytes), prefix.bits);
}

/** Whether `ip` is of the prefix's family and agrees with its address on the first `bits` bits. */
export function cidrContainsIP(prefix: CIDRPrefix, ip: IPAddress): boolean {
  return samePrefixBits(prefix.address, ip, prefix.bits);
}

/**
 * Whether every address of `other` is in `prefix`: the same family, a prefix at least as long,
 * and the same first `prefix.bits` bits. As Kubernetes documents it
 * (`cidr('192.168.0.0/16').containsCIDR('192.168.10.0/24')` is true); its code compared the
 * second address unmasked, answering false there, until it was fixed in 2025.
 */
export function cidrContainsCIDR(prefix: CIDRPrefix, other: CIDRPrefix): boolean {
  return prefix.bits <= other.bits && samePrefixBits(prefix.address, other.address, prefix.bits);
}

function samePrefixBits(a: IPAddress, b: IPAddress, bits: number): boolean {
  if (a.bytes.length !== b.bytes.length) return false;
  return a.bytes.every((x, i) => ((x ^ b.bytes[i]!) & byteMask(bits, i)) === 0);
}

/** The bits of byte `index` that are within the first `bits` bits of an address. */
function byteMask(bits: number, index: number): number {
  const kept = Math.min(8, Math.max(0, bits - 8 * index));
  return (0xff00 >> kept) & 0xff;
}

/** In ::ffff:0:0/96 (netip's Is4In6). */
function isIPv4Mapped(bytes: Uint8Array): boolean {
  return bytes.length === 16 && bytes[10] === 0xff && bytes[11] === 0xff && bytes.subarray(0, 10).every((b) => b === 0);
}

/** netip.ParseAddr without zones: the first `.`, `:` or `%` says which form `text` is in. */
function parseNetipAddr(text: string): Uint8Array | string {
  const form = /[.:%]/.exec(text)?.[0];
  if (form === '.') {
    const bytes = new Uint8Array(4);
    return readIPv4(text, bytes, 0) ?? bytes;
  }
  if (form === ':') return text.includes('%') ? 'an IP address with a zone is not allowed' : readIPv6(text);
  return form === '%' ? 'missing IPv6 address' : 'unable to parse IP';
}

/** Reads dotted decimal into out[at…at+3]; why it is not that, if it is not. */
function readIPv4(text: string, out: Uint8Array, at: number): string | undefined {
  let value = 0;
  let digits = 0;
  let field = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      if (digits === 1 && value === 0) return 'IPv4 field has octet with leading zero';
      value = value * 10 + (c - 0x30);
      digits++;
      if (value > 255) return 'IPv4 field has value >255';
    } else if (c === 0x2e) {
      if (i === 0 || i === text.length - 1 || text.charCodeAt(i - 1) === 0x2e) return 'IPv4 field must have at least one digit';
      if (field === 3) return 'IPv4 address too long';
      out[at + field++] = value;
      value = 0;
      digits = 0;
    } else {
      return 'unexpected character';
    }
  }
  if (field < 3) return 'IPv4 address too short';
  out[at + 3] = value;
  return undefined;
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** IPv6 text without a zone, as netip's parseIPv6 reads it: its 16 bytes, or why not. */
function readIPv6(text: string): Uint8Array | string {
  const bytes = new Uint8Array(16);
  let at = 0; // the next character of text
  let ellipsis = -1; // the byte where `::` stands
  if (text.startsWith('::')) {
    ellipsis = 0;
    at = 2;
    if (at === text.length) return bytes;
  }
  let filled = 0;
  while (filled < 16) {
    let end = at;
    let group = 0;
    for (; end < text.length; end++) {
      const d = hexDigit(text.charCodeAt(end));
      if (d < 0) break;
      if (end - at > 3) return 'each group must have 4 or less digits';
      group = group * 16 + d;
    }
    if (end === at) return 'each colon-separated field must have at least one digit';
    if (text[end] === '.') {
      if (ellipsis < 0 && filled !== 12) return 'embedded IPv4 address must replace the final 2 fields of the address';
      if (filled + 4 > 16) return 'too many hex fields to fit an embedded IPv4 at the end of the address';
      const problem = readIPv4(text.slice(at), bytes, filled);
      if (problem !== undefined) return problem;
      at = text.length;
      filled += 4;
      break;
    }
    bytes[filled++] = group >> 8;
    bytes[filled++] = group & 0xff;
    at = end;
    if (at === text.length) break;
    if (text[at] !== ':') return 'unexpected character, want colon';
    if (at + 1 === text.length) return 'colon must be followed by more characters';
    at++;
    if (text[at] === ':') {
      if (ellipsis >= 0) return 'multiple :: in address';
      ellipsis = filled;
      at++;
      if (at === text.length) break;
    }
  }
  if (at !== text.length) return 'trailing garbage after address';
  if (filled < 16) {
    if (ellipsis < 0) return 'address string too short';
    // The groups after `::` move to the end; the ones it stands for are zero.
    const zeros = 16 - filled;
    bytes.copyWithin(ellipsis + zeros, ellipsis, filled);
    bytes.fill(0, ellipsis, ellipsis + zeros);
  } else if (ellipsis >= 0) {
    return 'the :: must expand to at least one field of zeros';
  }
  return bytes;
}
