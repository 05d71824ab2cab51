/**
 * A target starting `//` is a network-path reference to a URL parser: Node's documented
 * `new URL(req.url, base)` (and any WHATWG parser) reads `//evil.example/admin` as host
 * `evil.example`, path `/admin`, and `/\evil.example/admin` too. Envoy forwards it as it is
 * (merge_slashes is off under Istio's default BASE), so Chio cannot merge it to
 * `/evil.example/admin` and match that: it is refused.
 */
import { describe, expect, it } from 'vitest';
import { authorizationPolicy, checkOf, later, pipelineOf, policySetOf } from './fixtures.js';

const DENY_ADMIN = authorizationPolicy('deny-admin', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin', '/admin/*'] } }] }] });
const ALLOW_ALL = authorizationPolicy('allow-all', { action: 'ALLOW', rules: [{}] });
const pipeline = pipelineOf(policySetOf({ authorization: [DENY_ADMIN, ALLOW_ALL] })).pipeline;

describe('a target that a URL parser reads as an authority', () => {
  it.each(['//evil.example/admin', '/\\evil.example/admin', '\\\\evil.example/admin', '//evil.example/admin/users?x=1'])(
    'a DENY of /admin is not walked around by %j (WHATWG pathname /admin…)',
    async (path) => {
      const base = 'http://upstream.local';
      expect(new URL(path.replace(/^\\/, '/'), base).pathname.startsWith('/admin')).toBe(true);
      expect(await pipeline.decide(checkOf({ method: 'GET', path, host: 'api.example' }), later())).toMatchObject({ verdict: 'deny' });
    },
  );

  it('a path with repeated slashes after its first segment is still merged', async () => {
    const d = await pipeline.decide(checkOf({ method: 'GET', path: '/tools//x', host: 'api.example' }), later());
    expect(d).toMatchObject({ verdict: 'allow' });
    expect(d.request.path).toBe('/tools/x');
  });
});
