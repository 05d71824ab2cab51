/**
 * Batch signatures (SPEC §5): the receipts stored in one message may share one Ed25519
 * signature, and each still verifies on its own, with the kernel key alone.
 *
 * The receipts' ids are the leaves of an RFC 6962 Merkle tree, in chain order:
 *
 *   leaf i    = SHA-256(0x00 ‖ the 32 bytes of receipt i's id)
 *   root      = MTH(leaf 0 … leaf size-1)            (RFC 6962 §2.1, as the log's own tree)
 *   signed    = "chio.receipt.batch.v1\n" ‖ size ‖ "\n" ‖ hex(root) ‖ "\n"
 *
 * Each receipt carries `signature` (base64, over `signed`) and `batch`: its `index`, the batch's
 * `size` and its inclusion `path` (RFC 6962 §2.1.1 PATH, hex hashes from the leaf up). A
 * verifier rebuilds the root from the receipt's own id and its path, and checks the signature
 * over `signed`. The signed text starts with "c" and a receipt body with "{", so a batch
 * signature can never be taken for a receipt's, nor one for the other.
 *
 * Signing n receipts so costs one signature instead of n (the largest cost of a Check at
 * saturation, issue #8); a message of one receipt keeps the plain form (signature over the
 * body, no `batch`), byte for byte as before.
 *
 * Pure: no I/O, no node: module; it runs in a browser.
 */
import { leafHash, nodeHash, type Hash, type Sha256 } from '../tlog/hash.js';
import { fromHex, toHex, utf8 } from '../encoding.js';

export type { Sha256 } from '../tlog/hash.js';

/** Most receipts one batch signature covers, and so one message holds (store/receipts.ts MAX_RECEIPTS_PER_MESSAGE). */
export const MAX_BATCH_SIZE = 128;
/** Hashes in a path of a batch of MAX_BATCH_SIZE: ceil(log2(128)). */
export const MAX_BATCH_PATH = 7;

/** A receipt's place in the batch its signature covers. */
export interface ReceiptBatch {
  index: number;
  size: number;
  /** Hex hashes, from the leaf's sibling up to the root's child. */
  path: string[];
}

/** What a batch signature signs: the batch's size and Merkle root. */
export function batchMessage(size: number, root: Hash): Uint8Array {
  return utf8(`chio.receipt.batch.v1\n${size}\n${toHex(root)}\n`);
}

/** The leaf of a receipt: its id's 32 bytes under the RFC 6962 leaf prefix. */
export function batchLeaf(id: string, sha?: Sha256): Hash {
  return leafHash(fromHex(id), sha);
}

/**
 * The root of the tree over `leaves` and each leaf's path (RFC 6962 §2.1.1): split at the
 * largest power of two below the size, as the log's tree does; every leaf on the left gains the
 * right subtree's root as its next sibling, and the other way round. n - 1 node hashes in all.
 */
export function batchTree(leaves: readonly Hash[], sha?: Sha256): { root: Hash; paths: Hash[][] } {
  if (leaves.length === 0 || leaves.length > MAX_BATCH_SIZE) throw new RangeError(`a batch holds 1 to ${MAX_BATCH_SIZE} receipts, not ${leaves.length}`);
  const paths: Hash[][] = leaves.map(() => []);
  const build = (lo: number, hi: number): Hash => {
    if (hi - lo === 1) return leaves[lo]!;
    let k = 1;
    while (k * 2 < hi - lo) k *= 2;
    const left = build(lo, lo + k);
    const right = build(lo + k, hi);
    for (let i = lo; i < lo + k; i++) paths[i]!.push(right);
    for (let i = lo + k; i < hi; i++) paths[i]!.push(left);
    return nodeHash(left, right, sha);
  };
  return { root: build(0, leaves.length), paths };
}

/**
 * The root that `path` leads to from `leaf` at `index` in a tree of `size` leaves (RFC 9162
 * §2.1.3.2), or undefined when the path has the wrong length for that place (then no root can
 * be trusted from it).
 */
export function batchRoot(leaf: Hash, index: number, size: number, path: readonly Hash[], sha?: Sha256): Hash | undefined {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return undefined;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return undefined;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r, sha);
      // The last node of its level: climb while it is a left child (it has no right sibling there).
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      r = nodeHash(r, p, sha);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : undefined;
}
