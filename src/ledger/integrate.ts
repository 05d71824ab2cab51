/**
 * Integration as a pure function (SPEC §6; transparency-dev tessera's shape): a batch of
 * stored receipts and the committed tree → a plan of the leaves, and of every write that
 * makes them part of the tree. No writes, no NATS, no clock; reads go through the narrow
 * IntegrationReader. The same batch over the same committed state and reads plans the same
 * bytes at the same paths, which is what makes integrating a batch again after a crash safe.
 *
 * The tree is a function of the receipts stream that anyone can recompute: leaves are the
 * stream's receipts in stream order (and in line order within a message), skipping the ones that fail a check (quarantined with the
 * reason) and duplicates (the id is already a leaf; for a receipt refused for its kernel key or
 * signature, these very bytes are: a leaf stored again after its key left the trust set,
 * committed-leaf.ts). Checks, in order: size → canonical JSON
 * (RFC 8785) → shape → id → trusted kernel key (and its window) → signature → chain link (seq, prev) → for a
 * correction, the receipt it corrects (correction-link.ts), whose index entry then records
 * `corrected_by`.
 *
 * The crash rule: an index entry at or past the committed size comes from a batch that did not
 * commit; so may one below it whose leaf is another receipt (its receipt was refused when that
 * batch was integrated again under another trust set): it is stale, and names no leaf. When it names the very index this receipt gets now, the receipt passed every check
 * at that index then, so its chain link holds even though the chain head read back may already
 * be past it.
 */
import { ChioError, isChioError } from '../errors/index.js';
import {
  checkChainLink, nobleSignatureCheck, readReceiptBytes, signatureHolds, signatureInvalid,
  type KernelKeys, type SignatureCheck, type SignedBody,
} from '../receipt/verify.js';
import { CHAIN_ID_PATTERN, GENESIS_PREV, RECEIPT_ID_PATTERN, type Receipt } from '../receipt/receipt.js';
import type { ReceiptIdHash } from '../receipt/sign.js';
import type { Sha256 } from '../receipt/batch.js';
import { isJsonObject } from '../json.js';
import { bytesEqual, toHex } from '../encoding.js';
import {
  TILE_HEIGHT, encodeEntryBundle, entriesPath, newTiles, readTileData, storedHashIndex, storedHashes, treeHash,
  type Hash, type HashReader, type Tile,
} from '../tlog/index.js';
import type { IndexEntry } from '../store/receipt-index.js';
import type { IntegratedChainHead } from '../store/chain-heads.js';
import type { LedgerState } from '../store/ledger-state.js';
import type { QuarantinedReceipt } from '../store/quarantine.js';
import type { StoredMessage } from '../store/receipts.js';
import { receiptLinesOf } from '../store/receipt-message.js';
import { TILE_WIDTH } from '../store/tile-store.js';
import { linkCorrection } from './correction-link.js';
import { isCommittedCopy, isLeafOf } from './committed-leaf.js';

/** The committed tree: its persisted state and the root it hashes to. */
export interface TreeState extends LedgerState {
  root: Hash;
}

/** What integration reads. Entries written by a batch that did not commit MAY be returned. */
export interface IntegrationReader {
  /** Stored hashes of the committed tree (of state.size leaves). */
  readHashes: HashReader;
  /** The first `width` entries of entry bundle `n` of the committed tree. */
  readEntries(n: number, width: number): Promise<readonly Uint8Array[]>;
  /** Read only for a receipt that does not extend its chain's head (a duplicate, a replay, a fork) and for a correction's target. */
  readIndexEntry(id: string): Promise<IndexEntry | undefined>;
  readChainHead(chain: string): Promise<IntegratedChainHead | undefined>;
}

/** Trust material for the receipt checks. */
export interface IntegrationChecks {
  /** Who may sign a leaf: a trust set (each key with its validity window on the receipt's time), or a plain list. */
  kernelKeys: KernelKeys;
  /** Ed25519 check; the portable @noble one by default (a Node service passes node:crypto's). */
  checkSignature?: SignatureCheck;
  /**
   * Ed25519 checks of a whole batch at once, answering true for each that holds, in order: how
   * a Node service spreads them over threads (src/crypto/ed25519-pool.ts). Every signature here
   * is 64 bytes. Without it, `checkSignature` checks them one by one.
   */
  checkSignatures?: (batch: readonly SignedBody[]) => Promise<readonly boolean[]>;
  /** Hex SHA-256 of a receipt body; the portable one by default (a Node service passes node:crypto's). */
  receiptId?: ReceiptIdHash;
  /** SHA-256 for batch paths (receipt/batch.ts): @noble's unless given (the ledger gives node:crypto's). */
  sha256?: Sha256;
  /**
   * Asked before each receipt is checked, and again before its signature is (unless
   * `checkSignatures` checks them elsewhere); a promise it returns is awaited. A batch of a thousand
   * receipts is about a tenth of a second of signature checks, which must not hold a process's
   * event loop (in `chio up` the same loop answers Checks): the integrator answers with a yield
   * to the event loop once a few milliseconds have passed since the last one.
   */
  pause?: () => Promise<void> | undefined;
  /** Whether the log refused receipt `id` for its chain link (ledger/refused-links.ts): receipts after it are refused without confirmation. */
  refusedLink?: (id: string) => boolean;
}

