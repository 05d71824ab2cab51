/**
 * Merkle tree hashing of RFC 6962 §2.1 (unchanged in RFC 9162 §2.1.1), with SHA-256:
 *
 *   MTH({})    = SHA-256()                             the empty tree
 *   leaf hash  = SHA-256(0x00 ‖ entry bytes)           MTH({d})
 *   node hash  = SHA-256(0x01 ‖ left hash ‖ right hash)
 *
 * The 0x00 / 0x01 prefixes separate the leaf and node domains, so no leaf can pose as a node.
 * Example: leafHash("") = 6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { assert } from '../errors/index.js';

/** A 32-byte SHA-256 hash of a leaf, an interior node or a tree root. */
export type Hash = Uint8Array;

/**
 * A SHA-256 function: @noble's by default (runs anywhere); a Node caller may pass node:crypto's,
 * several times faster on these short inputs (receipt/batch.ts on the hot path).
 */
export type Sha256 = (data: Uint8Array) => Uint8Array;

/** Size of a Hash in bytes. */
export const HASH_SIZE = 32;

const EMPTY_TREE_HASH = sha256(new Uint8Array(0));

/** MTH({}) = SHA-256 of the empty string: the root of the tree of size 0 (a fresh copy). */
export function emptyHash(): Hash {
  return EMPTY_TREE_HASH.slice();
}

/** The leaf hash SHA-256(0x00 ‖ data) of a log entry. */
export function leafHash(data: Uint8Array, sha: Sha256 = sha256): Hash {
  const buf = new Uint8Array(1 + data.length);
  buf[0] = 0x00;
  buf.set(data, 1);
  return sha(buf);
}

/** The interior node hash SHA-256(0x01 ‖ left ‖ right). */
export function nodeHash(left: Hash, right: Hash, sha: Sha256 = sha256): Hash {
  assert(left.length === HASH_SIZE && right.length === HASH_SIZE, 'nodeHash of a non-32-byte hash');
  const buf = new Uint8Array(1 + 2 * HASH_SIZE);
  buf[0] = 0x01;
  buf.set(left, 1);
  buf.set(right, 1 + HASH_SIZE);
  return sha(buf);
}

/** True when `h` is a Uint8Array of exactly HASH_SIZE bytes. */
export function isHash(h: unknown): h is Hash {
  return h instanceof Uint8Array && h.length === HASH_SIZE;
}

