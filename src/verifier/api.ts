/**
 * The verifier's HTTP API (SPEC §7). Stateless: every answer is read from JetStream (the
 * checkpoints stream, the index bucket, the receipts stream, the tiles, the policy archive), so
 * any number of verifiers can serve one log. What it keeps in memory (tiles, the latest
 * checkpoint for LATEST_REUSE_MS) is a cache of what JetStream holds, never a record.
 *
 *   GET /checkpoint                  latest signed checkpoint (text/plain)
 *   GET /v1/receipts/<id>[/proof]    a receipt's inclusion proof, JSON or tlog-proof (receipt-routes.ts)
 *   GET /v1/consistency?old=N&new=M  consistency proof from tree size N to a checkpoint's size M
 *   GET /v1/keys                     the log's, every trusted kernel's (with windows) and the export verifier keys
 *   GET /v1/policies/<hash>          an archived policy set (policy-route.ts)
 *   POST /v1/verify                  what holds of a posted receipt, proof or bundle (verify-route.ts)
 *   GET /tile/…                      C2SP tlog-tiles
 *   GET /                            the explorer page (explorer-route.ts)
 *
 * Every 200 carries an ETag; answers that can never change (tiles and bundles, full or partial, a
 * consistency proof to a published size, a tlog-proof against a fixed size, an
 * archived policy) are `cache-control: immutable`, the others `no-cache` (revalidate).
 */
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { TailSearcher } from './tail-search.js';
import { isChioError } from '../errors/index.js';
import { toBase64 } from '../encoding.js';
import { sendCacheable, sendError, type Route } from '../http.js';
import type { ChioResources } from '../store/resources.js';
import { TILE_WIDTH, TileStore } from '../store/tile-store.js';
import { parseTilePath, proveTree, TILE_HEIGHT, type Tile } from '../tlog/index.js';
import { CheckpointSource } from './checkpoint-source.js';
import { DEFAULT_MESSAGE_CACHE_BYTES, SIZE, receiptRoutes } from './receipt-routes.js';
import { BytesCache } from '../store/bytes-cache.js';
import type { FetchGuard } from '../store/receipts.js';
import { StoredHashCache } from './stored-hash-cache.js';
import { policyRoute } from './policy-route.js';
import { verifyRoute } from './verify-route.js';
import { explorerRoute } from './explorer-route.js';
import { acceptsGzip, gzipBundle } from './bundle-encoding.js';
import { publishedKernelKeys, type KernelKeys } from '../receipt/kernel-trust.js';
import { createNodeSignatureCheck } from '../crypto/ed25519.js';
import { verifyReceiptBytes } from '../receipt/verify.js';

export interface VerifierApiOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  resources: ChioResources;
  logKey: string;
  /** A function when the trust changes while serving (a kernel key rotation), read per request. */
  kernelKeys: KernelKeys | (() => KernelKeys);
  /** Where the built explorer page is; dist/explorer/ of this package by default. */
  explorerDir?: string;
  /** The export key's verifier key, when the key directory has one: what signs compliance bundles. */
  exportKey?: string;
  /** Stops the fetch of a tail scan when the NATS connection drops or comes back, as `js` and `jsm` guard their requests. */
  fetchGuard?: FetchGuard;
}

