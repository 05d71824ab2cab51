/**
 * The explorer page (SPEC §7, `GET /`): index.html, explorer.css, explorer.js and favicon.svg
 * as scripts/build-explorer.ts built them into dist/explorer/ (`npm run build`). Only these four
 * paths are served, each read once and kept; before the page is built `GET /` answers 503
 * saying so, and the rest of the API is unaffected.
 *
 * Headers: a Content-Security-Policy that lets the page load its own script and stylesheet and
 * fetch from this origin only, with no inline code, no eval and Trusted Types required for
 * every DOM sink (the page writes text only), so a receipt's content can never run as code;
 * no framing, no referrer. `nosniff` is set on every answer by http.ts.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { sendCacheable, sendError, type Route } from '../http.js';

/** dist/explorer/ of this package, from src/verifier/ (tsx) and dist/verifier/ (built) alike. */
export const DEFAULT_EXPLORER_DIR = fileURLToPath(new URL('../../dist/explorer/', import.meta.url));

export const EXPLORER_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join('; ');

const PAGE_HEADERS = {
  'content-security-policy': EXPLORER_CSP,
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/explorer.js': { file: 'explorer.js', type: 'text/javascript; charset=utf-8' },
  '/explorer.css': { file: 'explorer.css', type: 'text/css; charset=utf-8' },
  '/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
};

export function explorerRoute(dir: string = DEFAULT_EXPLORER_DIR): Route {
  const kept = new Map<string, Uint8Array>();
  const read = (file: string): Uint8Array | undefined => {
    let bytes = kept.get(file);
    if (bytes) return bytes;
    try {
      bytes = readFileSync(join(dir, file));
    } catch {
      return undefined; // not built (yet): looked for again on the next request
    }
    kept.set(file, bytes);
    return bytes;
  };
  return (req, res, url) => {
    const asset = Object.hasOwn(ASSETS, url.pathname) ? ASSETS[url.pathname] : undefined;
    if (req.method !== 'GET' || !asset) return false;
    const bytes = read(asset.file);
    if (!bytes) return sendError(res, 'UNAVAILABLE', 'the explorer page is not built; run `npm run build`'), true;
    // The page and its parts change only with a new build: revalidate with the ETag.
    return sendCacheable(req, res, 200, bytes, asset.type, false, PAGE_HEADERS), true;
  };
}
