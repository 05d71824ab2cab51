/**
 * Host patterns are normalised once, when a policy loads or a token is read, and matched in that
 * form on every Check (policy/match.ts). The oracle is how a match was made before: the pattern
 * normalised on every match. Kept here, verbatim, so that the two can never drift apart: a
 * pattern matching any host differently once pre-normalised would widen an ALLOW or narrow a DENY.
 */
import { domainToASCII } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalIp, normalizeHost } from '../../../src/decision/host.js';
import { hostPatterns, matchAnyHostPattern, matchPattern } from '../../../src/policy/match.js';

const RUNS = { numRuns: 5000, seed: 20_261_202 };

// ---- the oracle: per-match normalisation, as src/policy/match.ts had it ----

function oracleMatchHost(pattern: string, host: string): boolean {
  const h = host.toLowerCase();
  const p = oracleNormalizeHostPattern(pattern);
  if (matchPattern(p, h)) return true;
  return !hasPort(p) && hasPort(h) && matchPattern(p, stripPort(h));
}

function oracleMatchAnyHost(patterns: readonly string[], host: string): boolean {
  return patterns.some((p) => oracleMatchHost(p, host));
}

function hasPort(host: string): boolean {
  return /:\d+$/.test(host) && !host.endsWith(']');
}

function stripPort(host: string): string {
  return host.replace(/:\d+$/, '');
}

function oracleNormalizeHostPattern(written: string): string {
  const pattern = /[^:]:$/.test(written) ? written.slice(0, -1) : written;
  const port = /:(\d+|\*)$/.exec(pattern)?.[0] ?? '';
  let name = pattern.slice(0, pattern.length - port.length).toLowerCase();
  if (name.endsWith('.') && name.length > 1) name = name.slice(0, -1);
  if (!/^[\x00-\x7f]*$/.test(name)) {
    const lead = name.startsWith('*') ? '*' : '';
    const trail = !lead && name.endsWith('*') ? '*' : '';
    const core = name.slice(lead.length, name.length - trail.length);
    const dot = core.startsWith('.') ? '.' : '';
    const ascii = domainToASCII(core.slice(dot.length));
    if (ascii !== '') name = `${lead}${dot}${ascii}${trail}`;
  }
  if (!name.includes('*')) name = canonicalIp(name) ?? name;
  return `${name}${port}`;
}

// ---- spellings of hosts and patterns ----

// Names in every spelling normalisation reads: case, IDNA (Unicode, punycode, ß), IPv4 in
// decimal, hex and octal, IPv6 literals (mapped, zero runs), numeric last labels.
const label = fc.constantFrom('example', 'Example', 'EXAMPLE', 'a', 'b', 'xn--bcher-kva', 'bücher', 'BÜCHER', 'straße', 'ß', 'ÖL', '127', '0', '1', '169', '254', '0x7f', '0xa9fea9fe', '2852039166', '0251', 'com', 'internal', '_svc', 'x-y');
const ipv6 = fc.constantFrom('[::1]', '[0:0::1]', '[::ffff:a9fe:a9fe]', '[::FFFF:169.254.169.254]', '[2001:db8::1]', '[2001:DB8:0::1]', '[fe80::1');
const name = fc.oneof(fc.array(label, { minLength: 1, maxLength: 4 }).map((ls) => ls.join('.')), ipv6);
const port = fc.constantFrom('', '', ':', ':80', ':443', ':8080', ':0', ':65535', ':*', '::', ':08');
const dot = fc.constantFrom('', '', '.', '..');
const spelled = fc.tuple(name, dot, port).map(([n, d, p]) => `${n}${d}${p}`);
const pattern = fc.oneof(
  fc.constant('*'),
  spelled,
  spelled.map((s) => `*${s}`),
  spelled.map((s) => `*.${s}`),
  spelled.map((s) => `${s}*`),
  name.map((n) => `${n}:*`),
  // Anything at all: what a policy file or a token may hold, well formed or not.
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
);
/** A request's host as the guards see it (decision/host.ts), or a spelling no request arrives in. */
const host = fc.oneof(
  spelled.map((s) => {
    try {
      return normalizeHost(s);
    } catch {
      return s;
    }
  }),
  spelled,
  fc.string({ unit: 'grapheme', maxLength: 12 }),
);

describe('host patterns normalised once match as patterns normalised on every match did', () => {
  it('one pattern against one host', () => {
    fc.assert(
      fc.property(pattern, host, (p, h) => {
        expect(matchAnyHostPattern(hostPatterns([p]), h), `${JSON.stringify(p)} ${JSON.stringify(h)}`).toBe(oracleMatchHost(p, h));
      }),
      RUNS,
    );
  });

  it('a list of patterns against one host', () => {
    fc.assert(
      fc.property(fc.array(pattern, { maxLength: 5 }), host, (ps, h) => {
        expect(matchAnyHostPattern(hostPatterns(ps), h), `${JSON.stringify(ps)} ${JSON.stringify(h)}`).toBe(oracleMatchAnyHost(ps, h));
      }),
      RUNS,
    );
  });

  it('agrees on the spellings that once needed fixing', () => {
    const cases: Array<[string, string]> = [
      ['Admin.Example.com.', 'admin.example.com:443'],
      ['admin.example.com:', 'admin.example.com'],
      ['*.Bücher.example.', 'shop.xn--bcher-kva.example'],
      ['[0:0::1]', '[::1]:8080'],
      ['0xa9fea9fe', '169.254.169.254'],
      ['[::1]:', '[::1]'],
      ['example.com:*', 'example.com:8080'],
      ['example.com', 'example.com:*'],
    ];
    for (const [p, h] of cases) expect(matchAnyHostPattern(hostPatterns([p]), h), `${p} ${h}`).toBe(oracleMatchHost(p, h));
  });
});
