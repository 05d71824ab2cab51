/**
 * The Merkle tree of a tamper-evident log, after Go's golang.org/x/mod/sumdb/tlog; its proofs are
 * those of RFC 6962 §2.1 / RFC 9162 §2.1 and check against transparency-dev/merkle.
 *
 * Coordinates. The hash at (level L, index n) covers records [n·2^L, (n+1)·2^L). Level 0 holds
 * the leaf hashes; (L+1, n) = nodeHash((L, 2n), (L, 2n+1)). Only complete subtrees have stored
 * hashes; the root of a tree whose size is not a power of two is computed, never stored.
 *
 * Storage order (Crosby & Wallach, "Efficient Data Structures for Tamper-Evident Logging" §3.3).
 * Stored hashes get dense indexes in the order they become known: when record n is appended, its
 * leaf hash comes first, then one hash per subtree that record n completes (one per trailing 1
 * bit of n). For records 0..4 that is
 *
 *   index:       0      1      2      3      4      5      6      7
 *   (L, n):    (0,0)  (0,1)  (1,0)  (0,2)  (0,3)  (1,1)  (2,0)  (0,4)
 *
 * so storedHashIndex(0, n) = n + ⌊n/2⌋ + ⌊n/4⌋ + …, (L, n) follows (L-1, 2n+1) directly, and a
 * tree of size s has exactly storedHashIndex(0, s) < 2·s stored hashes.
 *
 * Storage is reached through one function, HashReader: given stored-hash indexes (always asked in
 * increasing order), return those hashes. Every prove function first gathers all the indexes it
 * needs, reads them in one call, then computes: one round trip per proof.
 *
 * Proofs are lists of 32-byte hashes in RFC 9162 order: the sibling nearest the leaf first.
 *  - Record (inclusion) proof for record n in a tree of size t: RFC 6962 §2.1.1 PATH(n, D[t]).
 *  - Tree (consistency) proof from size n to size t: RFC 6962 §2.1.2 PROOF(n, D[t]).
 * The empty tree (size 0) has root MTH({}) = SHA-256() and is a prefix of every tree: its
 * consistency proof is empty. (Go's tlog uses an all-zero hash for size 0 and rejects n = 0.)
 */
import { ChioError, assert } from '../errors/index.js';
import { MAX_TREE_SIZE, isIndex, maxpow2, shl, shr, trailingZeros } from './bits.js';
import { type Hash, emptyHash, isHash, leafHash, nodeHash } from './hash.js';
import { bytesEqual } from '../encoding.js';

/**
 * Reads stored hashes by index (see storedHashIndex). MUST return exactly one 32-byte hash per
 * index, in the same order, or throw. Callers ask for indexes in increasing order.
 */
export type HashReader = (indexes: number[]) => Hash[] | Promise<Hash[]>;

/** A proof never needs more hashes than the tree has levels: 52 for MAX_TREE_SIZE, 64 to spare. */
export const MAX_PROOF_LENGTH = 64;

/** Dense storage index of the stored hash at (level, n). */
export function storedHashIndex(level: number, n: number): number {
  assert(Number.isInteger(level) && level >= 0 && level <= 63 && isIndex(n, 2 ** 53), 'storedHashIndex out of range');
  // (L, n) is written right after (L-1, 2n+1): walk down to the level-0 record that completes it.
  for (let l = level; l > 0; l--) n = shl(n, 1) + 1;
  // Level 0's n-th hash is preceded by n leaf hashes and ⌊n/2⌋ + ⌊n/4⌋ + … node hashes.
  let i = 0;
  for (; n > 0; n = shr(n, 1)) i += n;
  assert(Number.isSafeInteger(i + level), 'stored hash index overflows 2^53');
  return i + level;
}

/** The inverse of storedHashIndex: the (level, n) stored at `index`. */
export function splitStoredHashIndex(index: number): { level: number; n: number } {
  assert(isIndex(index, 2 * MAX_TREE_SIZE), 'splitStoredHashIndex out of range');
  // storedHashIndex(0, n) ≤ 2n, so the record that wrote `index` is in [index/2, index/2 + log₂ index].
  let n = shr(index, 1);
  let indexN = storedHashIndex(0, n);
  assert(indexN <= index, 'bad math in splitStoredHashIndex');
  for (;;) {
    // Record n writes 1 + trailingZeros(n+1) hashes.
    const next = indexN + 1 + trailingZeros(n + 1);
    if (next > index) break;
    n++;
    indexN = next;
  }
  // `index` was written with record n: it is one of (0, n), (1, n/2), (2, n/4), …
  const level = index - indexN;
  return { level, n: shr(n, level) };
}

