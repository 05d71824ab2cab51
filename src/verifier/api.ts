/**
 * The verifier's HTTP API (SPEC §7). Stateless: every answer is read from JetStream (the
 * checkpoints stream, the index bucket, the receipts stream, the tiles), so any number of
 * verifiers can serve one log.
 *
 *   GET /checkpoint                 latest signed checkpoint (text/plain)
 *   GET /v1/receipts/<id>           200 receipt + index + checkpoint + inclusion proof
 *                                   (+ corrected_by when a correction names it, SPEC §5),
 *                                   202 stored but not yet in a checkpoint, 404, 400
 *   GET /v1/consistency?old=N&new=M consistency proof between two tree sizes
 *   GET /v1/keys                    the log's and the kernels' verifier keys
 *   GET /tile/…                     C2SP tlog-tiles
 */
import type { ServerResponse } from 'node:http';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { TailSearcher } from './tail-search.js';
import { ChioError, isChioError, statusOf, type ChioErrorCode } from '../errors/index.js';
import { toBase64 } from '../encoding.js';
import { sendError, sendJson, type Route } from '../http.js';
import type { ChioResources } from '../store/resources.js';
import { readLatestCheckpoint } from '../store/checkpoints.js';
import { readIndexEntry } from '../store/receipt-index.js';
import { readStoredReceipt } from '../store/receipts.js';
import { TILE_WIDTH, TileStore } from '../store/tile-store.js';
import { RECEIPT_ID_PATTERN } from '../receipt/receipt.js';
import { openCheckpoint, parseTilePath, proveRecord, proveTree, type Checkpoint, type Tile } from '../tlog/index.js';
import { proofsServedTotal } from '../metrics.js';
import type { ReceiptProof } from '../verify/receipt-proof.js';

export interface VerifierApiOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  resources: ChioResources;
  logKey: string;
  kernelKeys: readonly string[];
}

interface Latest {
  note: string;
  checkpoint: Checkpoint;
}

export function verifierRoutes(opts: VerifierApiOptions): Route[] {
  const tiles = new TileStore(opts.resources.tiles, opts.resources.entries);
  const pending = new TailSearcher(opts.js, opts.jsm, opts.resources.ledger);
  const latest = async (): Promise<Latest | undefined> => {
    const found = await readLatestCheckpoint(opts.jsm);
    if (!found) return undefined;
    // Serve only what verifies with the log key: anything else on the subject is an alarm.
    return { note: found.note, checkpoint: openCheckpoint(found.note, opts.logKey) };
  };

  const checkpoint: Route = async (req, res, url) => {
    if (req.method !== 'GET' || url.pathname !== '/checkpoint') return false;
    const cp = await latest();
    if (!cp) return sendError(res, 'NOT_FOUND', 'no checkpoint published yet'), true;
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache' });
    res.end(cp.note);
    return true;
  };

  const receipt: Route = async (req, res, url) => {
    const m = /^\/v1\/receipts\/([^/]*)$/.exec(url.pathname);
    if (req.method !== 'GET' || !m) return false;
    const id = m[1]!;
    if (!RECEIPT_ID_PATTERN.test(id)) return refuse(res, 'malformed', 'MALFORMED', 'a receipt id is 64 lower-case hex digits');
    let entry = await readIndexEntry(opts.resources.index, id);
    if (!entry) {
      const tail = await pending.search(id);
      if (tail === 'stored') return answer(res, 'pending', statusOf('PENDING').http, { status: 'pending' });
      if (tail === 'unknown') return refuse(res, 'behind', 'UNAVAILABLE', 'the ledger is behind; try again shortly', { 'retry-after': '1' });
      // The ledger may have integrated it between the two looks.
      entry = await readIndexEntry(opts.resources.index, id);
      if (!entry) return refuse(res, 'unknown', 'NOT_FOUND', 'no receipt with this id is stored');
    }
    const { index, seq, corrected_by } = entry;
    const cp = await latest();
    if (!cp || index >= cp.checkpoint.size) return answer(res, 'pending', statusOf('PENDING').http, { status: 'pending', index });
    const body = await readStoredReceipt(opts.jsm, seq);
    if (!body || body.id !== id) throw new ChioError('INTERNAL', `index entry for ${id} names stream seq ${seq}, which holds another message`);
    const proof = await proveRecord(cp.checkpoint.size, index, tiles.hashReader(cp.checkpoint.size));
    const out: ReceiptProof = { receipt: body, index, checkpoint: cp.note, inclusion_proof: proof.map(toBase64), ...(corrected_by ? { corrected_by } : {}) };
    return answer(res, 'proven', 200, out);
  };

  const consistency: Route = async (req, res, url) => {
    if (req.method !== 'GET' || url.pathname !== '/v1/consistency') return false;
    const decimal = (v: string | null) => (v !== null && /^[0-9]{1,16}$/.test(v) ? Number(v) : NaN);
    const oldSize = decimal(url.searchParams.get('old'));
    const newSize = decimal(url.searchParams.get('new'));
    const cp = await latest();
    const max = cp?.checkpoint.size ?? 0;
    if (!Number.isSafeInteger(oldSize) || !Number.isSafeInteger(newSize) || oldSize < 1 || oldSize > newSize || newSize > max) {
      return sendError(res, 'MALFORMED', `need 1 <= old <= new <= ${max} (the latest checkpoint's size)`), true;
    }
    let proof;
    try {
      proof = await proveTree(newSize, oldSize, tiles.hashReader(newSize));
    } catch (err) {
      // Tiles exist for the tree sizes the ledger committed; other sizes have no stored tree.
      if (isChioError(err, 'NOT_FOUND')) return sendError(res, 'MALFORMED', `no tree of size ${newSize} is stored; use checkpoint sizes`), true;
      throw err;
    }
    return sendJson(res, 200, { old: oldSize, new: newSize, proof: proof.map(toBase64) }), true;
  };

  const keys: Route = (req, res, url) => {
    if (req.method !== 'GET' || url.pathname !== '/v1/keys') return false;
    return sendJson(res, 200, { log: opts.logKey, kernels: opts.kernelKeys }), true;
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
    const data = await readTile(tiles, parsed).catch(() => undefined);
    if (!data) return sendError(res, 'NOT_FOUND', 'no such tile'), true;
    const immutable = parsed.width === TILE_WIDTH;
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    res.end(data);
    return true;
  };

  return [checkpoint, receipt, consistency, keys, tile];
}

async function readTile(tiles: TileStore, parsed: ReturnType<typeof parseTilePath>): Promise<Uint8Array | undefined> {
  // Partial bundles superseded by a full one are deleted: cut the full one (C2SP tlog-tiles).
  if (parsed.level < 0) return tiles.readEntryBundleAt(parsed.n, parsed.width);
  return tiles.readHashTile(parsed);
}

/** A tile (L, N, W) belongs to the tree of `size` leaves when its W entries exist at level L. */
function withinTree(tile: Tile, size: number): boolean {
  const level = Math.max(0, tile.level);
  const entriesAtLevel = Math.floor(size / TILE_WIDTH ** level);
  return tile.n * TILE_WIDTH + tile.width <= entriesAtLevel;
}

function answer(res: ServerResponse, outcome: string, status: number, body: unknown, headers: Record<string, string> = {}): true {
  proofsServedTotal.inc({ outcome });
  sendJson(res, status, body, headers);
  return true;
}

function refuse(res: ServerResponse, outcome: string, code: ChioErrorCode, message: string, headers: Record<string, string> = {}): true {
  proofsServedTotal.inc({ outcome });
  sendError(res, code, message, headers);
  return true;
}