export interface Leaf {
  receipt: Receipt;
  bytes: Uint8Array;
  index: number;
  /** Stream sequence of the message holding the receipt. */
  seq: number;
  /** The receipt's line in that message (receipt-message.ts); 0 for the first. */
  line: number;
}

/** Everything a batch changes, in the order the writer applies it (integrator.ts). */
export interface IntegrationPlan {
  leaves: Leaf[];
  quarantined: QuarantinedReceipt[];
  /** Ids of the receipts quarantined for their chain link (CHAIN_BROKEN). */
  refusedLinks: string[];
  /** Receipts skipped because their id is already a leaf: stream sequence and line. */
  duplicates: Array<{ seq: number; line: number }>;
  indexEntries: Array<{ id: string; entry: IndexEntry }>;
  /** The new head of every chain that gained a leaf, in order of its first new leaf. */
  chainHeads: Array<{ chain: string; head: IntegratedChainHead }>;
  tiles: Array<{ tile: Tile; data: Uint8Array }>;
  bundles: Array<{ path: string; data: Uint8Array }>;
  /** The tree once every write is applied; writing `next`'s size and streamSeq commits it. */
  next: TreeState;
}

/**
 * Plan the integration of `batch` (stored messages in stream order) into the tree `state`.
 * Messages at or before state.streamSeq are skipped; the rest MUST follow it without a gap.
 */
export async function integrate(state: TreeState, batch: readonly StoredMessage[], reader: IntegrationReader, checks: IntegrationChecks): Promise<IntegrationPlan> {
  const fresh = batch.filter((m) => m.seq > state.streamSeq);
  // Stream sequences have no gaps (no deletes, no limits): a gap means we would build
  // another tree than the stream's, so refuse and let the caller resume from the state.
  fresh.forEach((m, i) => {
    const expected = state.streamSeq + 1 + i;
    if (m.seq !== expected) throw new ChioError('INTERNAL', `stream sequence ${m.seq} where ${expected} was expected`);
  });
  const admitted = await admit(state.size, fresh, reader, checks);
  const { leaves } = admitted;
  const size = state.size + leaves.length;
  const streamSeq = fresh.length > 0 ? fresh[fresh.length - 1]!.seq : state.streamSeq;
  if (leaves.length === 0) {
    return { ...admitted, indexEntries: [], chainHeads: [], tiles: [], bundles: [], next: { size, streamSeq, root: state.root } };
  }
  const readHashes = await hashLeaves(leaves, reader.readHashes);
  const tiles: IntegrationPlan['tiles'] = [];
  for (const tile of newTiles(TILE_HEIGHT, state.size, size)) tiles.push({ tile, data: await readTileData(tile, readHashes) });
  return {
    ...admitted,
    indexEntries: [...admitted.indexEntries].map(([id, entry]) => ({ id, entry })),
    tiles,
    bundles: await planBundles(state.size, leaves, reader),
    next: { size, streamSeq, root: await treeHash(size, readHashes) },
  };
}

interface Admitted {
  leaves: Leaf[];
  quarantined: QuarantinedReceipt[];
  refusedLinks: string[];
  duplicates: Array<{ seq: number; line: number }>;
  chainHeads: Array<{ chain: string; head: IntegratedChainHead }>;
  /** Every index entry the batch writes: its leaves', in order, then receipts corrected in it. */
  indexEntries: Map<string, IndexEntry>;
}

/** A receipt as stored: its message's stream sequence, its line there, its bytes. */
interface StoredReceipt {
  seq: number;
  line: number;
  data: Uint8Array;
  /** The chain its message's subject names, when known (StoredMessage.subjectChain). */
  subjectChain?: string;
  /** Set for a message that is no receipt message at all: refused whole, as its line 0. */
  refused?: ChioError;
}