/** Number of stored hashes of a tree of size n: those of records 0..n-1. */
export function storedHashCount(n: number): number {
  assert(isIndex(n), 'storedHashCount out of range');
  return storedHashIndex(0, n);
}

/**
 * The hashes to store when appending record n (the tree grows from size n to n+1), to be written
 * from storedHashIndex(0, n) on: its leaf hash, then the roots of the subtrees it completes.
 * Reads at most log₂ n earlier hashes.
 */
export async function storedHashes(n: number, data: Uint8Array, readHashes: HashReader): Promise<Hash[]> {
  return storedHashesForLeafHash(n, leafHash(data), readHashes);
}

/** Like storedHashes, given leafHash(data) instead of the data. */
export async function storedHashesForLeafHash(n: number, leaf: Hash, readHashes: HashReader): Promise<Hash[]> {
  assert(isIndex(n, MAX_TREE_SIZE - 1) && isHash(leaf), 'storedHashes of an invalid record');
  const old = await readExactly(readHashes, appendReadIndexes(n));
  return appendHashes(leaf, old);
}

/** Indexes, in increasing order, of the left siblings that record n's completed subtrees need. */
export function appendReadIndexes(n: number): number[] {
  // Each trailing 1 bit of n completes a subtree whose left half is already stored.
  const m = trailingZeros(n + 1);
  const indexes = new Array<number>(m);
  for (let i = 0; i < m; i++) indexes[m - 1 - i] = storedHashIndex(i, shr(n, i) - 1);
  return indexes;
}

/** The new stored hashes given the leaf hash and the hashes at appendReadIndexes(n). */
export function appendHashes(leaf: Hash, old: readonly Hash[]): Hash[] {
  const hashes = [leaf];
  let h = leaf;
  for (let i = old.length - 1; i >= 0; i--) {
    h = nodeHash(old[i]!, h);
    hashes.push(h);
  }
  return hashes;
}

/** Root hash MTH(D[n]) of the tree of size n: one read of at most 1 + log₂ n hashes. */
export async function treeHash(n: number, readHashes: HashReader): Promise<Hash> {
  if (!isIndex(n)) throw new ChioError('MALFORMED', `tree size ${String(n)} is out of range`);
  if (n === 0) return emptyHash();
  const cursor = new HashCursor(await readExactly(readHashes, subTreeIndex(0, n, [])));
  const h = subTreeHash(0, n, cursor);
  assert(cursor.done, 'bad index math in treeHash');
  return h;
}

/** Prove that the tree of size t contains record n: RFC 6962 §2.1.1 PATH(n, D[t]). */
export async function proveRecord(t: number, n: number, readHashes: HashReader): Promise<Hash[]> {
  if (!isIndex(t) || !isIndex(n) || n >= t) {
    throw new ChioError('MALFORMED', `no record ${String(n)} in a tree of size ${String(t)}`);
  }
  const indexes = leafProofIndex(0, t, n, []);
  if (indexes.length === 0) return [];
  const cursor = new HashCursor(await readExactly(readHashes, indexes));
  const proof = leafProof(0, t, n, cursor);
  assert(cursor.done, 'bad index math in proveRecord');
  return proof;
}

/**
 * Check that `proof` shows that the tree of size t with root th has record n with leaf hash h.
 * Throws ChioError('PROOF_INVALID') when it does not, whatever the reason.
 */
export function checkRecord(proof: readonly Hash[], t: number, th: Hash, n: number, h: Hash): void {
  // Attacker-controlled: all of it. Shape first, then the hashing.
  if (!isIndex(t) || !isIndex(n) || n >= t) throw new ChioError('PROOF_INVALID', 'record index is outside the tree');
  if (!isHash(th) || !isHash(h) || !isProofShape(proof)) throw new ChioError('PROOF_INVALID', 'malformed record proof');
  const root = runRecordProof(proof, proof.length, 0, t, n, h);
  if (root === undefined || !bytesEqual(root, th)) throw new ChioError('PROOF_INVALID', 'record proof does not match the tree root');
}

/** Prove that the tree of size t contains the tree of size n ≤ t as a prefix: RFC 6962 §2.1.2. */
export async function proveTree(t: number, n: number, readHashes: HashReader): Promise<Hash[]> {
  if (!isIndex(t) || !isIndex(n) || n > t) {
    throw new ChioError('MALFORMED', `no consistency proof from size ${String(n)} to size ${String(t)}`);
  }
  if (n === 0 || n === t) return [];
  const cursor = new HashCursor(await readExactly(readHashes, treeProofIndex(0, t, n, [])));
  const proof = treeProof(0, t, n, cursor);
  assert(cursor.done, 'bad index math in proveTree');
  return proof;
}

