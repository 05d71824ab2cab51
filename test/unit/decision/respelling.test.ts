/**
 * Issue #7: a deny must not be walked around by spelling a path or a host differently. Every
 * policy kind (Istio AuthorizationPolicy, kyverno ValidatingPolicy) and the capability grant
 * decide on the same normalised request, so a request decides exactly as its normal form does.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Decision } from '../../../src/decision/decision.js';
import { normalizePath } from '../../../src/decision/path.js';
import { normalizeHost } from '../../../src/decision/host.js';
import { compileValidatingPolicy } from '../../../src/policy/kyverno/validating-policy.js';
import { celValidatingPolicySchema, compileCelPolicy } from '../../../src/policy/kyverno-authz/validating-policy.js';
import { createEnvoyEnvironment } from '../../../src/policy/kyverno-authz/envoy-library.js';
import {
  ISTIO_JWT, TOOLS_WITH_CAPABILITY, authorizationPolicy, capabilityToken, checkOf, later, pipelineOf, policySetOf, withBearer, withCapability,
} from './fixtures.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const DENY_ISTIO_SECRET = authorizationPolicy('deny-istio-secret', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/tools/istio-secret'] } }] }] });
const DENY_ADMIN_HOST = authorizationPolicy('deny-admin-host', { action: 'DENY', rules: [{ to: [{ operation: { hosts: ['admin.example.com'] } }] }] });
const DENY_ADMIN_SCOPED = authorizationPolicy('deny-on-admin', { action: 'DENY', hosts: ['admin.example.com'], rules: [{}] });
const KYVERNO_NO_SECRET = compileValidatingPolicy({
  apiVersion: 'json.kyverno.io/v1alpha1', kind: 'ValidatingPolicy', metadata: { name: 'no-kyv-secret' },
  spec: { rules: [{
    name: 'no-kyv-secret',
    match: { any: [{ request: { http: { path: '/tools/kyv-secret' } } }] },
    assert: { all: [{ message: 'kyv-secret is off limits', check: { request: { http: { path: '/never' } } } }] },
  }] },
});
const SET = policySetOf({ authorization: [TOOLS_WITH_CAPABILITY, DENY_ISTIO_SECRET, DENY_ADMIN_HOST, DENY_ADMIN_SCOPED], validating: [KYVERNO_NO_SECRET] });
const TOKEN = capabilityToken();

const decide = (path: string, host = 'api.example', headers: Record<string, string> = withCapability(TOKEN)) =>
  pipelineOf(SET).pipeline.decide(checkOf({ method: 'POST', path, host, headers }), later());
const outcome = (d: Decision) => (d.verdict === 'allow' ? 'allow' : `${d.guard}/${d.code}`);

// ---- spellings -------------------------------------------------------------------------

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** One character, maybe percent-encoded (unreserved ones only: others would change meaning). */
const spellChar = (ch: string) =>
  UNRESERVED.test(ch)
    ? fc.constantFrom(ch, `%${ch.charCodeAt(0).toString(16).padStart(2, '0')}`, `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`)
    : fc.constant(ch);

/** A segment's characters, an escape (%XX) in either case as one. */
const spellChars = (segment: string) => fc.tuple(...(segment.match(/%[0-9A-F]{2}|[^]/g) ?? []).map((t) => (t.startsWith('%') ? fc.constantFrom(t, t.toLowerCase()) : spellChar(t))));

const spellSegment = (segment: string) =>
  fc.tuple(spellChars(segment), fc.option(fc.constantFrom(';jsessionid=SECRET', ';a', ';x=1;y=2'), { nil: undefined }))
    .map(([chars, param]) => chars.join('') + (param ?? ''));

/** Noise that normalises away before a segment: `./`, `junk/../`, an extra slash. */
const NOISE = ['', '', './', 'junk/../', '/', './/', 'a;b/../'];
const noise = fc.constantFrom(...NOISE);
/** Before the first segment `.//` leaves a leading `//` once dot segments go: a refused target. */
const firstNoise = fc.constantFrom(...NOISE.filter((n) => n !== './/'));
const separator = fc.constantFrom('/', '/', '\\', '//');

