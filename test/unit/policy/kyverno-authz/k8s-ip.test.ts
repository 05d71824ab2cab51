/**
 * The Kubernetes CEL IP and CIDR libraries: policies a kyverno-authz user writes against the
 * client's address, the examples of the Kubernetes documentation with their documented answers,
 * and netip's strictness (what Kubernetes refuses, what it reads).
 */
import { describe, expect, it } from 'vitest';
import { answerOf, compile, policy, request } from '../../../support/cel-policies.js';
import { createEnvoyEnvironment } from '../../../../src/policy/kyverno-authz/envoy-library.js';
import { CelCheckBudget } from '../../../../src/policy/kyverno-authz/check-budget.js';
import { PARSE_CHARGE } from '../../../../src/policy/kyverno-authz/k8s-ip.js';
import { toCelCheckRequest } from '../../../../src/policy/kyverno/kyverno-input.js';
import { buildCheckRequest } from '../../../../src/cli/envoy-request.js';

const from = (sourceAddress: string, headers: Record<string, string> = {}) =>
  toCelCheckRequest(buildCheckRequest({ method: 'GET', path: '/api/x', host: 'svc.example.com', headers, sourceAddress }));

const env = createEnvoyEnvironment();
const evaluate = (expression: string) => env.evaluate(expression);

describe('policies on the client address', () => {
  const INTERNAL_ONLY = compile(policy(`  variables:
  - name: client
    expression: object.attributes.source.address.socket_address.address
  validations:
  - expression: >-
      ["10.0.0.0/8", "192.168.0.0/16", "fd00::/8"].exists(c, cidr(c).containsIP(variables.client))
        ? envoy.Allowed().WithHeader("x-client-family", string(ip(variables.client).family())).Response()
        : envoy.Denied(403).WithBody("internal clients only").Response()
`));

  it.each([
    ['10.1.2.3:5000', 'allow', '4'],
    ['192.168.200.1:5000', 'allow', '4'],
    ['[fd12:3456::1]:443', 'allow', '6'],
    ['172.16.0.1:5000', 'deny', undefined],
    ['[2001:db8::1]:443', 'deny', undefined],
  ])('%s: %s', (source, verdict, family) => {
    const answer = answerOf(INTERNAL_ONLY.evaluate(from(source)));
    expect(answer).toMatchObject({ verdict });
    if (family) expect(answer).toMatchObject({ headers: [{ key: 'x-client-family', value: family }] });
  });

  const FORWARDED = compile(policy(`  variables:
  - name: forwarded
    expression: object.attributes.request.http.headers[?"x-forwarded-for"].orValue("").split(",")[0].trim()
  validations:
  - expression: >-
      !isIP(variables.forwarded) ? envoy.Denied(400).WithBody("bad x-forwarded-for").Response()
        : ip(variables.forwarded).isLoopback() || !ip(variables.forwarded).isGlobalUnicast() ? envoy.Denied(403).Response()
        : cidr("203.0.113.0/24").containsIP(ip(variables.forwarded)) ? envoy.Allowed().Response() : null
`));
  const forwarded = (value: string) => answerOf(FORWARDED.evaluate(request({ 'x-forwarded-for': value })));

  it('checks a forwarded address: malformed (leading zeros, IPv4-mapped, zoned) is 400, loopback or link-local 403', () => {
    expect(forwarded('203.0.113.9, 10.0.0.1')).toMatchObject({ verdict: 'allow' });
    for (const bad of ['203.0.113.09', '::ffff:203.0.113.9', 'fe80::1%eth0', '203.0.113.9:80', 'a'.repeat(90_000)]) {
      expect(forwarded(bad), bad.slice(0, 20)).toMatchObject({ verdict: 'deny', status: 400 });
    }
    for (const local of ['127.0.0.1', '::1', '169.254.169.254', 'fe80::1', '0.0.0.0', '255.255.255.255']) {
      expect(forwarded(local), local).toMatchObject({ verdict: 'deny', status: 403 });
    }
  });

  it('an address that does not parse is an evaluation error (failurePolicy applies) whose message does not quote it', () => {
    const p = compile(policy(`  validations:
  - expression: >-
      ip(object.attributes.request.http.headers[?"x-client"].orValue("")).isLoopback() ? null : envoy.Denied(403).Response()
`));
    const outcome = p.evaluate(request({ 'x-client': '10.0.0.256-secret' }));
    expect(outcome).toMatchObject({ kind: 'error', failurePolicy: 'Fail', message: expect.stringContaining('not an IP address') });
    expect(JSON.stringify(outcome)).not.toContain('secret');
  });
});

