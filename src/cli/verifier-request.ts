/**
 * How `chio prove` reaches a verifier: each request's URL is the --url with the route's path
 * appended, and a GET whose connection was lost before an answer came is sent once more
 * (src/http-get-retry.ts says why).
 *
 * Appended, not resolved: `new URL('/v1/…', base)` drops the base's path, and a verifier behind
 * a gateway's path prefix (https://gw.example/chio/) could not be reached.
 */
import { getOnceMoreIfLost } from '../http-get-retry.js';

/** `path` (from `/`) under the verifier at `base`, keeping the path of `base`. */
export function verifierUrl(base: string, path: string): URL {
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${path}`;
  url.search = '';
  url.hash = '';
  return url;
}

/**
 * GET `url`, twice if the first connection is lost before an answer, both tries within
 * `timeoutMs`. `chio prove` asks one thing at a time, so no other idle connection to the
 * verifier is open for the second try: it goes on a new one.
 */
export function getFromVerifier(url: URL, timeoutMs: number): Promise<Response> {
  return getOnceMoreIfLost(url, { signal: AbortSignal.timeout(timeoutMs) });
}
