/**
 * How `chio prove` reaches a verifier: each request's URL is the --url with the route's path
 * appended, and a GET whose connection was lost before an answer came is sent once more.
 *
 * Appended, not resolved: `new URL('/v1/…', base)` drops the base's path, and a verifier behind
 * a gateway's path prefix (https://gw.example/chio/) could not be reached.
 *
 * Sent once more: fetch keeps a connection open for the next request, and a server closes one
 * idle past its keep-alive time (Chio's, as any Node server's: `Keep-Alive: timeout=5`, closed
 * at 6 s). fetch lets a connection go sooner, 2 s before the advertised time, but counts that
 * time in ticks of its own timer, which fall behind while this process is busy or not scheduled:
 * a request then goes out on a connection the server has just closed, and fails with ECONNRESET
 * or "other side closed" though the verifier is up. A GET changes nothing, so sending it again
 * is safe (RFC 9110 §9.2.2). fetch drops a connection that failed, so the second try goes on a
 * new connection unless another idle one is open (never for `chio prove`, which asks one thing
 * at a time); that one has shown it is alive if its close is not waiting to be read.
 */

/** `path` (from `/`) under the verifier at `base`, keeping the path of `base`. */
export function verifierUrl(base: string, path: string): URL {
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${path}`;
  url.search = '';
  url.hash = '';
  return url;
}

/** What fetch's error is caused by when the connection was reset or closed under the request. */
const CONNECTION_LOST = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

/**
 * GET `url`, twice if the first connection is lost before an answer, both tries within
 * `timeoutMs`: the retry takes no time of its own.
 */
export async function getFromVerifier(url: URL, timeoutMs: number): Promise<Response> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    return await fetch(url, { signal });
  } catch (err) {
    if (signal.aborted || !connectionLost(err)) throw err;
  }
  // One turn of the event loop first: fetch reads the closes waiting on its other idle
  // connections to the verifier, and so does not pick one of those for the second try.
  await new Promise((resolve) => setImmediate(resolve));
  return await fetch(url, { signal });
}

function connectionLost(err: unknown): boolean {
  const code = (err as { cause?: { code?: unknown } } | null)?.cause?.code;
  return typeof code === 'string' && CONNECTION_LOST.has(code);
}