/** A spelling of a normal path like /tools/x: each segment spelt, noise and odd separators between. */
function spellPath(normal: string) {
  const segments = normal.split('/').slice(1);
  return fc.tuple(...segments.map((s, i) => fc.tuple(separator, i === 0 ? firstNoise : noise, spellSegment(s)))).map((parts) => parts.map(([sep, junk, seg]) => `${sep}${junk}${seg}`).join(''))
    // Envoy always sends a leading '/': a leading backslash would be a different (refused) target,
    // and so would a leading `//` or `/\\` (a URL parser reads a host there), also once dot segments go.
    .map((p) => `/${p.replace(/^[/\\]+/, '')}`);
}

/** A spelling of a host: any case, maybe one trailing dot, maybe an empty or explicit port. */
function spellHost(normal: string) {
  return fc.tuple(fc.array(fc.boolean(), { minLength: normal.length, maxLength: normal.length }), fc.boolean(), fc.constantFrom('', ':', ':443', ':8080'))
    .map(([upper, dot, port]) => [...normal].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join('') + (dot ? '.' : '') + port);
}

const RUNS = { numRuns: 150 };

describe('respelt requests', () => {
  describe('when a path denied by an Istio DENY policy is spelt differently', () => {
    it('is denied by the Policy guard, every spelling', async () => {
      await fc.assert(fc.asyncProperty(spellPath('/tools/istio-secret'), async (path) => {
        expect(normalizePath(path)).toBe('/tools/istio-secret');
        expect(outcome(await decide(path))).toBe('Policy/POLICY_DENIED');
      }), RUNS);
    });
  });

  describe('when a path denied by a kyverno ValidatingPolicy is spelt differently', () => {
    it('is denied with the assert message, every spelling (the capability grant alone would allow it)', async () => {
      await fc.assert(fc.asyncProperty(spellPath('/tools/kyv-secret'), async (path) => {
        const d = await decide(path);
        expect(d).toMatchObject({ verdict: 'deny', guard: 'Policy', reason: 'kyv-secret is off limits' });
      }), RUNS);
    });
  });

  describe('when an allowed path is spelt differently', () => {
    it('is allowed by the capability grant and the ALLOW policy alike, and recorded in its normal form', async () => {
      await fc.assert(fc.asyncProperty(spellPath('/tools/ok'), async (path) => {
        const d = await decide(path);
        expect(outcome(d)).toBe('allow');
        expect(d.request.path).toBe('/tools/ok');
      }), RUNS);
    });
  });

  describe('when a denied host is spelt differently', () => {
    const scopedOnly = pipelineOf(policySetOf({ authorization: [TOOLS_WITH_CAPABILITY, DENY_ADMIN_SCOPED] })).pipeline;
    it('is denied by the host rule and the spec.hosts-scoped DENY alike', async () => {
      await fc.assert(fc.asyncProperty(spellHost('admin.example.com'), async (host) => {
        expect(normalizeHost(host).split(':')[0]).toBe('admin.example.com');
        expect(outcome(await decide('/tools/ok', host))).toBe('Policy/POLICY_DENIED');
        // The spec.hosts-scoped DENY alone, without the rule-level host DENY beside it.
        expect(outcome(await scopedOnly.decide(checkOf({ method: 'POST', path: '/tools/ok', host, headers: withCapability(TOKEN) }), later()))).toBe('Policy/POLICY_DENIED');
      }), RUNS);
    });

    it.each(['admin.example.com ', ' admin.example.com', 'user:SECRET@admin.example.com', 'admin.example.com\t'])(
      'refuses the unsafe authority %j by the Request guard',
      async (host) => {
        expect(await decide('/tools/ok', host)).toMatchObject({ verdict: 'deny', guard: 'Request', code: 'REQUEST_MALFORMED' });
      },
    );
  });

  describe('when a denied IP host is spelt as another form of the same address', () => {
    const denyIps = authorizationPolicy('deny-metadata', { action: 'DENY', rules: [{ to: [{ operation: { hosts: ['[::1]', '169.254.169.254'] } }] }] });
    const ipSet = pipelineOf(policySetOf({ authorization: [TOOLS_WITH_CAPABILITY, denyIps] })).pipeline;
    it.each(['[::1]', '[0:0:0:0:0:0:0:1]', '[0::1]:80', '169.254.169.254', '2852039166', '0xa9fea9fe', '0251.0376.0251.0376', '169.254.43518', '[::ffff:169.254.169.254]', '[::ffff:a9fe:a9fe]:80'])(
      'denies %j',
      async (host) => {
        expect(outcome(await ipSet.decide(checkOf({ method: 'POST', path: '/tools/ok', host, headers: withCapability(TOKEN) }), later()))).toBe('Policy/POLICY_DENIED');
      },
    );
  });

  describe('for any path built from a few segments, spelt any way', () => {
    const segment = fc.constantFrom('tools', 'istio-secret', 'kyv-secret', 'ok', '..', '.', 'admin');
    const normalPaths = fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => normalizePath(`/${s.join('/')}`)).filter((p) => p !== '/');
    it('decides exactly as its normal form does (differential)', async () => {
      await fc.assert(fc.asyncProperty(normalPaths.chain((normal) => fc.tuple(fc.constant(normal), spellPath(normal))), async ([normal, spelt]) => {
        expect(outcome(await decide(spelt))).toBe(outcome(await decide(normal)));
      }), RUNS);
    });
  });
});

