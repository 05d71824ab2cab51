/**
 * Receipts by id (SPEC §7):
 *
 *   GET /v1/receipts/<id>[?size=N]        200 {"receipt", "index", "checkpoint", "inclusion_proof",
 *                                         "corrected_by"?}; 202 {"status":"pending"[, "index"]};
 *                                         404 unknown; 400 malformed; 503 the ledger is behind
 *   GET /v1/receipts/<id>/proof[?size=N]  the same proof as C2SP tlog-proof@v1 text
 *
 * Without `size` the proof is against the latest checkpoint (revalidate with the ETag); with
 * `size` it is against the checkpoint of that tree size, and the tlog-proof can never change
 * (cached as immutable). The JSON answer never is: `corrected_by` may appear later, when a
 * correction is integrated (SPEC §5).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KV } from '@nats-io/kv';
import type { JetStreamManager } from '@nats-io/jetstream';
import { ChioError, isChioError, statusOf, type ChioErrorCode } from '../errors/index.js';
import { bytesEqual, toBase64 } from '../encoding.js';
import { sendCacheable, sendError, sendJson, type Route } from '../http.js';
import { readIndexEntry, type IndexEntry } from '../store/receipt-index.js';
import { readReceiptMessageFromAnyReplica } from '../store/receipts.js';
import { splitReceiptMessage } from '../store/receipt-message.js';
import type { BytesCache } from '../store/bytes-cache.js';
import { sha256Node } from '../crypto/sha256.js';
import { TILE_WIDTH, type TileStore } from '../store/tile-store.js';
import { RECEIPT_ID_PATTERN } from '../receipt/receipt.js';
import { MAX_TREE_SIZE } from '../tlog/bits.js';
import { leafHash, proveRecord, storedHashIndex, type Hash, type HashReader } from '../tlog/index.js';
import { proofsServedTotal } from '../metrics.js';
import type { ReceiptProof } from '../verify/receipt-proof.js';
import { formatTlogProof } from '../verify/tlog-proof.js';
import type { CheckpointSource, ServedCheckpoint } from './checkpoint-source.js';
import type { TailSearcher } from './tail-search.js';
import type { StoredHashCache } from './stored-hash-cache.js';

export interface ReceiptRoutesOptions {
  /** Reads receipts from the receipts stream by sequence (a leaf without its entry bundle). */
  jsm: JetStreamManager;
  index: KV;
  tiles: TileStore;
  checkpoints: CheckpointSource;
  pending: TailSearcher;
  storedHashes: StoredHashCache;
  /** Receipts-stream messages read for their leaves, by sequence (a message holds several). */
  messages: BytesCache<number>;
}

/** Receipts-stream messages kept by default: a few hundred of the largest (64 KiB). */
export const DEFAULT_MESSAGE_CACHE_BYTES = 16 * 1024 * 1024;

/** What a lookup found: a proof, "pending", or a refusal to send as a JSON error. */
type Lookup =
  | { kind: 'proven'; leaf: string; index: number; served: ServedCheckpoint; hashes: Hash[]; correctedBy?: string }
  | { kind: 'pending'; index?: number }
  | { kind: 'refused'; outcome: string; code: ChioErrorCode; message: string; headers?: Record<string, string> };

const RECEIPT_PATH = /^\/v1\/receipts\/([^/]*)(\/proof)?$/;
/** A tree size in a query: decimal, from 1, no leading zero (one spelling per URL, since answers are cached by URL). */
export const SIZE = /^[1-9][0-9]{0,15}$/;
const UTF8 = new TextDecoder();