/** Every receipt of `messages`, in stream order and, within a message, line order. */
function receiptsOf(messages: readonly StoredMessage[]): StoredReceipt[] {
  return messages.flatMap((m) => {
    const read = receiptLinesOf(m.data);
    if ('refused' in read) return [{ seq: m.seq, line: 0, data: m.data, refused: new ChioError('RECEIPT_INVALID', `not a message of receipts: ${read.refused}`) }];
    return read.lines.map((data, line) => ({ seq: m.seq, line, data, ...(m.subjectChain !== undefined ? { subjectChain: m.subjectChain } : {}) }));
  });
}

/** Check each receipt; the ones that pass become leaves at the next indexes. */
async function admit(size: number, messages: readonly StoredMessage[], reader: IntegrationReader, checks: IntegrationChecks): Promise<Admitted> {
  const out: Admitted = { leaves: [], quarantined: [], refusedLinks: [], duplicates: [], chainHeads: [], indexEntries: new Map() };
  const refusedHere = new Set<string>();
  const heads = new Map<string, IntegratedChainHead>();
  // Chains whose stored head a batch that did not commit left, written before heads kept the
  // base they extended (so it could not be rolled back: chain-heads.ts). Only for these does
  // the replay rule below hold: any other head is committed, and a replayed receipt links to it.
  const leftover = new Set<string>();
  const headOf = async (chain: string) => {
    const head = heads.get(chain) ?? (await reader.readChainHead(chain));
    if (!heads.has(chain) && head && head.index >= size) leftover.add(chain);
    return head;
  };
  const batch = new Map<string, Leaf>();
  for (const { m, read } of await readAndCheckSignatures(receiptsOf(messages), checks)) {
    const index = size + out.leaves.length;
    if ('error' in read) {
      // A leaf stored again after its kernel key left the trust set is in the log already. Only
      // a receipt refused for its key or signature, whose id is its own, costs an index read here.
      if (read.id !== undefined && (await isCommittedCopy(reader, size, read.id, m.data, checks.sha256))) out.duplicates.push({ seq: m.seq, line: m.line });
      else out.quarantined.push(quarantined(m, read.chain, read.error));
      continue;
    }
    const { receipt } = read;
    // The common case costs no index read: a receipt that extends its chain's integrated head
    // cannot be a leaf yet (a leaf with its id would have its chain and seq, at or below the head).
    const head = await headOf(receipt.chain);
    const extendsHead = linksTo(head, receipt);
    const known = batch.has(receipt.id) ? 'leaf' : extendsHead ? undefined : await reader.readIndexEntry(receipt.id);
    // An entry is a duplicate's only when its leaf is this receipt: one a batch that never
    // committed left may name another's leaf (committed-leaf.ts). Off the common path: affordable.
    if (known === 'leaf' || (known && (await isLeafOf(reader, size, known, receipt.id, m.data, checks.sha256)))) {
      out.duplicates.push({ seq: m.seq, line: m.line });
      continue;
    }
    const replayed = known !== undefined && known.index === index && leftover.has(receipt.chain);
    let corrected: { id: string; entry: IndexEntry } | undefined;
    try {
      if (!replayed) checkChainLink(head, receipt);
      if (receipt.corrects !== undefined) {
        const entry = await linkCorrection({ ...receipt, corrects: receipt.corrects }, { size, batch, entries: out.indexEntries, reader });
        corrected = { id: receipt.corrects, entry };
      }
    } catch (err) {
      // A failed read is not the receipt's fault: the batch fails, and is integrated again.
      if (!isChioError(err, 'CHAIN_BROKEN') && !isChioError(err, 'CORRECTION_INVALID')) throw err;
      const refused = quarantined(m, receipt.chain, err);
      if (isChioError(err, 'CHAIN_BROKEN')) {
        const wasRefused = (id: string) => refusedHere.has(id) || checks.refusedLink?.(id) === true;
        // A copy of a refused receipt (anyone may store one) that is not ahead of its chain
        // fails on every read: a head read from behind is an earlier leaf of the chain, so
        // the true head is at its seq or past it. One ahead may link once the chain catches up.
        if (wasRefused(receipt.prev) || (wasRefused(receipt.id) && !isAheadOf(head, receipt))) refused.unlinkable = true;
        refusedHere.add(receipt.id);
        out.refusedLinks.push(receipt.id);
      }
      out.quarantined.push(refused);
      continue;
    }
    const leaf = { receipt, bytes: m.data, index, seq: m.seq, line: m.line };
    batch.set(receipt.id, leaf);
    // A copy refused earlier in this batch links now: it is no refused receipt (refused-links.ts).
    refusedHere.delete(receipt.id);
    heads.set(receipt.chain, { seq: receipt.seq, id: receipt.id, index });
    out.leaves.push(leaf);
    out.indexEntries.set(receipt.id, { index, seq: m.seq, ...(m.line > 0 ? { line: m.line } : {}) });
    if (corrected) out.indexEntries.set(corrected.id, corrected.entry);
  }
  out.chainHeads = [...heads].map(([chain, head]) => ({ chain, head }));
  out.refusedLinks = out.refusedLinks.filter((id) => !batch.has(id));
  return out;
}