describe('DENY patterns spelt differently from the requests they name', () => {
  const ALLOW_ALL = authorizationPolicy('allow-all', { action: 'ALLOW', rules: [{}] });
  it.each([
    ['/files/report%3Bdraft', '/files/report%3Bdraft'],
    ['/caf%C3%A9/*', '/caf%C3%A9/menu'],
    ['/~admin/*', '/~admin/panel'],
  ])('a DENY of %s denies every spelling of %s, however the pattern is spelt', async (normal, target) => {
    const spellPattern = spellChars(normal.replace(/\*$/, '')).map((chars) => chars.join('') + (normal.endsWith('*') ? '*' : ''));
    await fc.assert(fc.asyncProperty(spellPattern, spellPath(target), async (pattern, path) => {
      const deny = authorizationPolicy('deny', { action: 'DENY', rules: [{ to: [{ operation: { paths: [pattern] } }] }] });
      const d = await pipelineOf(policySetOf({ authorization: [deny, ALLOW_ALL] })).pipeline.decide(checkOf({ method: 'GET', path, host: 'api.example' }), later());
      expect(d).toMatchObject({ verdict: 'deny', guard: 'Policy' });
    }), { numRuns: 60 });
  });

  it.each([
    ['/v1/keys:rotate', ['/v1/keys:rotate', '/v1/keys%3Arotate', '/v1/keys%3arotate', '/v1/keys%3Arotate;x=1']],
    ['/@admin/*', ['/@admin/panel', '/%40admin/panel', '/./%40admin//panel']],
    ['/caf\u00e9/*', ['/caf\u00e9/menu', '/caf%C3%A9/menu', '/caf%c3%a9/menu']],
    ['/caf%C3%A9/*', ['/caf\u00e9/menu', '/caf%c3%a9/menu']],
    ['/files/a b', ['/files/a b', '/files/a%20b']],
  ])('a DENY of %s denies the spellings an upstream decodes to it: %j', async (pattern, targets) => {
    const deny = authorizationPolicy('deny', { action: 'DENY', rules: [{ to: [{ operation: { paths: [pattern] } }] }] });
    const pipeline = pipelineOf(policySetOf({ authorization: [deny, ALLOW_ALL] })).pipeline;
    for (const path of targets) {
      expect(await pipeline.decide(checkOf({ method: 'GET', path, host: 'api.example' }), later()), path).toMatchObject({ verdict: 'deny', guard: 'Policy' });
    }
  });

  it('a request with no path (a CONNECT) matches no path pattern: not `/`, not `*`', async () => {
    const rootOnly = authorizationPolicy('root-only', { action: 'ALLOW', rules: [{ to: [{ operation: { paths: ['/', '*'] } }] }] });
    const d = await pipelineOf(policySetOf({ authorization: [rootOnly] })).pipeline.decide(checkOf({ method: 'CONNECT', path: '', host: 'internal-db.svc:5432' }), later());
    expect(d).toMatchObject({ verdict: 'deny', guard: 'Policy' });
    expect(d.request.path).toBeUndefined();
  });

  it('a capability grant spelt with escapes grants every spelling of what it names', async () => {
    const token = capabilityToken({ scope: { grants: [{ methods: ['POST'], paths: ['/tools/%7euser/*'] }] } });
    const set = policySetOf({ authorization: [TOOLS_WITH_CAPABILITY] });
    for (const path of ['/tools/~user/x', '/tools/%7Euser/x', '/tools/%7euser/x']) {
      const d = await pipelineOf(set).pipeline.decide(checkOf({ method: 'POST', path, host: 'api.example', headers: withCapability(token) }), later());
      expect(outcome(d)).toBe('allow');
    }
  });

  it('a capability grant no path can match makes the token malformed, not a grant of nothing', async () => {
    const token = capabilityToken({ scope: { grants: [{ methods: ['POST'], paths: ['/tools/{*}/run'] }] } });
    const d = await pipelineOf(policySetOf({ authorization: [TOOLS_WITH_CAPABILITY] })).pipeline.decide(checkOf({ method: 'POST', path: '/tools/a/run', host: 'api.example', headers: withCapability(token) }), later());
    expect(d).toMatchObject({ verdict: 'deny', code: 'CAPABILITY_MALFORMED' });
  });
});

