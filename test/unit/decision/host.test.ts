import { describe, expect, it } from 'vitest';
import { normalizeHost } from '../../../src/decision/host.js';
import { expectCode } from '../../support/errors.js';

describe('normalizeHost', () => {
  describe('when a host is spelt differently but names the same host', () => {
    it.each([
      ['admin.example.com', 'admin.example.com'],
      ['Admin.Example.COM', 'admin.example.com'],
      ['admin.example.com.', 'admin.example.com'],
      ['admin.example.com:', 'admin.example.com'],
      ['admin.example.com.:443', 'admin.example.com:443'],
      ['ADMIN.example.com:8080', 'admin.example.com:8080'],
      ['bücher.example', 'xn--bcher-kva.example'],
      ['BÜCHER.example.', 'xn--bcher-kva.example'],
      ['[2001:DB8::1]', '[2001:db8::1]'],
      ['[2001:db8::1]:8443', '[2001:db8::1]:8443'],
      ['10.0.0.1:80', '10.0.0.1:80'],
      ['svc_a.ns.svc.cluster.local', 'svc_a.ns.svc.cluster.local'],
      ['', ''],
      // IP addresses in their one canonical spelling (WHATWG URL parser).
      ['[0:0:0:0:0:0:0:1]', '[::1]'],
      ['[0::1]:80', '[::1]:80'],
      ['2852039166', '169.254.169.254'],
      ['0xa9fea9fe', '169.254.169.254'],
      ['0251.0376.0251.0376:8080', '169.254.169.254:8080'],
      ['169.254.43518', '169.254.169.254'],
      ['1password.example', '1password.example'],
      // An IPv4-mapped IPv6 address is the IPv4 address a socket reaches (RFC 4291 §2.5.5.2).
      ['[::ffff:169.254.169.254]', '169.254.169.254'],
      ['[::FFFF:a9fe:a9fe]:80', '169.254.169.254:80'],
      ['[0:0:0:0:0:ffff:7f00:1]', '127.0.0.1'],
      ['[::ffff:0:a9fe:a9fe]', '[::ffff:0:a9fe:a9fe]'],
    ])('%j → %j', (raw, normal) => {
      expect(normalizeHost(raw)).toBe(normal);
    });
  });

  describe('when the authority cannot be normalised safely', () => {
    it.each([
      ['user:SECRET@example.com', 'userinfo'],
      ['@example.com', 'userinfo'],
      [' admin.example.com', 'leading space'],
      ['admin.example.com ', 'trailing space'],
      ['admin example.com', 'inner space'],
      ['admin.example.com\t', 'tab'],
      ['admin.example.com\u0000', 'NUL'],
      ['adm%69n.example.com', 'percent-escape'],
      ['admin..example.com', 'empty label'],
      ['.admin.example.com', 'leading dot'],
      ['admin.example.com..', 'two trailing dots'],
      ['admin.example.com:0', 'port 0'],
      ['admin.example.com:65536', 'port too large'],
      ['admin.example.com:0443', 'port with a leading zero'],
      ['admin.example.com:44a', 'port not a number'],
      ['admin.example.com:443:443', 'two ports'],
      ['2001:db8::1', 'bare IPv6'],
      ['[2001:db8::zz]', 'bad IPv6'],
      ['[2001:db8::1', 'unclosed bracket'],
      ['admin/example.com', 'slash'],
      ['admin.example.com#x', 'hash'],
      ['a'.repeat(254), 'too long'],
      ['1.2.3.4.5', 'five numeric labels'],
      ['foo.123', 'a name ending in a number'],
      ['999.1.1.1', 'an IPv4 label over 255'],
    ])('%j (%s) is REQUEST_MALFORMED', (raw) => {
      expectCode(() => normalizeHost(raw), 'REQUEST_MALFORMED');
    });
  });
});
