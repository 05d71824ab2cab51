/**
 * GET / and the explorer's two assets, served from a build made for this test: the page's
 * headers (CSP, nosniff, no framing), a 503 before the page is built, and nothing else served
 * from its folder.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildExplorer } from '../../../scripts/build-explorer.js';
import { startHttpServer, type RunningHttpServer } from '../../../src/http.js';
import { createLogger } from '../../../src/log.js';
import { EXPLORER_CSP, explorerRoute } from '../../../src/verifier/explorer-route.js';

const built = mkdtempSync(join(tmpdir(), 'chio-explorer-'));
const empty = mkdtempSync(join(tmpdir(), 'chio-explorer-empty-'));
const servers: RunningHttpServer[] = [];

async function serve(dir: string): Promise<(path: string, init?: RequestInit) => Promise<Response>> {
  const http = await startHttpServer({ bind: '127.0.0.1', port: 0, log: createLogger('silent'), ready: () => undefined, routes: [explorerRoute(dir)] });
  servers.push(http);
  return (path, init) => fetch(`http://127.0.0.1:${http.port}${path}`, init);
}

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(built, { recursive: true, force: true });
  rmSync(empty, { recursive: true, force: true });
});

describe('explorerRoute', () => {
  let get: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    await buildExplorer(built);
    writeFileSync(join(built, 'secret.txt'), 'not for serving');
    get = await serve(built);
  });

  describe('when the page is built', () => {
    it.each([
      ['/', 'text/html; charset=utf-8', '<script type="module" src="explorer.js">'],
      ['/explorer.js', 'text/javascript; charset=utf-8', 'tlog-proof@v1'],
      ['/explorer.css', 'text/css; charset=utf-8', '.chart'],
      ['/favicon.svg', 'image/svg+xml', '<svg'],
    ])('serves %s with strict headers', async (path, type, contains) => {
      const res = await get(path);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(type);
      expect(res.headers.get('content-security-policy')).toBe(EXPLORER_CSP);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(await res.text()).toContain(contains);
    });

    it('allows no inline script or style, no eval, no other origin and no framing', () => {
      expect(EXPLORER_CSP).toContain("default-src 'none'");
      expect(EXPLORER_CSP).toContain("script-src 'self';");
      expect(EXPLORER_CSP).toContain("frame-ancestors 'none'");
      expect(EXPLORER_CSP).toContain("require-trusted-types-for 'script'");
      expect(EXPLORER_CSP).not.toMatch(/unsafe|\*|data:|https?:/);
    });

    it('answers 304 to a request that names the ETag', async () => {
      const etag = (await get('/')).headers.get('etag')!;
      expect((await get('/', { headers: { 'if-none-match': etag } })).status).toBe(304);
    });

    it.each(['/index.html', '/secret.txt', '/explorer.js/', '/%2e%2e/package.json', '/constructor', '/__proto__'])('leaves %s to the other routes', async (path) => {
      expect((await get(path)).status).toBe(404);
    });

    it('answers only GET', async () => {
      expect((await get('/', { method: 'POST', body: 'x' })).status).toBe(404);
    });
  });

  describe('when the page is not built', () => {
    it('answers 503 saying how to build it', async () => {
      const res = await (await serve(empty))('/');
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ code: 'UNAVAILABLE', error: expect.stringContaining('npm run build') });
    });
  });
});