export function receiptRoutes(opts: ReceiptRoutesOptions): Route[] {
  const route: Route = async (req, res, url) => {
    const m = RECEIPT_PATH.exec(url.pathname);
    if (req.method !== 'GET' || !m) return false;
    const found = await lookUp(opts, m[1]!, url.searchParams.get('size'));
    if (found.kind === 'refused') {
      proofsServedTotal.inc({ outcome: found.outcome });
      return sendError(res, found.code, found.message, found.headers), true;
    }
    if (found.kind === 'pending') {
      proofsServedTotal.inc({ outcome: 'pending' });
      return sendJson(res, statusOf('PENDING').http, { status: 'pending', ...(found.index !== undefined ? { index: found.index } : {}) }, { 'cache-control': 'no-store' }), true;
    }
    proofsServedTotal.inc({ outcome: 'proven' });
    return m[2] ? sendTlogProof(req, res, found, url.searchParams.has('size')) : sendReceiptProof(req, res, found), true;
  };
  return [route];
}

function sendReceiptProof(req: IncomingMessage, res: ServerResponse, p: Extract<Lookup, { kind: 'proven' }>): void {
  // The leaf's JCS bytes are valid JSON as they are: spliced in, not parsed and printed again.
  const rest: Omit<ReceiptProof, 'receipt'> = { index: p.index, checkpoint: p.served.note, inclusion_proof: p.hashes.map(toBase64), ...(p.correctedBy ? { corrected_by: p.correctedBy } : {}) };
  sendCacheable(req, res, 200, `{"receipt":${p.leaf},${JSON.stringify(rest).slice(1)}`, 'application/json', false);
}

function sendTlogProof(req: IncomingMessage, res: ServerResponse, p: Extract<Lookup, { kind: 'proven' }>, fixedSize: boolean): void {
  const text = formatTlogProof({ index: p.index, hashes: p.hashes, checkpoint: p.served.note });
  // The correction is the verifier's word, outside the proof: told only where nothing is cached forever.
  const headers: Record<string, string> = !fixedSize && p.correctedBy ? { 'x-chio-corrected-by': p.correctedBy } : {};
  sendCacheable(req, res, 200, text, 'text/plain; charset=utf-8', fixedSize, headers);
}

async function lookUp(opts: ReceiptRoutesOptions, id: string, sizeParam: string | null): Promise<Lookup> {
  const refuse = (outcome: string, code: ChioErrorCode, message: string, headers?: Record<string, string>): Lookup => ({ kind: 'refused', outcome, code, message, ...(headers ? { headers } : {}) });
  // Attacker-controlled: the id and the size.
  if (!RECEIPT_ID_PATTERN.test(id)) return refuse('malformed', 'MALFORMED', 'a receipt id is 64 lower-case hex digits');
  if (sizeParam !== null && (!SIZE.test(sizeParam) || Number(sizeParam) > MAX_TREE_SIZE)) return refuse('malformed', 'MALFORMED', 'size is a tree size: a decimal number from 1');
  let entry = await readIndexEntry(opts.index, id);
  if (!entry) {
    const tail = await opts.pending.search(id);
    if (tail === 'stored') return { kind: 'pending' };
    if (tail === 'unknown') return refuse('behind', 'UNAVAILABLE', 'the ledger is behind; try again shortly', { 'retry-after': '1' });
    // The ledger may have integrated it between the two looks.
    entry = await readIndexEntry(opts.index, id);
    if (!entry) return refuse('unknown', 'NOT_FOUND', 'no receipt with this id is stored');
  }
  const { index, corrected_by } = entry;
  let served: ServedCheckpoint | undefined;
  if (sizeParam !== null) {
    const size = Number(sizeParam);
    served = await opts.checkpoints.ofSize(size);
    if (!served) return refuse('unknown', 'NOT_FOUND', `no checkpoint of size ${size} was published`);
    if (index >= size) return refuse('unknown', 'NOT_FOUND', `receipt ${id} is leaf ${index}, not in the tree of size ${size}`);
  } else {
    served = await opts.checkpoints.latestCovering(index);
    if (!served || index >= served.checkpoint.size) return { kind: 'pending', index };
  }
  const { leaf, hashes } = await readUnderCheckpoint(async () => {
    const readHashes = opts.storedHashes.wrap(opts.tiles.hashReader(served.checkpoint.size));
    const [leaf, hashes] = await Promise.all([readLeaf(opts, entry!, served.checkpoint.size, readHashes), proveRecord(served.checkpoint.size, index, readHashes)]);
    return { leaf, hashes };
  });
  const leafId = (JSON.parse(leaf) as { id?: unknown }).id;
  if (leafId !== id) {
    // The leaf's own entry names this index: the log holds together, and this entry is one a
    // batch that did not commit wrote for a receipt integrated again as refused (the kernel
    // trust changed in between). Else leaves and index disagree: a damaged store, an alarm.
    const leafEntry = typeof leafId === 'string' && RECEIPT_ID_PATTERN.test(leafId) ? await readIndexEntry(opts.index, leafId) : undefined;
    if (leafEntry?.index === index) return refuse('unknown', 'NOT_FOUND', 'no receipt with this id is in the log');
    throw new ChioError('INTERNAL', `leaf ${index} is not receipt ${id}, as the index says`);
  }
  return { kind: 'proven', leaf, index, served, hashes, ...(corrected_by ? { correctedBy: corrected_by } : {}) };
}

