/**
 * The verifier's HTTP API (SPEC §7) over real HTTP on loopback and a real nats-server, with
 * the log written through src/store (test/unit/store/log-fixture.ts), not by a ledger.
 */
import { describe, expect, it, beforeAll } from 'vitest';
import { TimeoutError } from '@nats-io/transport-node';
import { canonicalBytes } from '../../../src/receipt/jcs.js';
import {
  checkRecord, checkTree, decodeEntryBundle, leafHash, newEd25519SignerKey, openCheckpoint, type Checkpoint,
} from '../../../src/tlog/index.js';
import { fromBase64, toHex } from '../../../src/encoding.js';
import { verifyReceiptProof, type ReceiptProof } from '../../../src/verify/receipt-proof.js';
import { verifyCorrection } from '../../../src/verify/correction.js';
import { toCorrectionDraft } from '../../../src/receipt/correction.js';
import type { Receipt } from '../../../src/receipt/receipt.js';
import { chainOf, signReceipt } from '../receipt/helpers.js';
import { useTestStore } from '../store/nats.js';
import { LogFixture } from '../store/log-fixture.js';
import { CHECKPOINTS_SUBJECT } from '../../../src/store/resources.js';
import { ORIGIN, kernel, logKey, useVerifier } from './use-verifier.js';

