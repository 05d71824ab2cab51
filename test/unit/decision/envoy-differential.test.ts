/**
 * Chio's path against Envoy's normalize_path (Istio's default BASE), written out here from
 * Envoy's source so that a path Chio reads one way and the mesh forwards another shows up:
 * chromium's CanonicalizePath decodes escapes of unreserved characters (either hex case) and
 * keeps the others, reads `\` as `/`, removes dot segments as RFC 3986 §5.2.4 does, keeps
 * `;params` and does not merge slashes (merge_slashes, Istio's MERGE_SLASHES, does that after).
 * Envoy forwards what it wrote.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeTarget } from '../../../src/decision/path.js';
import { ChioError } from '../../../src/errors/index.js';
import { authorizationPolicy, checkOf, later, pipelineOf, policySetOf } from './fixtures.js';

const RUNS = { numRuns: 2000, seed: 20_251_104 };
const UPSTREAM = 'upstream.invalid';

/** Envoy's normalize_path on a :path (query and fragment aside). */
function envoyNormalizePath(target: string): string {
  const raw = target.split(/[?#]/, 1)[0]!;
  const decoded = raw
    .replace(/%([0-9a-fA-F]{2})/g, (escape, hex: string) => {
      const ch = String.fromCharCode(parseInt(hex, 16));
      return /[A-Za-z0-9\-._~]/.test(ch) ? ch : escape;
    })
    .replace(/\\/g, '/');
  const segments = decoded.split('/').slice(1);
  const out: string[] = [];
  for (const s of segments) {
    if (s === '..') out.pop();
    else if (s !== '.') out.push(s);
  }
  if (['.', '..'].includes(segments[segments.length - 1]!)) out.push('');
  return `/${out.join('/')}`;
}

/** What an upstream behind merge_slashes that cuts `;params` (Tomcat and its kind) routes. */
const routed = (envoyPath: string) => envoyPath.split('/').map((s) => s.split(';', 1)[0]).join('/').replace(/\/+/g, '/');

/** Chio's reading, or undefined when it refuses the path. */
function chioPath(target: string): string | undefined {
  try {
    return normalizeTarget(target).path;
  } catch (err) {
    if (err instanceof ChioError) return undefined;
    throw err;
  }
}

/** Paths built from the tokens that normalisers disagree on: dots in every spelling, empty segments, params, escapes. */
const segment = fc.constantFrom('admin', '%61dmin', 'evil.example', 'a', '~', '%7e', '.', '..', '%2e', '%2E', '.%2e', '%2e%2E', '', ';x', 'b;y=1');
const separator = fc.constantFrom('/', '/', '/', '\\');
const target = fc
  .tuple(fc.array(fc.tuple(separator, segment), { minLength: 1, maxLength: 7 }), fc.constantFrom('', '?q=/admin', '#/x'))
  .map(([parts, suffix]) => parts.map(([sep, seg]) => sep + seg).join('') + suffix)
  .filter((t) => t.startsWith('/'));

describe('paths: Chio against Envoy normalize_path', () => {
  it('whatever Chio accepts, Envoy forwards a path no URL parser reads an authority from', () => {
    fc.assert(
      fc.property(target, (t) => {
        if (chioPath(t) === undefined) return;
        const forwarded = envoyNormalizePath(t);
        expect(forwarded.startsWith('//'), `${t} is forwarded as ${forwarded}`).toBe(false);
        expect(new URL(forwarded, `http://${UPSTREAM}`).host).toBe(UPSTREAM);
      }),
      RUNS,
    );
  });

  it('whatever Chio accepts, it reads as the path Envoy forwards, slashes merged and params cut', () => {
    fc.assert(
      fc.property(target, (t) => {
        const chio = chioPath(t);
        if (chio !== undefined) expect(chio, t).toBe(routed(envoyNormalizePath(t)));
      }),
      RUNS,
    );
  });

  const DENY_ADMIN = authorizationPolicy('deny-admin', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin', '/admin/*'] } }] }] });
  const ALLOW_ALL = authorizationPolicy('allow-all', { action: 'ALLOW', rules: [{}] });
  const pipeline = pipelineOf(policySetOf({ authorization: [DENY_ADMIN, ALLOW_ALL] })).pipeline;

  // Envoy's normalize_path writes each as //evil.example/admin (host evil.example, path /admin
  // to a WHATWG parser); Chio read /evil.example/admin and the DENY of /admin missed it.
  it.each(['/.//evil.example/admin', '/..//evil.example/admin', '/%2e//evil.example/admin', '/a/..//evil.example/admin', '/.\\/evil.example/admin'])(
    'a DENY of /admin is not walked around by %j',
    async (path) => {
      expect(new URL(envoyNormalizePath(path), `http://${UPSTREAM}`).pathname).toBe('/admin');
      expect(await pipeline.decide(checkOf({ method: 'GET', path, host: 'api.example' }), later())).toMatchObject({ verdict: 'deny', guard: 'Request' });
    },
  );

  // Envoy keeps `;x`, so /;x//a is no network-path reference to anyone: still read.
  it.each([['/;x//a', '/a'], ['/./', '/'], ['/a/../', '/'], ['/./a', '/a']])('%j is still read as %j', (raw, normal) => {
    expect(chioPath(raw)).toBe(normal);
  });
});
