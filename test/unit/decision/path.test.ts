import { describe, expect, it } from 'vitest';
import { normalizePath } from '../../../src/decision/path.js';
import { ChioError } from '../../../src/errors/index.js';

describe('normalizePath', () => {
  it.each([
    ['/tools/hello', '/tools/hello'],
    ['/tools/hello?x=1#f', '/tools/hello'],
    ['/tools/../admin', '/admin'],
    ['/tools/%2e%2e/admin', '/admin'],
    ['/tools/%2E%2E/admin', '/admin'],
    ['/tools/.%2e/admin', '/admin'],
    ['//tools//hello', '/tools/hello'],
    ['/tools/./hello', '/tools/hello'],
    ['/TOOLS/hello', '/TOOLS/hello'],
    ['/tools/hello;jsessionid=1', '/tools/hello'],
    ['/admin;x=1/users', '/admin/users'],
    ['/tools;/../admin', '/admin'],
    ['/tools\\..\\admin', '/admin'],
    ['/tools/%41bc', '/tools/Abc'],
    ['/tools/a%20b', '/tools/a%20b'],
    ['/tools/a%c3%a9', '/tools/a%C3%A9'],
    ['/../../etc/passwd', '/etc/passwd'],
    ['/tools/', '/tools/'],
    ['/tools/x/..', '/tools/'],
    ['/', '/'],
    ['', '/'],
  ])('%j → %j', (raw, expected) => {
    expect(normalizePath(raw)).toBe(expected);
  });

  describe('when the path is refused', () => {
    it.each(['/tools%2fadmin', '/tools%5Cadmin', '/tools/%zz', '/tools/%4', 'tools/x', '*'])('%j is REQUEST_MALFORMED', (raw) => {
      expect(() => normalizePath(raw)).toThrow(ChioError);
      try {
        normalizePath(raw);
      } catch (err) {
        expect((err as ChioError).code).toBe('REQUEST_MALFORMED');
      }
    });
  });
});
