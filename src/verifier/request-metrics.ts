/**
 * Verifier request latency (chio_verifier_request_duration_seconds{route}). The route label is
 * one of a fixed few names, never the path itself: paths carry receipt ids and tile numbers,
 * and a label per id would grow the metric without bound.
 */
import type { Route } from '../http.js';
import { verifierRequestDuration } from '../metrics.js';

/** Every value the `route` label takes. */
export const VERIFIER_ROUTES = ['checkpoint', 'receipt', 'proof', 'consistency', 'keys', 'policy', 'tile', 'entries', 'verify', 'other'] as const;
export type VerifierRoute = (typeof VERIFIER_ROUTES)[number];

/** The route label of a request path. */
export function routeOf(pathname: string): VerifierRoute {
  if (pathname === '/checkpoint') return 'checkpoint';
  if (/^\/v1\/receipts\/[^/]*\/proof$/.test(pathname)) return 'proof';
  if (pathname.startsWith('/v1/receipts/')) return 'receipt';
  if (pathname === '/v1/consistency') return 'consistency';
  if (pathname === '/v1/keys') return 'keys';
  if (pathname.startsWith('/v1/policies/')) return 'policy';
  if (pathname === '/v1/verify') return 'verify';
  if (pathname.startsWith('/tile/entries/')) return 'entries';
  if (pathname.startsWith('/tile/')) return 'tile';
  return 'other';
}

/** One route that times every request the given routes answer, until its answer is sent. */
export function timedRoutes(routes: readonly Route[]): Route {
  return async (req, res, url) => {
    const started = performance.now();
    const route = routeOf(url.pathname);
    res.once('close', () => verifierRequestDuration.observe({ route }, (performance.now() - started) / 1000));
    for (const r of routes) if (await r(req, res, url)) return true;
    return false;
  };
}