/** True when `receipt` skips seqs after `head` (a gap): it may link once the receipts between are stored. */
function isAheadOf(head: IntegratedChainHead | undefined, receipt: Receipt): boolean {
  return receipt.seq > (head?.seq ?? 0) + 1;
}

function linksTo(head: IntegratedChainHead | undefined, receipt: Receipt): boolean {
  return head ? receipt.seq === head.seq + 1 && receipt.prev === head.id : receipt.seq === 1 && receipt.prev === GENESIS_PREV;
}

/** `id`: set only for a receipt refused for its kernel key or signature, whose id matched its body. */
type Read = { receipt: Receipt } | { error: unknown; chain: string | undefined; id?: string };

/** Refusals that come after the id check (receipt/verify.ts): a leaf's very bytes may be refused so once trust changes. */
const REFUSED_AFTER_ID: ReadonlySet<string> = new Set(['UNTRUSTED_KEY', 'SIGNATURE_INVALID']);

/**
 * Every check that needs no other receipt, for each receipt of the batch: up to its signature
 * one by one, then the signatures of the batch at once (the costly part, 40 µs to 100 µs each).
 */
async function readAndCheckSignatures(stored: readonly StoredReceipt[], checks: IntegrationChecks): Promise<Array<{ m: StoredReceipt; read: Read }>> {
  const reads: Array<{ m: StoredReceipt; read: Read; signed?: SignedBody }> = [];
  for (const m of stored) {
    const paused = checks.pause?.();
    if (paused) await paused;
    if (m.refused) {
      reads.push({ m, read: { error: m.refused, chain: undefined } });
      continue;
    }
    try {
      const { receipt, signed } = readReceiptBytes(m.data, checks.kernelKeys, checks.receiptId, checks.sha256);
      // Stored under another chain's subject, it passed no fork check of its own chain (StoredMessage.subjectChain).
      if (m.subjectChain !== undefined && m.subjectChain !== receipt.chain) {
        throw new ChioError('RECEIPT_INVALID', `receipt of chain ${receipt.chain} stored on the subject of chain ${m.subjectChain.slice(0, 64)}`);
      }
      reads.push({ m, read: { receipt }, signed });
    } catch (err) {
      const named = namedIn(m.data);
      const id = isChioError(err) && REFUSED_AFTER_ID.has(err.code) ? named.id : undefined;
      reads.push({ m, read: { error: err, chain: named.chain, ...(id !== undefined ? { id } : {}) } });
    }
  }
  // Refused unless checked and found to hold: a signature that is not 64 bytes is never checked.
  const toCheck = reads.filter((r) => r.signed?.signature.length === 64);
  // The receipts of one batch share their signed message: each distinct check is made once.
  const { distinct, of } = distinctSignedBodies(toCheck.map((r) => r.signed!));
  const holds = await checkAll(distinct, checks);
  const verified = new Set(toCheck.filter((_, k) => holds[of[k]!] === true));
  return reads.map((r) => ({ m: r.m, read: 'error' in r.read || verified.has(r) ? r.read : { error: signatureInvalid(), chain: r.read.receipt.chain, id: r.read.receipt.id } }));
}

/**
 * The distinct checks of `signed` (same signature, message and key: the receipts of one batch)
 * and, for each, the index of its check among them. Only a batch's signed message is short
 * (receipt/batch.ts, under 128 bytes); a body's is its own, so such a check is never looked up.
 * One map lookup of the whole check per receipt: hostile bytes cannot make this slow.
 */
