/**
 * A `..` is resolved by every reader, but not always against the same segment. Envoy's
 * normalize_path (RFC 3986 §5.2.4, merge_slashes after) never reads `..;x` as a dot segment and
 * counts an empty segment (`//`, or `;x` once cut) as one a `..` removes; Tomcat, Go and nginx
 * cut `;params` or merge slashes first. Where two readings of a path differ, a DENY written for one can be walked
 * around by the other: such a path is refused.
 */
import { describe, expect, it } from 'vitest';
import { normalizePath } from '../../../src/decision/path.js';
import { authorizationPolicy, checkOf, later, pipelineOf, policySetOf } from './fixtures.js';

const DENY_ADMIN = authorizationPolicy('deny-admin', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin/*'] } }] }] });
const ALLOW_ALL = authorizationPolicy('allow-all', { action: 'ALLOW', rules: [{}] });
const pipeline = pipelineOf(policySetOf({ authorization: [DENY_ADMIN, ALLOW_ALL] })).pipeline;
const decide = (path: string) => pipeline.decide(checkOf({ method: 'GET', path, host: 'api.example' }), later());

describe('dot segments that upstreams resolve differently', () => {
  // Envoy (and Go, Express…) route each of these under /admin/; Chio read them as /secret.
  it.each(['/admin/..;x/secret', '/admin/.;x/../secret', '/admin/%2e%2e;x/secret', '/admin//../secret', '/admin/;x/../secret', '/admin/x//../../secret', '/admin\\\\..\\secret'])(
    'a DENY of /admin/* is not walked around by %j',
    async (path) => {
      expect(await decide(path)).toMatchObject({ verdict: 'deny', guard: 'Request' });
    },
  );

  it.each([
    ['/admin;x=1/users', '/admin/users'],
    ['/tools;/../admin', '/admin'],
    ['/a/..x;y/b', '/a/..x/b'],
    ['/a/b/../../c', '/c'],
    ['/tools//x/../y', '/tools/y'],
    ['/a/;jsessionid=S/b', '/a/b'],
    ['/;jsessionid=S', '/'],
    ['/a//', '/a/'],
    ['/a/b//c/..', '/a/b/'],
  ])('a path both readings agree on is still read: %j → %j', (raw, normal) => {
    expect(normalizePath(raw)).toBe(normal);
  });
});
