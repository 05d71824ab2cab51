/**
 * Entry bundles gzip-compressed at the HTTP layer (C2SP tlog-tiles: "Entry bundles SHOULD be
 * compressed at the HTTP layer", with gzip or what Accept-Encoding asks for), over real HTTP
 * with node:http, which, unlike fetch, neither asks for gzip nor undoes it on its own.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { request } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { chainOf } from '../receipt/helpers.js';
import { useTestStore } from '../store/nats.js';
import { LogFixture } from '../store/log-fixture.js';
import { ORIGIN, kernel, logKey, useVerifier } from './use-verifier.js';
import { acceptsGzip } from '../../../src/verifier/bundle-encoding.js';

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('entry bundles over HTTP', () => {
  const store = useTestStore();
  const verifier = useVerifier(store);

  beforeAll(async () => {
    const log = new LogFixture(store);
    await log.store(chainOf(300, kernel, 'chain-gzip'));
    await log.integrate(300);
    await log.publishCheckpoint(ORIGIN, logKey.signerKey);
  });

  it('are gzip-compressed for a client that accepts gzip, and decompress to the bundle served to one that does not', async () => {
    for (const path of ['/tile/entries/000', '/tile/entries/001.p/44']) {
      const plain = await get(verifier.port, path);
      const gzip = await get(verifier.port, path, { 'accept-encoding': 'gzip, deflate, br' });
      expect([plain.status, gzip.status], path).toEqual([200, 200]);
      expect(plain.headers['content-encoding'], path).toBeUndefined();
      expect(gzip.headers['content-encoding'], path).toBe('gzip');
      // A shared cache must keep the two apart, and tell them apart when revalidating.
      for (const answer of [plain, gzip]) expect(answer.headers.vary, path).toBe('accept-encoding');
      expect(gzip.headers.etag, path).not.toBe(plain.headers.etag);
      expect(Number(gzip.headers['content-length']), path).toBe(gzip.body.length);
      expect(gunzipSync(gzip.body).equals(plain.body), path).toBe(true);
    }
    const full = [await get(verifier.port, '/tile/entries/000'), await get(verifier.port, '/tile/entries/000', { 'accept-encoding': 'gzip' })];
    // 256 receipts' JSON: compressed to well under a third.
    expect(full[1]!.body.length * 3).toBeLessThan(full[0]!.body.length);
  });

  it('are sent as they are when cut narrower than the published tree holds them: compressing each cut would cost every request', async () => {
    // Entry bundle 000 is full at size 300: .p/5 is a cut, made afresh for each request.
    const cut = await get(verifier.port, '/tile/entries/000.p/5', { 'accept-encoding': 'gzip' });
    expect(cut.status).toBe(200);
    expect(cut.headers['content-encoding']).toBeUndefined();
    expect(cut.headers.vary).toBe('accept-encoding');
    expect(cut.body.equals((await get(verifier.port, '/tile/entries/000.p/5')).body)).toBe(true);
  });

  it('answer 304 to the gzip ETag without a Content-Encoding, and HEAD with the gzip length', async () => {
    const path = '/tile/entries/000';
    const gzip = await get(verifier.port, path, { 'accept-encoding': 'gzip' });
    const notModified = await get(verifier.port, path, { 'accept-encoding': 'gzip', 'if-none-match': String(gzip.headers.etag) });
    expect(notModified.status).toBe(304);
    expect(notModified.headers['content-encoding']).toBeUndefined();
    expect(notModified.headers.vary).toBe('accept-encoding');
    // The gzip ETag names the gzip representation only.
    expect((await get(verifier.port, path, { 'if-none-match': String(gzip.headers.etag) })).status).toBe(200);
    const head = await get(verifier.port, path, { 'accept-encoding': 'gzip' }, 'HEAD');
    expect(head.headers['content-length']).toBe(gzip.headers['content-length']);
    expect(head.headers['content-encoding']).toBe('gzip');
  });

  it('are not compressed for a client that refuses gzip; hash tiles (random bytes) never are', async () => {
    for (const acceptEncoding of ['identity', 'gzip;q=0', 'br', 'gzip;q=0, *']) {
      const res = await get(verifier.port, '/tile/entries/000', { 'accept-encoding': acceptEncoding });
      expect(res.headers['content-encoding'], acceptEncoding).toBeUndefined();
    }
    const tile = await get(verifier.port, '/tile/0/000', { 'accept-encoding': 'gzip' });
    expect(tile.headers['content-encoding']).toBeUndefined();
    expect(tile.body.length).toBe(8192);
  });
});

describe('acceptsGzip', () => {
  it('reads Accept-Encoding as RFC 9110 §12.5.3 does: gzip or x-gzip or *, unless given q=0', () => {
    for (const yes of ['gzip', 'GZIP', 'x-gzip', 'deflate, gzip;q=0.5', 'gzip ; q=1.0', '*', 'br, *;q=0.1', 'gzip;q=0.001']) expect(acceptsGzip(yes), yes).toBe(true);
    for (const no of [undefined, '', 'identity', 'br, deflate', 'gzip;q=0', 'gzip;q=0.000', '*;q=0', 'gzip;q=0, *', 'gzipx', 'gzip;q=abc', 'gzip;q=2']) expect(acceptsGzip(no), String(no)).toBe(false);
  });
});
