/**
 * Reading the body of a fetch answer from a server Chio does not control (a JWKS endpoint, a
 * verifier `chio prove` asks) under a bound: past `max` bytes the body is cancelled, never read
 * on. One that sends without end would otherwise fill memory until the request's timeout
 * (gigabytes in 10 s on loopback). An error while reading is the caller's to name.
 */

/** At most `max` bytes of `res`'s body, and whether that was all of it. */
export async function readResponseBody(res: Response, max: number): Promise<{ bytes: Uint8Array; whole: boolean }> {
  const reader = res.body?.getReader();
  if (reader === undefined) return { bytes: new Uint8Array(0), whole: true };
  const chunks: Uint8Array[] = [];
  let size = 0;
  let whole = true;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (size + value.byteLength > max) {
      chunks.push(value.subarray(0, max - size));
      size = max;
      whole = false;
      await reader.cancel();
      break;
    }
    chunks.push(value);
    size += value.byteLength;
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return { bytes, whole };
}