/**
 * Check that `proof` shows that the tree of size t with root th contains as a prefix the tree of
 * size n with root h. Throws ChioError('PROOF_INVALID') when it does not.
 */
export function checkTree(proof: readonly Hash[], t: number, th: Hash, n: number, h: Hash): void {
  if (!isIndex(t) || !isIndex(n) || n > t) throw new ChioError('PROOF_INVALID', 'tree sizes are out of order');
  if (!isHash(th) || !isHash(h) || !isProofShape(proof)) throw new ChioError('PROOF_INVALID', 'malformed tree proof');
  if (n === 0) {
    // The empty tree is a prefix of every tree; its root is MTH({}).
    const empty = emptyHash();
    if (proof.length === 0 && bytesEqual(h, empty) && (t > 0 || bytesEqual(th, empty))) return;
    throw new ChioError('PROOF_INVALID', 'tree proof from the empty tree does not hold');
  }
  const roots = runTreeProof(proof, proof.length, 0, t, n, h);
  if (roots === undefined || !bytesEqual(roots.old, h) || !bytesEqual(roots.now, th)) {
    throw new ChioError('PROOF_INVALID', 'tree proof does not match the tree roots');
  }
}

/** Reads hashes once and checks the reader kept its contract. */
export async function readExactly(readHashes: HashReader, indexes: number[]): Promise<Hash[]> {
  if (indexes.length === 0) return [];
  const hashes = await readHashes(indexes);
  if (hashes.length !== indexes.length || !hashes.every(isHash)) {
    throw new ChioError('INTERNAL', `hash reader returned ${hashes.length} values for ${indexes.length} indexes`);
  }
  return hashes;
}

function isProofShape(proof: readonly Hash[]): boolean {
  return Array.isArray(proof) && proof.length <= MAX_PROOF_LENGTH && proof.every(isHash);
}

/** Hands out hashes in the order their indexes were gathered. */
class HashCursor {
  private pos = 0;
  constructor(private readonly hashes: readonly Hash[]) {}

  take(count: number): readonly Hash[] {
    assert(this.pos + count <= this.hashes.length, 'hash cursor overrun');
    this.pos += count;
    return this.hashes.slice(this.pos - count, this.pos);
  }

  get done(): boolean {
    return this.pos === this.hashes.length;
  }
}

/**
 * Appends the indexes needed for MTH(D[lo:hi]): the complete subtrees that [lo, hi) splits into,
 * left to right, each as large as possible (RFC 6962 §2.1).
 */
export function subTreeIndex(lo: number, hi: number, need: number[]): number[] {
  while (lo < hi) {
    const { k, level } = maxpow2(hi - lo + 1);
    assert(lo % k === 0, 'bad math in subTreeIndex');
    need.push(storedHashIndex(level, shr(lo, level)));
    lo += k;
  }
  return need;
}

/** MTH(D[lo:hi]) from the hashes that subTreeIndex(lo, hi) listed. */
function subTreeHash(lo: number, hi: number, cursor: HashCursor): Hash {
  let count = 0;
  for (let at = lo; at < hi; count++) at += maxpow2(hi - at + 1).k;
  const hashes = cursor.take(count);
  // The right fringe is folded first: MTH = NODE(left, NODE(middle, … right)).
  let h = hashes[count - 1]!;
  for (let i = count - 2; i >= 0; i--) h = nodeHash(hashes[i]!, h);
  return h;
}

/** Appends the indexes needed to prove leaf n in D[lo:hi] (RFC 6962 §2.1.1). */
function leafProofIndex(lo: number, hi: number, n: number, need: number[]): number[] {
  assert(lo <= n && n < hi, 'bad math in leafProofIndex');
  if (lo + 1 === hi) return need;
  const { k } = maxpow2(hi - lo);
  if (n < lo + k) {
    leafProofIndex(lo, lo + k, n, need);
    return subTreeIndex(lo + k, hi, need);
  }
  subTreeIndex(lo, lo + k, need);
  return leafProofIndex(lo + k, hi, n, need);
}

/** PATH(n, D[lo:hi]): the sub-proof first, then the hash of the side not taken. */
function leafProof(lo: number, hi: number, n: number, cursor: HashCursor): Hash[] {
  if (lo + 1 === hi) return []; // the verifier knows the leaf hash
  const { k } = maxpow2(hi - lo);
  if (n < lo + k) {
    const proof = leafProof(lo, lo + k, n, cursor);
    proof.push(subTreeHash(lo + k, hi, cursor));
    return proof;
  }
  const sibling = subTreeHash(lo, lo + k, cursor);
  const proof = leafProof(lo + k, hi, n, cursor);
  proof.push(sibling);
  return proof;
}