export function verifierRoutes(opts: VerifierApiOptions): Route[] {
  const tiles = new TileStore(opts.resources.tiles, opts.resources.entries);
  const kernelKeys = (): KernelKeys => (typeof opts.kernelKeys === 'function' ? opts.kernelKeys() : opts.kernelKeys);
  const checkSignature = createNodeSignatureCheck();
  const pending = new TailSearcher(opts.js, opts.jsm, opts.resources.ledger, (bytes) => verifyReceiptBytes(bytes, kernelKeys(), checkSignature), Date.now, opts.fetchGuard);
  const checkpoints = new CheckpointSource(opts.jsm, opts.logKey);
  const latest = () => checkpoints.latest();

  const checkpoint: Route = async (req, res, url) => {
    if (req.method !== 'GET' || url.pathname !== '/checkpoint') return false;
    const cp = await latest();
    if (!cp) return sendError(res, 'NOT_FOUND', 'no checkpoint published yet'), true;
    return sendCacheable(req, res, 200, cp.note, 'text/plain; charset=utf-8', false), true;
  };

  const consistency: Route = async (req, res, url) => {
    if (req.method !== 'GET' || url.pathname !== '/v1/consistency') return false;
    const decimal = (v: string | null) => (v !== null && SIZE.test(v) ? Number(v) : NaN);
    const oldSize = decimal(url.searchParams.get('old'));
    const newSize = decimal(url.searchParams.get('new'));
    const cp = await latest();
    const max = cp?.checkpoint.size ?? 0;
    if (!Number.isSafeInteger(oldSize) || !Number.isSafeInteger(newSize) || oldSize < 1 || oldSize > newSize || newSize > max) {
      return sendError(res, 'MALFORMED', `need 1 <= old <= new <= ${max} (the latest checkpoint's size)`), true;
    }
    // Only to the size of a published checkpoint: its tiles are the log's (the ledger committed
    // that size before publishing it). Another size's partial tiles may be left over from a batch
    // that never committed, and a proof read from them, cached forever, would not be the log's.
    // `old` may be any size up to `new`: every hash of the proof is read from the tree of `new`.
    if (newSize !== max && !(await checkpoints.ofSize(newSize))) {
      return sendError(res, 'NOT_FOUND', `no checkpoint of size ${newSize} was published; new must be a checkpoint's size`), true;
    }
    let proof;
    try {
      proof = await proveTree(newSize, oldSize, tiles.hashReader(newSize));
    } catch (err) {
      if (!isChioError(err, 'NOT_FOUND')) throw err;
      // Tiles exist for every checkpoint's size: missing, they are only behind (a replica).
      return sendError(res, 'UNAVAILABLE', 'the log\'s tiles are behind its checkpoints; try again shortly', { 'retry-after': '1' }), true;
    }
    // `new` is published: the proof is a function of the log, fixed forever.
    return sendCacheable(req, res, 200, JSON.stringify({ old: oldSize, new: newSize, proof: proof.map(toBase64) }), 'application/json', true), true;
  };

  const keys: Route = (req, res, url) => {
    if (req.method !== 'GET' || url.pathname !== '/v1/keys') return false;
    // `kernels` stays a list of strings for old clients (the explorer page among them).
    const body = { log: opts.logKey, ...publishedKernelKeys(kernelKeys()), ...(opts.exportKey ? { export: opts.exportKey } : {}) };
    return sendCacheable(req, res, 200, JSON.stringify(body), 'application/json', false), true;
  };

  const tile: Route = async (req, res, url) => {
    if (req.method !== 'GET' || !url.pathname.startsWith('/tile/')) return false;
    let parsed;
    try {
      parsed = parseTilePath(url.pathname.slice(1));
    } catch {
      return sendError(res, 'MALFORMED', 'not a tlog-tiles path'), true;
    }
    // Only tiles of the published tree: anything past the latest checkpoint may still change.
    const cp = await latest();
    if (!cp || !withinTree(parsed, cp.checkpoint.size)) return sendError(res, 'NOT_FOUND', 'no such tile in the published tree'), true;
    // Cut from the full tile or the partial of the published size's width, never from a
    // partial of width W as stored: one a batch left without committing is not the log's.
    // A failed read is the store's failure (503 when NATS cannot answer now), and so is a
    // tile of the published tree that is not found: the ledger stores tiles before it
    // publishes, so this store is behind (a replica); a tlog-tiles client retries.
    const data = await tiles.readTileOfTree(parsed, cp.checkpoint.size);
    if (!data) return sendError(res, 'UNAVAILABLE', 'the log\'s tiles are behind its checkpoints; try again shortly', { 'retry-after': '1' }), true;
    // Immutable, partial ones too (tlog-tiles: the endpoint is immutable, caching SHOULD be long):
    // `.p/W` names the first W hashes (entries) of its tile, which no tree that has them changes,
    // and it is cut from the published tree, never from a partial a batch left uncommitted.
    if (parsed.level >= 0) return sendCacheable(req, res, 200, data, 'application/octet-stream', true), true;
    // An entry bundle: gzip when the client takes it (bundle-encoding.ts), and a cache told so;
    // only as the published tree holds it (compressed once, kept with the bundle), not a cut
    // narrower than that, which is made afresh, and compressed afresh, for every request.
    const heldWidth = Math.min(2 ** TILE_HEIGHT, cp.checkpoint.size - parsed.n * 2 ** TILE_HEIGHT);
    const gzip = parsed.width === heldWidth && acceptsGzip(req.headers['accept-encoding']);
    const encoding: Record<string, string> = { vary: 'accept-encoding', ...(gzip ? { 'content-encoding': 'gzip' } : {}) };
    return sendCacheable(req, res, 200, gzip ? gzipBundle(data) : data, 'application/octet-stream', true, encoding), true;
  };

  // node:crypto's Ed25519 for POST /v1/verify: the portable check costs about 3 ms a signature.
  const trust = { logKey: opts.logKey, get kernelKeys() { return kernelKeys(); }, checkSignature };
  return [
    checkpoint,
    ...receiptRoutes({ jsm: opts.jsm, index: opts.resources.index, tiles, messages: new BytesCache(DEFAULT_MESSAGE_CACHE_BYTES), checkpoints, pending, storedHashes: new StoredHashCache() }),
    consistency,
    keys,
    tile,
    policyRoute(opts.resources.policies),
    verifyRoute(trust, opts.exportKey),
    explorerRoute(opts.explorerDir),
  ];
}

/** A tile (L, N, W) belongs to the tree of `size` leaves when its W entries exist at level L. */
function withinTree(tile: Tile, size: number): boolean {
  const level = Math.max(0, tile.level);
  const entriesAtLevel = Math.floor(size / TILE_WIDTH ** level);
  return tile.n * TILE_WIDTH + tile.width <= entriesAtLevel;
}
