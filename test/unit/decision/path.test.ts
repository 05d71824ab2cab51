import { describe, expect, it } from 'vitest';
import { normalizePath, normalizePathPattern } from '../../../src/decision/path.js';
import { ChioError } from '../../../src/errors/index.js';

describe('normalizePath', () => {
  it.each([
    ['/tools/hello', '/tools/hello'],
    ['/tools/hello?x=1#f', '/tools/hello'],
    ['/tools/../admin', '/admin'],
    ['/tools/%2e%2e/admin', '/admin'],
    ['/tools/%2E%2E/admin', '/admin'],
    ['/tools/.%2e/admin', '/admin'],
    ['/tools//hello//', '/tools/hello/'],
    ['/tools/./hello', '/tools/hello'],
    ['/TOOLS/hello', '/TOOLS/hello'],
    ['/tools/hello;jsessionid=1', '/tools/hello'],
    ['/admin;x=1/users', '/admin/users'],
    ['/tools;/../admin', '/admin'],
    ['/tools\\..\\admin', '/admin'],
    ['/tools/%41bc', '/tools/Abc'],
    ['/tools/a%20b', '/tools/a%20b'],
    ['/tools/a%c3%a9', '/tools/a%C3%A9'],
    // One spelling per character: what a path holds only escaped is escaped (as Envoy's
    // normalize_path writes it), and sub-delims, `:` and `@` are decoded (upstreams do).
    ['/tools/a\u00e9', '/tools/a%C3%A9'],
    ['/tools/a b"<>', '/tools/a%20b%22%3C%3E'],
    ['/v1/keys%3arotate', '/v1/keys:rotate'],
    ['/%40admin/%21%24%26%27%28%29%2B%2C%3D', "/@admin/!$&'()+,="],
    ['/tools/a*b', '/tools/a%2Ab'],
    ['/tools/a%2ab', '/tools/a%2Ab'],
    ['/files/report%3bdraft', '/files/report%3Bdraft'],
    ['/../../etc/passwd', '/etc/passwd'],
    ['/tools/', '/tools/'],
    ['/tools/x/..', '/tools/'],
    ['/', '/'],
    ['', ''],
    ['?x=1', ''],
  ])('%j → %j', (raw, expected) => {
    expect(normalizePath(raw)).toBe(expected);
  });

  describe('when the path is refused', () => {
    it.each(['//tools/admin', '/\\tools/admin', '/tools%2fadmin', '/tools%5Cadmin', '/tools/%zz', '/tools/%4', 'tools/x', '*', '/admin%00', '/admin%0a.html', '/a%0D%0Ab', '/a%7f'])('%j is REQUEST_MALFORMED', (raw) => {
      expect(() => normalizePath(raw)).toThrow(ChioError);
      try {
        normalizePath(raw);
      } catch (err) {
        expect((err as ChioError).code).toBe('REQUEST_MALFORMED');
      }
    });
  });
});

describe('normalizePathPattern', () => {
  it.each([
    ['*', '*'],
    ['/tools/*', '/tools/*'],
    ['*.json', '*.json'],
    ['/files/report%3bdraft', '/files/report%3Bdraft'],
    ['/caf%c3%a9/*', '/caf%C3%A9/*'],
    ['/caf\u00e9/*', '/caf%C3%A9/*'],
    ['/v1/keys%3arotate', '/v1/keys:rotate'],
    ['/%40admin/*', '/@admin/*'],
    ['/files/a%2a', '/files/a%2A'],
    ['/%7Eadmin/*', '/~admin/*'],
    ['/tools/%41bc', '/tools/Abc'],
    ['/api/.well-known/*', '/api/.well-known/*'],
    ['/api/.*', '/api/.*'],
    ['*/..x', '*/..x'],
    ['/tools/', '/tools/'],
    ['/', '/'],
  ])('%j matches requests as %j', (pattern, normal) => {
    expect(normalizePathPattern(pattern)).toBe(normal);
    // What it names, a request spelt as the pattern is, normalises to the same.
    if (!pattern.includes('*')) expect(normalizePath(pattern)).toBe(normal);
  });

  it.each([
    ['/api/{*}/admin', /Istio path template/],
    ['/api/{**}', /Istio path template/],
    ['/api/*/admin', /has a \* inside/],
    ['**', /has a \* inside/],
    ['tools/*', /does not start with \/ or \*/],
    ['admin', /does not start with \/ or \*/],
    ['/tools\\admin', /backslash/],
    ['/admin;x=1', /backslash, ; \? or #/],
    ['/admin?x=1', /backslash, ; \? or #/],
    ['/tools%2fadmin', /encoded slash/],
    ['/tools%5C*', /encoded slash/],
    ['/tools/%zz', /malformed percent-escape/],
    ['/admin%00*', /encoded control character/],
    ['/tools/../admin', /dot segment/],
    ['/tools/./*', /dot segment/],
    ['*/../admin', /dot segment/],
    ['/tools//admin', /empty segment/],
    ['//*', /empty segment/],
  ])('refuses %j, which no normalised path matches', (pattern, why) => {
    expect(() => normalizePathPattern(pattern)).toThrow(why);
    try {
      normalizePathPattern(pattern);
    } catch (err) {
      expect((err as ChioError).code).toBe('CONFIG_INVALID');
    }
  });
});