describe('methods spelt differently', () => {
  const denyDelete = authorizationPolicy('deny-delete', { action: 'DENY', rules: [{ to: [{ operation: { methods: ['DELETE'] } }] }] });
  const allowAll = authorizationPolicy('allow-all', { action: 'ALLOW', rules: [{}] });
  const pipeline = pipelineOf(policySetOf({ authorization: [denyDelete, allowAll] })).pipeline;

  // HTTP/2 carries any token as :method; Django and Flask upper-case it (`delete` is DELETE),
  // Go and Tomcat do not: no match, case-sensitive or not, is right for both, so it is refused.
  it.each(['delete', 'Delete', 'DELETE ', 'DEL ETE', 'DELETE\u00a0', 'GET/x'])('refuses the method %j by the Request guard', async (method) => {
    expect(await pipeline.decide(checkOf({ method, path: '/x', host: 'api.example' }), later())).toMatchObject({ verdict: 'deny', guard: 'Request', code: 'REQUEST_MALFORMED' });
  });

  it.each([['DELETE', 'deny'], ['GET', 'allow'], ['PROPFIND', 'allow'], ['M-SEARCH', 'allow']])('decides %s by the policies', async (method, verdict) => {
    expect((await pipeline.decide(checkOf({ method, path: '/x', host: 'api.example' }), later())).verdict).toBe(verdict);
  });
});

describe('headers sent as Envoy sends them with encode_raw_headers (header_map, not headers)', () => {
  const KYVERNO_NO_DEBUG = compileValidatingPolicy({
    apiVersion: 'json.kyverno.io/v1alpha1', kind: 'ValidatingPolicy', metadata: { name: 'no-debug' },
    spec: { rules: [{
      name: 'no-debug',
      match: { any: [{ request: { http: { headers: { 'x-debug': '1' } } } }] },
      assert: { all: [{ message: 'no debugging here', check: { request: { http: { path: '/never' } } } }] },
    }] },
  });
  const CEL_NO_DEBUG = compileCelPolicy(celValidatingPolicySchema.parse({
    apiVersion: 'policies.kyverno.io/v1alpha1', kind: 'ValidatingPolicy', metadata: { name: 'cel-no-debug' },
    spec: { evaluation: { mode: 'Envoy' }, validations: [{ expression: 'object.attributes.request.http.headers[?"x-debug"].orValue("") == "1" ? envoy.Denied(403).Response() : null' }] },
  }), createEnvoyEnvironment());
  const allowAll = authorizationPolicy('allow-all', { action: 'ALLOW', rules: [{}] });

  /** The same request with its headers moved to header_map, raw_value bytes, as encode_raw_headers sends them. */
  const asRawHeaders = (req: ReturnType<typeof checkOf>) => {
    const http = req.attributes!.request!.http!;
    const headers = Object.entries(http.headers ?? {}).map(([key, value]) => ({ key, raw_value: new TextEncoder().encode(String(value)) }));
    return { ...req, attributes: { ...req.attributes, request: { ...req.attributes!.request, http: { ...http, headers: {}, header_map: { headers } } } } };
  };

  it.each([
    ['a kyverno-json ValidatingPolicy', { validating: [KYVERNO_NO_DEBUG] }, 'no-debug'],
    ['a CEL ValidatingPolicy', { cel: [CEL_NO_DEBUG] }, 'cel-no-debug'],
  ])('%s that denies on a header sees it in either form', async (_kind, policies, name) => {
    const pipeline = pipelineOf(policySetOf({ authorization: [allowAll], ...policies })).pipeline;
    const req = checkOf({ method: 'GET', path: '/x', host: 'api.example', headers: { 'x-debug': '1' } });
    for (const sent of [req, asRawHeaders(req)]) expect(await pipeline.decide(sent, later())).toMatchObject({ verdict: 'deny', guard: 'Policy', evidence: expect.arrayContaining([expect.objectContaining({ guard: 'Policy', details: expect.objectContaining({ policy: name }) })]) });
    expect((await pipeline.decide(asRawHeaders(checkOf({ method: 'GET', path: '/x', host: 'api.example' })), later())).verdict).toBe('allow');
  });
});

