/**
 * IP address blocks as Envoy's RBAC matches them (Istio's `ipBlocks`, `source.ip`,
 * `destination.ip`): an address is in a block only when both are of one IP version.
 *
 * Node's BlockList alone is not that: it checks an IPv4 address against IPv6 blocks as its
 * IPv4-mapped form, so `::/0` held every IPv4 client (an ALLOW meant for IPv6 peers admitted
 * them all, a DENY on `notIpBlocks: ["::/0"]` let them through), and `::ffff:10.1.2.3` was in
 * `10.0.0.0/8`. Envoy's CidrRange compares versions first, so each version has a list here.
 */
import { BlockList, isIP } from 'node:net';
import { ChioError } from '../../errors/index.js';

export class AddressBlocks {
  private constructor(private readonly v4: BlockList, private readonly v6: BlockList) {}

  /** Parse IPs and CIDRs (`10.0.0.0/8`, `2001:db8::/32`, `10.0.0.7`); throws CONFIG_INVALID naming `where`. */
  static parse(cidrs: readonly string[], where: string): AddressBlocks {
    const v4 = new BlockList();
    const v6 = new BlockList();
    for (const cidr of cidrs) {
      const [ip, bits, ...rest] = cidr.split('/');
      const family = isIP(ip ?? '');
      const max = family === 6 ? 128 : 32;
      const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
      if (family === 0 || rest.length > 0 || !(prefix >= 0 && prefix <= max)) {
        throw new ChioError('CONFIG_INVALID', `field ${where}: ${JSON.stringify(cidr)} is not an IP address or CIDR block`);
      }
      if (family === 6) v6.addSubnet(ip!, prefix, 'ipv6');
      else v4.addSubnet(ip!, prefix, 'ipv4');
    }
    return new AddressBlocks(v4, v6);
  }

  /** Whether `ip` (an address without port; '' for none) is in a block of its own IP version. */
  has(ip: string): boolean {
    const family = isIP(ip);
    if (family === 4) return this.v4.check(ip, 'ipv4');
    // An IPv6 list holding only IPv6 blocks: Node maps no IPv4 block onto it.
    return family === 6 && this.v6.check(ip, 'ipv6');
  }
}
