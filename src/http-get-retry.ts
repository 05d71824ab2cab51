/**
 * A GET whose kept-alive connection was lost before any answer came is sent once more: what
 * `chio prove` asks a verifier and what Chio asks a JWKS endpoint go through here.
 *
 * Why: fetch keeps a connection open for the next request, and a server closes one idle past
 * its keep-alive time (Node's servers, Chio's included: `Keep-Alive: timeout=5`, closed at 6 s).
 * fetch lets a connection go sooner, 2 s before the advertised time, but counts that time in
 * ticks of its own timer, which fall behind while this process is busy or not scheduled: a
 * request then goes out on a connection the server has just closed, and fails with ECONNRESET
 * or "other side closed" though the server is up. A GET changes nothing, so sending it again is
 * safe (RFC 9110 §9.2.2). fetch drops a connection that failed, so the second try goes on a new
 * connection unless another idle one is open; that one has shown it is alive if its close is
 * not waiting to be read.
 */

/** What fetch's error is caused by when the connection was reset or closed under the request. */
const CONNECTION_LOST = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);

/**
 * GET `url` with `init`, twice if the first connection is lost before an answer, both tries
 * under `init.signal`: the retry takes no time of its own.
 */
export async function getOnceMoreIfLost(url: URL, init: RequestInit & { signal: AbortSignal }, fetchFn: typeof fetch = fetch): Promise<Response> {
  try {
    return await fetchFn(url, init);
  } catch (err) {
    if (init.signal.aborted || !connectionLost(err)) throw err;
  }
  // One turn of the event loop first: fetch reads the closes waiting on its other idle
  // connections to the server, and so does not pick one of those for the second try.
  await new Promise((resolve) => setImmediate(resolve));
  return await fetchFn(url, init);
}

function connectionLost(err: unknown): boolean {
  const code = (err as { cause?: { code?: unknown } } | null)?.cause?.code;
  return typeof code === 'string' && CONNECTION_LOST.has(code);
}