/** The root of D[lo:hi] implied by proof[0:end] for leaf n with hash leaf, or undefined. */
function runRecordProof(proof: readonly Hash[], end: number, lo: number, hi: number, n: number, leaf: Hash): Hash | undefined {
  // At the leaf the proof MUST be used up: no unnecessary hashes.
  if (lo + 1 === hi) return end === 0 ? leaf : undefined;
  if (end === 0) return undefined;
  const { k } = maxpow2(hi - lo);
  const sibling = proof[end - 1]!;
  if (n < lo + k) {
    const left = runRecordProof(proof, end - 1, lo, lo + k, n, leaf);
    return left && nodeHash(left, sibling);
  }
  const right = runRecordProof(proof, end - 1, lo + k, hi, n, leaf);
  return right && nodeHash(sibling, right);
}

/** Appends the indexes needed for the consistency sub-proof of D[lo:hi] (RFC 6962 §2.1.2). */
function treeProofIndex(lo: number, hi: number, n: number, need: number[]): number[] {
  assert(lo < n && n <= hi, 'bad math in treeProofIndex');
  if (n === hi) return lo === 0 ? need : subTreeIndex(lo, hi, need);
  const { k } = maxpow2(hi - lo);
  if (n <= lo + k) {
    treeProofIndex(lo, lo + k, n, need);
    return subTreeIndex(lo + k, hi, need);
  }
  subTreeIndex(lo, lo + k, need);
  return treeProofIndex(lo + k, hi, n, need);
}

/** SUBPROOF(n, D[lo:hi]): the sub-proof first, then the hash of the other side. */
function treeProof(lo: number, hi: number, n: number, cursor: HashCursor): Hash[] {
  if (n === hi) {
    // Common ground. At lo = 0 this is the old tree itself, whose root the verifier has.
    return lo === 0 ? [] : [subTreeHash(lo, hi, cursor)];
  }
  const { k } = maxpow2(hi - lo);
  if (n <= lo + k) {
    const proof = treeProof(lo, lo + k, n, cursor);
    proof.push(subTreeHash(lo + k, hi, cursor));
    return proof;
  }
  const sibling = subTreeHash(lo, lo + k, cursor);
  const proof = treeProof(lo + k, hi, n, cursor);
  proof.push(sibling);
  return proof;
}

/** The roots of D[lo:n] (old) and D[lo:hi] (now) implied by proof[0:end], or undefined. */
function runTreeProof(proof: readonly Hash[], end: number, lo: number, hi: number, n: number, old: Hash): { old: Hash; now: Hash } | undefined {
  if (n === hi) {
    if (lo === 0) return end === 0 ? { old, now: old } : undefined;
    return end === 1 ? { old: proof[0]!, now: proof[0]! } : undefined;
  }
  if (end === 0) return undefined;
  const { k } = maxpow2(hi - lo);
  const sibling = proof[end - 1]!;
  if (n <= lo + k) {
    const sub = runTreeProof(proof, end - 1, lo, lo + k, n, old);
    return sub && { old: sub.old, now: nodeHash(sub.now, sibling) };
  }
  const sub = runTreeProof(proof, end - 1, lo + k, hi, n, old);
  return sub && { old: nodeHash(sibling, sub.old), now: nodeHash(sibling, sub.now) };
}

/**
 * Stored hashes held in memory: for tests and for callers that keep a small tree in memory.
 * `readHashes` may be passed around unbound and returns copies.
 */
export class MemoryHashStore {
  private readonly hashes: Hash[] = [];
  private size = 0;

  /** Number of records appended so far. */
  get treeSize(): number {
    return this.size;
  }

  /** Append record `data` as leaf number treeSize. */
  append(data: Uint8Array): void {
    this.appendLeafHash(leafHash(data));
  }

  /** Append a record given its leaf hash. */
  appendLeafHash(leaf: Hash): void {
    assert(isHash(leaf) && this.size < MAX_TREE_SIZE, 'appendLeafHash');
    const old = appendReadIndexes(this.size).map((i) => this.hashes[i]!);
    this.hashes.push(...appendHashes(leaf.slice(), old));
    this.size++;
  }

  readonly readHashes = (indexes: number[]): Hash[] =>
    indexes.map((i) => {
      const h = this.hashes[i];
      if (h === undefined) throw new ChioError('NOT_FOUND', `no stored hash at index ${i}`);
      return h.slice();
    });
}