describe('what a receipt records of a respelt request', () => {
  it('keeps ;params only as a hash, and the raw path only as a hash', async () => {
    const d = await decide('/tools/./hello;jsessionid=SECRET?x=1');
    expect(d.request).toMatchObject({
      path: '/tools/hello',
      params_sha256: sha256(';jsessionid=SECRET'),
      raw_path_sha256: sha256('/tools/./hello;jsessionid=SECRET'),
      query_sha256: sha256('?x=1'),
    });
    expect(JSON.stringify(d)).not.toContain('SECRET');
  });

  it('records the normalised host, and nothing of a refused userinfo', async () => {
    expect((await decide('/tools/ok', 'API.Example.:8443')).request.host).toBe('api.example:8443');
    expect(JSON.stringify(await decide('/tools/ok', 'user:SECRET@api.example'))).not.toContain('SECRET');
  });

  it('has no raw_path_sha256 when the path was sent in its normal form', async () => {
    expect((await decide('/tools/ok')).request).not.toHaveProperty('raw_path_sha256');
  });
});

describe('capability tokens in two headers', () => {
  const other = capabilityToken({ id: 'cap-2' });

  it('denies two different tokens as ambiguous, and removes both headers', async () => {
    const d = await decide('/tools/ok', 'api.example', { ...withCapability(TOKEN), ...withBearer(other) });
    expect(d).toMatchObject({ verdict: 'deny', guard: 'Capability', code: 'CAPABILITY_AMBIGUOUS', httpStatus: 401 });
    expect([...d.credentialHeaders].sort()).toEqual(['authorization', 'x-chio-capability-token']);
  });

  it('allows the same token in both, and removes both headers', async () => {
    const d = await decide('/tools/ok', 'api.example', { ...withCapability(TOKEN), ...withBearer(TOKEN) });
    expect(d.verdict).toBe('allow');
    expect([...d.credentialHeaders].sort()).toEqual(['authorization', 'x-chio-capability-token']);
  });

  it('removes a rejected token in either header too', async () => {
    const d = await decide('/tools/ok', 'api.example', withBearer('bm90LWEtdG9rZW4'));
    expect(d).toMatchObject({ verdict: 'deny', guard: 'Capability', code: 'CAPABILITY_MALFORMED' });
    expect(d.credentialHeaders).toEqual(['authorization']);
  });
});

describe('credentials that must not reach upstream', () => {
  it('removes a capability token repeated in the authorization header (joined by a comma)', async () => {
    const d = await decide('/tools/ok', 'api.example', { authorization: `Bearer ${TOKEN},Bearer ${TOKEN}` });
    expect(d.verdict).toBe('allow');
    expect(d.credentialHeaders).toEqual(['authorization']);
    expect(d.subject.capability_id).toBe('cap-1');
  });

  it('denies two different capability tokens in one repeated authorization header as ambiguous', async () => {
    const d = await decide('/tools/ok', 'api.example', { authorization: `Bearer ${TOKEN}, Bearer ${capabilityToken({ id: 'cap-2' })}` });
    expect(d).toMatchObject({ verdict: 'deny', code: 'CAPABILITY_AMBIGUOUS' });
    expect(d.credentialHeaders).toEqual(['authorization']);
  });

  it('in shadow mode, keeps a forged JWT from upstream as it keeps a valid one', async () => {
    const { pipeline } = pipelineOf(policySetOf({ jwt: true }), { mode: 'shadow' });
    const forged = `${ISTIO_JWT.split('.').slice(0, 2).join('.')}.AAAA`;
    const d = await pipeline.decide(checkOf({ method: 'POST', path: '/tools/ok', host: 'api.example', headers: withBearer(forged) }), later());
    expect(d).toMatchObject({ verdict: 'deny', guard: 'Jwt', shadow: true });
    expect(d.credentialHeaders).toEqual(['authorization']);
  });
});
