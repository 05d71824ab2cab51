import { describe, expect, it } from 'vitest';
import { matchAnyHostPattern, matchPattern, normalizeHostPattern } from '../../../src/policy/match.js';

describe('matchPattern (Istio string match)', () => {
  it.each([
    ['/tools/hello', '/tools/hello', true],
    ['/tools/hello', '/tools/hello/', false],
    ['/tools/*', '/tools/hello', true],
    ['/tools/*', '/tools/', true],
    ['/tools/*', '/tool', false],
    ['*/hello', '/tools/hello', true],
    ['*/hello', '/tools/hello2', false],
    ['*', 'anything', true],
    ['*', '', false],
    ['POST', 'post', false],
  ])('%j against %j is %s', (pattern, value, expected) => {
    expect(matchPattern(pattern, value)).toBe(expected);
  });
});

describe('host patterns (normalised once, then matched)', () => {
  it.each([
    ['svc1.example.com', 'svc1.example.com', true],
    ['svc1.example.com', 'SVC1.Example.com', true],
    ['svc1.example.com', 'svc1.example.com:8080', true],
    ['svc1.example.com:8080', 'svc1.example.com:9090', false],
    ['*.example.com', 'svc2.example.com:80', true],
    ['svc1.example.com', 'svc2.example.com', false],
    // Patterns are brought to the form request hosts arrive in (decision/host.ts).
    ['Admin.Example.com.', 'admin.example.com', true],
    ['admin.example.com.', 'admin.example.com:443', true],
    ['admin.example.com.:443', 'admin.example.com:443', true],
    ['bücher.example', 'xn--bcher-kva.example', true],
    ['*.Bücher.example.', 'shop.xn--bcher-kva.example', true],
    ['*.bücher.example', 'xn--bcher-kva.example', false],
    ['[0:0::1]', '[::1]:8080', true],
    ['0xa9fea9fe', '169.254.169.254', true],
    // An empty port is no port, in a pattern as in a request (`admin.example.com:` is
    // `admin.example.com`): kept, the pattern matched no request host and a DENY denied nothing.
    ['admin.example.com:', 'admin.example.com', true],
    ['Admin.Example.com.:', 'admin.example.com:8443', true],
    ['[::1]:', '[::1]', true],
  ])('%j against %j is %s', (pattern, host, expected) => {
    expect(matchAnyHostPattern([normalizeHostPattern(pattern)], host)).toBe(expected);
  });
});