describe('in a policy', () => {
  it('an address kept in a variable answers its methods; `ip` may still name a comprehension variable', () => {
    const p = compile(policy(`  variables:
  - name: client
    expression: ip(object.attributes.source.address.socket_address.address)
  - name: trusted
    expression: '["10.0.0.0/8", "2001:db8::/32"].map(c, cidr(c))'
  validations:
  - expression: >-
      variables.trusted.exists(net, net.containsIP(variables.client)) && [string(variables.client)].all(ip, ip.startsWith("10."))
        ? envoy.Allowed().Response() : envoy.Denied(403).Response()
`));
    expect(answerOf(p.evaluate(from('10.9.8.7:1000')))).toMatchObject({ verdict: 'allow' });
    expect(answerOf(p.evaluate(from('[2001:db8::7]:1000')))).toMatchObject({ verdict: 'deny' });
    expect(answerOf(p.evaluate(from('11.0.0.1:1000')))).toMatchObject({ verdict: 'deny' });
  });

  it('a call with the wrong argument type is refused at load by its overload, not as a missing library', () => {
    expect(() => compile(policy(`  validations:
  - expression: >-
      cidr(10).containsIP("10.0.0.1") ? null : envoy.Denied(403).Response()
`))).toThrow(/no matching overload for 'cidr\(int\)'/);
  });
});