export function distinctSignedBodies(signed: readonly SignedBody[]): { distinct: SignedBody[]; of: number[] } {
  const distinct: SignedBody[] = [];
  const seen = new Map<string, number>();
  const of = signed.map((s) => {
    if (s.message.length > MAX_SHARED_MESSAGE_BYTES) return distinct.push(s) - 1;
    const key = `${toHex(s.signature)}/${toHex(s.publicKey)}/${toHex(s.message)}`;
    const known = seen.get(key);
    if (known !== undefined) return known;
    seen.set(key, distinct.length);
    return distinct.push(s) - 1;
  });
  return { distinct, of };
}

/** Longest signed message looked up for sharing: a batch's is about 90 bytes. */
const MAX_SHARED_MESSAGE_BYTES = 256;

/** True when `a` and `b` are the very same check. */
export function sameSignedBody(a: SignedBody, b: SignedBody): boolean {
  return bytesEqual(a.signature, b.signature) && bytesEqual(a.message, b.message) && bytesEqual(a.publicKey, b.publicKey);
}

async function checkAll(batch: readonly SignedBody[], checks: IntegrationChecks): Promise<readonly boolean[]> {
  if (batch.length === 0) return [];
  if (checks.checkSignatures) {
    const holds = await checks.checkSignatures(batch);
    if (holds.length !== batch.length) throw new ChioError('INTERNAL', `${holds.length} signature checks answered for ${batch.length}`);
    return holds;
  }
  const check = checks.checkSignature ?? nobleSignatureCheck;
  const holds: boolean[] = [];
  for (const signed of batch) {
    const paused = checks.pause?.();
    if (paused) await paused;
    holds.push(signatureHolds(signed, check));
  }
  return holds;
}

/**
 * The chain a refused message claims, so that it is quarantined under its chain's subject; it
 * is only a label (the message failed its checks), so anything that is not a valid chain id
 * stays `unknown`. Its id too, trusted only where the id check passed (REFUSED_AFTER_ID).
 * Attacker-controlled bytes: parsed defensively.
 */
function namedIn(data: Uint8Array): { chain?: string; id?: string } {
  try {
    const value: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data));
    if (!isJsonObject(value)) return {};
    const { chain, id } = value;
    return {
      ...(typeof chain === 'string' && CHAIN_ID_PATTERN.test(chain) ? { chain } : {}),
      ...(typeof id === 'string' && RECEIPT_ID_PATTERN.test(id) ? { id } : {}),
    };
  } catch {
    return {};
  }
}

function quarantined(m: StoredReceipt, chain: string | undefined, err: unknown): QuarantinedReceipt {
  const code = isChioError(err) ? err.code : 'INTERNAL';
  const reason = err instanceof Error ? err.message : String(err);
  return { seq: m.seq, line: m.line, data: m.data, chain, code, reason };
}

/**
 * Hash the new leaves into the tree; returns a HashReader over the grown tree: hashes made
 * here by stored-hash index, older ones from the committed tree.
 */
async function hashLeaves(leaves: readonly Leaf[], committed: HashReader): Promise<HashReader> {
  const made = new Map<number, Hash>();
  const readHashes: HashReader = async (indexes) => {
    const missing = indexes.filter((i) => !made.has(i));
    const read = missing.length > 0 ? await committed(missing) : [];
    const byIndex = new Map(missing.map((i, k) => [i, read[k]!]));
    return indexes.map((i) => made.get(i) ?? byIndex.get(i)!);
  };
  for (const leaf of leaves) {
    const hashes = await storedHashes(leaf.index, leaf.bytes, readHashes);
    const first = storedHashIndex(0, leaf.index);
    hashes.forEach((h, k) => made.set(first + k, h));
  }
  return readHashes;
}

/** Every entry bundle the new leaves touch, full or partial, at its width after each step. */
async function planBundles(oldSize: number, leaves: readonly Leaf[], reader: IntegrationReader): Promise<IntegrationPlan['bundles']> {
  const openWidth = oldSize % TILE_WIDTH;
  let bundle = openWidth === 0 ? [] : [...(await reader.readEntries(Math.floor(oldSize / TILE_WIDTH), openWidth))];
  const bundles: IntegrationPlan['bundles'] = [];
  let size = oldSize;
  for (let i = 0; i < leaves.length; ) {
    const take = Math.min(TILE_WIDTH - bundle.length, leaves.length - i);
    bundle.push(...leaves.slice(i, i + take).map((l) => l.bytes));
    i += take;
    size += take;
    bundles.push({ path: entriesPath(Math.floor((size - 1) / TILE_WIDTH), bundle.length), data: encodeEntryBundle(bundle) });
    if (bundle.length === TILE_WIDTH) bundle = [];
  }
  return bundles;
}