describe('the verifier API over a log with published checkpoints', () => {
  const store = useTestStore();
  const verifier = useVerifier(store);
  const receipts = chainOf(262, kernel, 'chain-v');
  const checkpoints: Checkpoint[] = [];

  beforeAll(async () => {
    const log = new LogFixture(store);
    await log.store(receipts);
    await log.integrate(3);
    checkpoints.push(openCheckpoint(await log.publishCheckpoint(ORIGIN, logKey.signerKey), logKey.verifierKey));
    await log.integrate(254);
    checkpoints.push(openCheckpoint(await log.publishCheckpoint(ORIGIN, logKey.signerKey), logKey.verifierKey));
    await log.integrate(3); // leaves 257 … 259: integrated, not yet published; 260 and 261 only stored
  });

  describe('GET /checkpoint', () => {
    it('answers the latest checkpoint note as text', async () => {
      const res = await verifier.get('/checkpoint');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(openCheckpoint(await res.text(), logKey.verifierKey).size).toBe(257);
    });
  });

  describe('HEAD', () => {
    it('answers as GET does, without the body: a checkpoint, a tile, a proof, health', async () => {
      for (const path of ['/checkpoint', '/tile/0/000', `/v1/receipts/${receipts[0]!.id}`, '/health', '/tile/0/999']) {
        const [get, head] = [await verifier.get(path), await verifier.get(path, { method: 'HEAD' })];
        const body = new Uint8Array(await get.arrayBuffer());
        expect(head.status, path).toBe(get.status);
        for (const name of ['content-type', 'content-length', 'etag', 'cache-control']) expect(head.headers.get(name), `${path} ${name}`).toBe(get.headers.get(name));
        expect((await head.arrayBuffer()).byteLength, path).toBe(0);
        expect(body.length, path).toBeGreaterThan(0);
      }
    });

    it('is not taken for another method: POST /checkpoint is still 404', async () => {
      expect((await verifier.get('/checkpoint', { method: 'POST', body: 'x' })).status).toBe(404);
    });
  });

  describe('GET /v1/receipts/<id>', () => {
    it('answers 200 with an inclusion proof that verifies against the checkpoint it names', async () => {
      for (const index of [0, 2, 255, 256]) {
        const res = await verifier.get(`/v1/receipts/${receipts[index]!.id}`);
        expect(res.status, `index ${index}`).toBe(200);
        const body = (await res.json()) as ReceiptProof;
        expect(body.receipt).toEqual(receipts[index]);
        expect(body.index).toBe(index);
        const cp = openCheckpoint(body.checkpoint, logKey.verifierKey);
        expect(cp.size).toBe(257);
        expect(() => checkRecord(body.inclusion_proof.map(fromBase64), cp.size, cp.root, index, leafHash(canonicalBytes(receipts[index]!)))).not.toThrow();
      }
    });

    it('answers 202 with the index for a receipt integrated but not yet in a checkpoint', async () => {
      for (const index of [257, 259]) {
        const res = await verifier.get(`/v1/receipts/${receipts[index]!.id}`);
        expect(res.status, `index ${index}`).toBe(202);
        expect(await res.json()).toEqual({ status: 'pending', index });
      }
    });

    it('answers 202 for a receipt stored but not yet integrated', async () => {
      const res = await verifier.get(`/v1/receipts/${receipts[261]!.id}`);
      expect(res.status).toBe(202);
      expect(await res.json()).toEqual({ status: 'pending' });
    });

    it('answers 404 for an id no stored receipt has', async () => {
      const res = await verifier.get(`/v1/receipts/${'ab'.repeat(32)}`);
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ error: 'no receipt with this id is stored', code: 'NOT_FOUND' });
    });

    it('answers 400 for an id that is not 64 lower-case hex digits', async () => {
      for (const id of ['not-an-id', 'AB'.repeat(32), 'ab'.repeat(31), `${'ab'.repeat(32)}00`]) {
        expect((await verifier.get(`/v1/receipts/${id}`)).status, id).toBe(400);
      }
    });
  });

  describe('GET /v1/consistency', () => {
    it('proves that the newer checkpoint extends the older one', async () => {
      const [older, newer] = checkpoints as [Checkpoint, Checkpoint];
      const res = await verifier.get(`/v1/consistency?old=${older.size}&new=${newer.size}`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { old: number; new: number; proof: string[] };
      expect([body.old, body.new]).toEqual([3, 257]);
      expect(() => checkTree(body.proof.map(fromBase64), newer.size, newer.root, older.size, older.root)).not.toThrow();
    });

    it('answers 400 unless 1 <= old <= new <= the latest checkpoint size, both decimal', async () => {
      // 260 is a tree the ledger stored but has not published yet.
      for (const query of ['old=0&new=3', 'old=5&new=4', 'old=3&new=258', 'old=3&new=260', 'old=3', 'new=3', 'old=0x1&new=3', 'old=1e1&new=20', 'old=-1&new=3', 'old=1.5&new=3', 'old=03&new=257', 'old=3&new=0257']) {
        expect((await verifier.get(`/v1/consistency?${query}`)).status, query).toBe(400);
      }
      expect((await verifier.get('/v1/consistency?old=257&new=257')).status).toBe(200);
    });
  });

  describe('GET /v1/keys', () => {
    it("answers the log's and the kernels' verifier keys", async () => {
      expect(await (await verifier.get('/v1/keys')).json()).toEqual({ log: logKey.verifierKey, kernels: [kernel.verifierKey] });
    });
  });

  describe('GET /tile/…', () => {
    it('serves the tiles of the published tree, full ones cacheable forever', async () => {
      const full = await verifier.get('/tile/0/000');
      expect(full.status).toBe(200);
      expect(full.headers.get('cache-control')).toContain('immutable');
      const hashes = new Uint8Array(await full.arrayBuffer());
      expect(toHex(hashes.subarray(0, 32))).toBe(toHex(leafHash(canonicalBytes(receipts[0]!))));
      expect((await verifier.get('/tile/0/001.p/1')).status).toBe(200);
      expect((await verifier.get('/tile/1/000.p/1')).status).toBe(200);
    });

    // tlog-tiles: the tile endpoint, `.p/<W>` included, is immutable and SHOULD be cached long.
    // A partial tile of width W is the first W hashes of its tile, in every tree that has them:
    // the width the first checkpoint (size 3) published is served, the same, from the full tile.
    it('serves partial tiles and bundles cacheable forever too, the same bytes after the tree grew past them', async () => {
      for (const path of ['/tile/0/001.p/1', '/tile/1/000.p/1', '/tile/0/000.p/3', '/tile/entries/000.p/3', '/tile/entries/001.p/1']) {
        const res = await verifier.get(path);
        expect(res.status, path).toBe(200);
        expect(res.headers.get('cache-control'), path).toBe('public, max-age=31536000, immutable');
      }
      const partial = new Uint8Array(await (await verifier.get('/tile/0/000.p/3')).arrayBuffer());
      expect(partial.length).toBe(3 * 32);
      expect(toHex(partial)).toBe(receipts.slice(0, 3).map((r) => toHex(leafHash(canonicalBytes(r)))).join(''));
      const bundle = new Uint8Array(await (await verifier.get('/tile/entries/000.p/3')).arrayBuffer());
      expect(decodeEntryBundle(bundle).map(toHex)).toEqual(receipts.slice(0, 3).map((r) => toHex(canonicalBytes(r))));
    });

    it('serves the entry bundles of the published tree', async () => {
      const res = await verifier.get('/tile/entries/000');
      expect(res.status).toBe(200);
      expect(decodeEntryBundle(new Uint8Array(await res.arrayBuffer())).map(toHex)).toEqual(receipts.slice(0, 256).map((r) => toHex(canonicalBytes(r))));
    });

    it('answers 404 for tiles past the published tree, even when the ledger already stored them', async () => {
      for (const path of ['/tile/0/001.p/2', '/tile/0/001.p/4', '/tile/entries/001.p/4', '/tile/0/002.p/1', '/tile/2/000.p/1']) {
        expect((await verifier.get(path)).status, path).toBe(404);
      }
    });

    it('answers 400 for a path that is not a tlog-tiles path', async () => {
      for (const path of ['/tile/0/x/../../etc', '/tile/0/1', '/tile/0/000.p/256', '/tile/0/000.p/0']) {
        expect((await verifier.get(path)).status, path).toBe(400);
      }
    });
  });
});

