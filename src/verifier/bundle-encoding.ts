/**
 * Entry bundles compressed at the HTTP layer, as C2SP tlog-tiles asks ("Entry bundles SHOULD be
 * compressed at the HTTP layer"): gzip when the request's Accept-Encoding takes it, the bundle
 * as it is otherwise. A bundle is receipts' JSON and shrinks several-fold; hash tiles are
 * SHA-256 output, which gzip only makes longer, so they are sent as they are.
 */
import { gzipSync } from 'node:zlib';

/**
 * True when an Accept-Encoding field value (RFC 9110 §12.5.3) takes gzip: `gzip` (or its alias
 * `x-gzip`) listed with a weight above 0, or else `*` so listed. No field: identity only.
 */
export function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  let gzip: number | undefined;
  let any: number | undefined;
  for (const item of header.split(',')) {
    const [coding = '', ...params] = item.split(';').map((part) => part.trim().toLowerCase());
    const weight = weightOf(params);
    if (coding === 'gzip' || coding === 'x-gzip') gzip = weight;
    else if (coding === '*') any = weight;
  }
  return (gzip ?? any ?? 0) > 0;
}

/** A qvalue (`q=0.5`: 0 to 1, at most three decimals); 1 when absent, 0 when not a qvalue. */
function weightOf(params: string[]): number {
  const q = params.find((p) => /^q\s*=/.test(p));
  if (q === undefined) return 1;
  const value = q.slice(q.indexOf('=') + 1).trim();
  return /^(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)$/.test(value) ? Number(value) : 0;
}

/**
 * Gzipped bundles by the bundle bytes they were made from: the tile store hands out the same
 * bytes for a bundle it keeps in memory, so a bundle read again is compressed once, and the
 * entry goes when those bytes go. Bytes are never changed in place.
 */
const gzipped = new WeakMap<Uint8Array, Uint8Array>();

/** `bundle` gzip-compressed (a few milliseconds of CPU for a full bundle, once per bundle kept in memory). */
export function gzipBundle(bundle: Uint8Array): Uint8Array {
  let out = gzipped.get(bundle);
  if (!out) {
    out = gzipSync(bundle);
    gzipped.set(bundle, out);
  }
  return out;
}