describe('the examples of the Kubernetes documentation, with its answers', () => {
  it.each([
    // IP address library
    ['isIP("127.0.0.1")', true],
    ['isIP("::1")', true],
    ['isIP("127.0.0.256")', false],
    ['isIP(":::1")', false],
    ['ip.isCanonical("127.0.0.1")', true],
    ['ip.isCanonical("2001:db8::abcd")', true],
    ['ip.isCanonical("2001:DB8::ABCD")', false],
    ['ip.isCanonical("2001:db8::0:0:0:abcd")', false],
    ['ip("127.0.0.1").family() == 4', true],
    ['ip("::1").family() == 6', true],
    ['ip("0.0.0.0").isUnspecified()', true],
    ['ip("127.0.0.1").isUnspecified()', false],
    ['ip("::").isUnspecified()', true],
    ['ip("::1").isUnspecified()', false],
    ['ip("127.0.0.1").isLoopback()', true],
    ['ip("192.168.0.1").isLoopback()', false],
    ['ip("::1").isLoopback()', true],
    ['ip("2001:db8::abcd").isLoopback()', false],
    ['ip("224.0.0.1").isLinkLocalMulticast()', true],
    ['ip("224.0.1.1").isLinkLocalMulticast()', false],
    ['ip("ff02::1").isLinkLocalMulticast()', true],
    ['ip("fd00::1").isLinkLocalMulticast()', false],
    ['ip("169.254.169.254").isLinkLocalUnicast()', true],
    ['ip("192.168.0.1").isLinkLocalUnicast()', false],
    ['ip("fe80::1").isLinkLocalUnicast()', true],
    ['ip("fd80::1").isLinkLocalUnicast()', false],
    ['ip("192.168.0.1").isGlobalUnicast()', true],
    ['ip("255.255.255.255").isGlobalUnicast()', false],
    ['ip("2001:db8::abcd").isGlobalUnicast()', true],
    ['ip("ff00::1").isGlobalUnicast()', false],
    ['string(ip("192.168.0.1"))', '192.168.0.1'],
    // CIDR library
    ['isCIDR("192.168.0.0/16")', true],
    ['isCIDR("::1/128")', true],
    ['isCIDR("192.168.0.0/33")', false],
    ['isCIDR("::1/129")', false],
    ['cidr("192.168.0.0/24").containsIP(ip("192.168.0.1"))', true],
    ['cidr("192.168.0.0/24").containsIP(ip("192.168.1.1"))', false],
    ['cidr("192.168.0.0/24").containsIP("192.168.0.1")', true],
    ['cidr("192.168.0.0/24").containsIP("192.168.1.1")', false],
    ['cidr("192.168.0.0/16").containsCIDR(cidr("192.168.10.0/24"))', true],
    ['cidr("192.168.1.0/24").containsCIDR(cidr("192.168.2.0/24"))', false],
    ['cidr("192.168.0.0/16").containsCIDR("192.168.10.0/24")', true],
    ['cidr("192.168.1.0/24").containsCIDR("192.168.2.0/24")', false],
    ['cidr("192.168.0.1/24").ip() == ip("192.168.0.1")', true],
    ['cidr("192.168.0.1/24").ip().family()', 4n],
    ['cidr("::1/128").ip() == ip("::1")', true],
    ['cidr("::1/128").ip().family()', 6n],
    ['cidr("192.168.0.0/24").masked() == cidr("192.168.0.0/24")', true],
    ['cidr("192.168.0.1/24").masked() == cidr("192.168.0.0/24")', true],
    ['cidr("192.168.0.0/24") == cidr("192.168.0.0/24").masked()', true],
    ['cidr("192.168.0.1/24") == cidr("192.168.0.1/24").masked()', false],
    ['cidr("192.168.0.0/16").prefixLength()', 16n],
    ['cidr("::1/128").prefixLength()', 128n],
    ['string(cidr("192.168.0.0/24"))', '192.168.0.0/24'],
    // From Kubernetes' own tests of the libraries.
    ['cidr("192.168.0.0/24").containsCIDR(cidr("192.168.0.0/25"))', true],
    ['cidr("192.168.0.0/24").containsCIDR("192.168.0.0/23")', false],
    ['cidr("2001:db8::/32").containsIP("2001:db8::1")', true],
    ['cidr("2001:db8::/32").containsIP(ip("2001:dc8::1"))', false],
    ['cidr("2001:db8::/32").containsCIDR("2001:db8::/33")', true],
    ['cidr("2001:db8::/32").containsCIDR(cidr("2001:db8::/31"))', false],
    ['cidr("2001:db8:1::/32").masked() == cidr("2001:db8::/32")', true],
  ])('%s is %s', (expression, expected) => {
    expect(evaluate(expression)).toBe(expected);
  });

  it.each(['ip("127.0.0.256")', 'ip(":::1")', 'ip.isCanonical("127.0.0.1.0")', 'cidr("192.168.0.0/33")', 'cidr("::1/129")', 'cidr("192.168.0.0/")'])(
    '%s is an evaluation error',
    (expression) => {
      expect(() => evaluate(expression)).toThrow(/not an IP address|not a CIDR/);
    },
  );
});