describe('the verifier API over a log with a correction', () => {
  const store = useTestStore();
  const verifier = useVerifier(store);
  const [r1, r2] = chainOf(2, kernel, 'chain-c') as [Receipt, Receipt];
  const correction = signReceipt(toCorrectionDraft(r2, '2025-01-01T00:59:00.000Z'), { chain: 'chain-c', seq: 3, prev: r2.id }, kernel);
  const trust = { logKey: logKey.verifierKey, kernelKeys: [kernel.verifierKey] };
  const proofOf = async (id: string) => {
    const res = await verifier.get(`/v1/receipts/${id}`);
    expect(res.status).toBe(200);
    return (await res.json()) as ReceiptProof;
  };

  beforeAll(async () => {
    const log = new LogFixture(store);
    await log.store([r1, r2, correction]);
    await log.integrate(3);
    await log.publishCheckpoint(ORIGIN, logKey.signerKey);
  });

  it('answers corrected_by for the corrected receipt, naming a correction whose own proof shows what it corrects', async () => {
    const corrected = verifyReceiptProof(await proofOf(r2.id), trust, r2.id);
    expect(corrected.correctedBy).toBe(correction.id);
    const proven = verifyReceiptProof(await proofOf(correction.id), trust, correction.id);
    expect(proven.receipt.corrects).toBe(r2.id);
    expect(() => verifyCorrection(corrected, proven)).not.toThrow();
  });

  it('answers no corrected_by for a receipt nothing corrects, nor for the correction itself', async () => {
    expect(await proofOf(r1.id)).not.toHaveProperty('corrected_by');
    expect(await proofOf(correction.id)).not.toHaveProperty('corrected_by');
  });
});

describe('the verifier API before the first checkpoint', () => {
  const store = useTestStore();
  const verifier = useVerifier(store);
  const receipts = chainOf(2, kernel, 'chain-w');

  beforeAll(async () => {
    const log = new LogFixture(store);
    await log.store(receipts);
    await log.integrate(2);
  });

  it('has no checkpoint to serve (404), no tile (404) and no consistency proof (400)', async () => {
    expect((await verifier.get('/checkpoint')).status).toBe(404);
    expect((await verifier.get('/tile/0/000.p/1')).status).toBe(404);
    expect((await verifier.get('/v1/consistency?old=1&new=2')).status).toBe(400);
  });

  it('answers 202 with the index for an integrated receipt', async () => {
    const res = await verifier.get(`/v1/receipts/${receipts[1]!.id}`);
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ status: 'pending', index: 1 });
  });

  it('refuses to serve a checkpoint the log key did not sign (500, an alarm)', async () => {
    const stranger = newEd25519SignerKey(ORIGIN, new Uint8Array(32).fill(8));
    await new LogFixture(store).publishCheckpoint(ORIGIN, stranger.signerKey, 0);
    expect((await verifier.get('/checkpoint')).status).toBe(500);
  });
});