/**
 * Read tiles and bundles a published checkpoint covers. The ledger signs a checkpoint only
 * after storing them, so one not found is the store answering from behind (seen in a cluster
 * while a bucket's leader is being elected), not a missing record: 503, ask again.
 */
async function readUnderCheckpoint<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (isChioError(err, 'NOT_FOUND')) throw new ChioError('UNAVAILABLE', `the log's tiles are not readable now: ${err.message}`, { cause: err });
    throw err;
  }
}

/**
 * The bytes of the leaf `entry` names, in the tree of `size`: from its entry bundle when that is
 * in memory; else from the receipts stream, at the entry's sequence and line — one message of a
 * few receipts (kept: its neighbours are often asked for next), where a bundle holds 256 (on a
 * large log, proofs of receipts spread over it would otherwise read a bundle each, about half a
 * megabyte). Stream bytes are served only when they hash to the leaf hash the tree stores (its
 * level-0 tile, which the proof reads too); else, or when the stream no longer has the message,
 * the bundle is read.
 */
async function readLeaf(opts: ReceiptRoutesOptions, entry: IndexEntry, size: number, readHashes: HashReader): Promise<string> {
  const n = Math.floor(entry.index / TILE_WIDTH);
  const cached = opts.tiles.cachedEntries(n, Math.min(TILE_WIDTH, size - n * TILE_WIDTH))?.[entry.index % TILE_WIDTH];
  if (cached) return UTF8.decode(cached);
  const readMessage = async () => {
    const kept = opts.messages.get(entry.seq);
    if (kept) return kept;
    const data = await readReceiptMessageFromAnyReplica(opts.jsm, entry.seq).catch(() => undefined);
    // Kept on its own: a view would keep the whole buffer it was read into, which the cache does not count.
    const own = data && (data.byteLength === data.buffer.byteLength ? data : data.slice());
    if (own) opts.messages.set(entry.seq, own);
    return own;
  };
  const [message, [stored]] = await Promise.all([readMessage(), readHashes([storedHashIndex(0, entry.index)])]);
  const bytes = message && splitReceiptMessage(message)[entry.line ?? 0];
  if (bytes && stored && bytesEqual(leafHash(bytes, sha256Node), stored)) return UTF8.decode(bytes);
  return readBundledLeaf(opts.tiles, entry.index, size);
}

/** The leaf at `index` of the tree of `size`, from its entry bundle. */
async function readBundledLeaf(tiles: TileStore, index: number, size: number): Promise<string> {
  const n = Math.floor(index / TILE_WIDTH);
  const bytes = (await tiles.readEntries(n, Math.min(TILE_WIDTH, size - n * TILE_WIDTH)))[index % TILE_WIDTH];
  if (!bytes) throw new ChioError('INTERNAL', `entry bundle ${n} has no leaf ${index}`);
  return UTF8.decode(bytes);
}