describe('what Kubernetes reads as an address (netip, less zones and IPv4-mapped IPv6)', () => {
  it.each([
    '0.0.0.0', '255.255.255.255', '::', '::1', '1::', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8',
    '::1.2.3.4', '64:ff9b::192.0.2.1', '1:2:3:4:5:6:1.2.3.4', '0000:00:0::1', 'ABCD::ef', 'ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255',
  ])('%s is an IP', (text) => {
    expect(evaluate(`isIP("${text}")`)).toBe(true);
  });

  it.each([
    '', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.00', '1.2.3.256', '1..2.3', '.1.2.3', '1.2.3.', ' 1.2.3.4', '1.2.3.4 ', '1.2.3.4/32',
    '0x1.2.3.4', '1.2.3.4:80', '[::1]', ':1', '1:', ':::', '1::2::3', '12345::', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8::',
    '1:2:3:4:5:6:7::8', '::1.2.3', '1.2.3.4::', '1:2:3:4:5:6:7:1.2.3.4', '::01.2.3.4', '::g', '::ffff:1.2.3.4', '::ffff:0:0',
    '::ffff:ffff:ffff', 'fe80::1%eth0', 'fe80::1%', '%eth0', '1.2.3.4%eth0', 'localhost', '１.2.3.4',
  ])('%j is not', (text) => {
    expect(evaluate(`isIP(${JSON.stringify(text)})`)).toBe(false);
  });

  it.each(['0.0.0.0/0', '::/0', '10.0.0.0/8', '192.168.0.1/16', '::1/128', '2001:db8::/32', '::fffe:0:0/95'])(
    '%s is a CIDR',
    (text) => {
      expect(evaluate(`isCIDR("${text}")`)).toBe(true);
    },
  );

  it.each(['10.0.0.0', '10.0.0.0/', '10.0.0.0/08', '10.0.0.0/+8', '10.0.0.0/-0', '10.0.0.0/ 8', '10.0.0.0/8/8', '/8', '::/129', '010.0.0.0/8', '::ffff:1.2.3.4/120', '::ffff:0:0/96', 'fe80::%eth0/64'])(
    '%j is not',
    (text) => {
      expect(evaluate(`isCIDR(${JSON.stringify(text)})`)).toBe(false);
    },
  );

  it.each([
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['1:0:1:1:1:1:1:1', '1:0:1:1:1:1:1:1'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['::1.2.3.4', '::102:304'],
    ['0001:0db8::00ff', '1:db8::ff'],
  ])('%s is written %s', (text, canonical) => {
    expect(evaluate(`string(ip("${text}"))`)).toBe(canonical);
    expect(evaluate(`ip.isCanonical("${text}")`)).toBe(text === canonical);
  });

  it('keeps the bits past the prefix until masked, and never mixes families', () => {
    expect(evaluate('string(cidr("10.1.2.3/8"))')).toBe('10.1.2.3/8');
    expect(evaluate('string(cidr("10.1.2.3/8").masked())')).toBe('10.0.0.0/8');
    expect(evaluate('string(cidr("2001:db8:ffff::1/33").masked())')).toBe('2001:db8:8000::/33');
    expect(evaluate('cidr("10.1.2.3/8").containsIP("10.200.0.1")')).toBe(true);
    expect(evaluate('cidr("0.0.0.0/0").containsIP("::1")')).toBe(false);
    expect(evaluate('cidr("::/0").containsIP("1.2.3.4")')).toBe(false);
    expect(evaluate('cidr("::/0").containsCIDR("0.0.0.0/0")')).toBe(false);
    expect(evaluate('cidr("10.0.0.0/8").containsCIDR("10.0.0.0/8")')).toBe(true);
    expect(evaluate('cidr("10.0.0.0/8").containsCIDR("10.255.255.255/32")')).toBe(true);
    expect(evaluate('cidr("10.0.0.0/8").containsCIDR("0.0.0.0/0")')).toBe(false);
    expect(evaluate('ip("1.2.3.4") != ip("1.2.3.5") && ip("::1") == ip("0::1")')).toBe(true);
  });
});

describe('the string budget', () => {
  it('charges a parse the same whatever the length of its text: 1,024 checks of a 90 KB header charge PARSE_CHARGE each', () => {
    const p = compile(policy(`  validations:
  - expression: >-
      object.attributes.request.http.headers["x-parts"].split(",").exists(part,
        isIP(object.attributes.request.http.headers["x-blob"]) || isCIDR(object.attributes.request.http.headers["x-blob"]))
        ? envoy.Denied(403).Response() : null
`));
    const budget = new CelCheckBudget();
    const outcome = p.evaluate(request({ 'x-parts': ','.repeat(1023), 'x-blob': `1.2.3.4${' '.repeat(90_000)}` }), budget);
    expect(outcome).toMatchObject({ kind: 'skip' });
    // split charges nothing; each isIP and isCIDR the same, reading at most 50 characters.
    expect(budget.scannedChars).toBe(1024 * 2 * PARSE_CHARGE);
  });
});