describe('the verifier API when someone else publishes on the checkpoints subject', () => {
  const store = useTestStore();
  const verifier = useVerifier(store);
  const receipts = chainOf(2, kernel, 'chain-f');
  let note: string;

  beforeAll(async () => {
    const log = new LogFixture(store);
    await log.store(receipts);
    await log.integrate(2);
    note = await log.publishCheckpoint(ORIGIN, logKey.signerKey);
    await store.js.publish(CHECKPOINTS_SUBJECT, new TextEncoder().encode('not a checkpoint'));
    await log.publishCheckpoint(ORIGIN, newEd25519SignerKey(ORIGIN, new Uint8Array(32).fill(8)).signerKey, 2);
  });

  it('serves the latest checkpoint of this log past them, and proofs against it', async () => {
    const res = await verifier.get('/checkpoint');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(note);
    expect((await verifier.get(`/v1/receipts/${receipts[1]!.id}`)).status).toBe(200);
    expect((await verifier.get('/checkpoint?size=2')).status).toBe(200);
  });
});

describe('the verifier API when the store answers from behind', () => {
  const store = useTestStore();
  const verifier = useVerifier(store);
  const receipts = chainOf(3, kernel, 'chain-behind');
  // A verifier per test below: each starts with empty tile caches.
  const streamReader = useVerifier(store);
  const bundleReader = useVerifier(store);
  const consistencyReader = useVerifier(store);
  const tileReader = useVerifier(store);

  beforeAll(async () => {
    const log = new LogFixture(store);
    await log.store(receipts);
    await log.integrate(3);
    await log.publishCheckpoint(ORIGIN, logKey.signerKey);
  });

  it('answers 503 with Retry-After, not 500, when a tile a published checkpoint covers is not found, and 200 once it is', async () => {
    const path = 'tile/0/000.p/3';
    const tile = (await store.resources.tiles.get(path))!.value;
    await store.resources.tiles.delete(path);
    const res = await verifier.get(`/v1/receipts/${receipts[0]!.id}`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(((await res.json()) as { code: string }).code).toBe('UNAVAILABLE');
    await store.resources.tiles.put(path, tile);
    expect((await verifier.get(`/v1/receipts/${receipts[0]!.id}`)).status).toBe(200);
  });

  it('answers a consistency proof to a checkpoint whose tiles are missing 503 with Retry-After, not 400', async () => {
    const path = 'tile/0/000.p/3';
    const tile = (await store.resources.tiles.get(path))!.value;
    await store.resources.tiles.delete(path);
    try {
      const res = await consistencyReader.get('/v1/consistency?old=1&new=3');
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
    } finally {
      await store.resources.tiles.put(path, tile);
    }
    expect((await consistencyReader.get('/v1/consistency?old=1&new=3')).status).toBe(200);
  });

  it('answers a tile 503, not 404, when the store cannot be read now', async () => {
    const get = store.resources.tiles.get.bind(store.resources.tiles);
    store.resources.tiles.get = () => Promise.reject(new TimeoutError());
    try {
      const res = await tileReader.get('/tile/0/000.p/3');
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
    } finally {
      store.resources.tiles.get = get;
    }
    expect((await tileReader.get('/tile/0/000.p/3')).status).toBe(200);
  });

  it('reads a leaf from the receipts stream, checked against the tree\'s leaf hash: no entry bundle needed', async () => {
    const path = 'tile/entries/000.p/3';
    const bundle = (await store.resources.entries.getBlob(path))!;
    await store.resources.entries.delete(path);
    try {
      const res = await streamReader.get(`/v1/receipts/${receipts[1]!.id}`);
      expect(res.status).toBe(200);
      const proof = (await res.json()) as ReceiptProof;
      expect(proof.receipt.id).toBe(receipts[1]!.id);
      verifyReceiptProof(proof, { logKey: logKey.verifierKey, kernelKeys: [kernel.verifierKey] }, receipts[1]!.id);
    } finally {
      await store.resources.entries.putBlob({ name: path }, bundle);
    }
  });

  it('serves the entry bundle\'s leaf when the stream message the index names is not that leaf', async () => {
    // An index entry naming another receipt's message: the stream's bytes do not hash to the leaf.
    const entry = (await store.resources.index.get(receipts[1]!.id))!.json<{ index: number; seq: number }>();
    const other = (await store.resources.index.get(receipts[2]!.id))!.json<{ index: number; seq: number }>();
    await store.resources.index.put(receipts[1]!.id, JSON.stringify({ index: entry.index, seq: other.seq }));
    const res = await bundleReader.get(`/v1/receipts/${receipts[1]!.id}`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as ReceiptProof).receipt.id).toBe(receipts[1]!.id);
  });
});
