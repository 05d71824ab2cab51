/**
 * Verifying receipts: pure functions over bytes and trust material (the kernel verifier keys),
 * portable to any JavaScript runtime (@noble, no node:). Used by the ledger before a receipt
 * becomes a leaf, by `chio prove`, by the export verifier and by the explorer page.
 *
 * Order: size → canonical JSON (RFC 8785) → shape → id → trusted kernel key → signature (over
 * the body, or over the root of the receipt's batch, rebuilt from its id and path).
 * The chain link (seq, prev) needs the previous receipt and is checked by `checkChainLink`.
 */
import { ChioError } from '../errors/index.js';
import { fromBase64, fromHex } from '../encoding.js';
import { canonicalize, parseCanonicalText } from './jcs.js';
import { MAX_BATCH_PATH, MAX_BATCH_SIZE, batchLeaf, batchMessage, batchRoot, type Sha256 } from './batch.js';
import { ed25519Verify, parseVerifierKey } from '../tlog/note.js';
import {
  CHAIN_ID_PATTERN, GENESIS_PREV, MAX_RECEIPT_BYTES, RECEIPT_ID_PATTERN, RECEIPT_SCHEMA,
  receiptBodyBytes, receiptIdOf, toReceiptBody, type Receipt,
} from './receipt.js';
import type { ReceiptIdHash } from './sign.js';
import { checkKernelKey, type KernelKeys } from './kernel-trust.js';

export type { KernelKeys } from './kernel-trust.js';

/** An Ed25519 check: true when `signature` is valid for `message` under `publicKey`. */
export type SignatureCheck = (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array) => boolean;

/** Portable, strict RFC 8032 (no small-order keys, canonical points, cofactorless as node:crypto), pure JS: tlog/note.ts. */
export const nobleSignatureCheck: SignatureCheck = ed25519Verify;

/**
 * Parse and verify receipt bytes (attacker-controlled): canonical form, shape, id, kernel key
 * in `kernelKeys` (a list, or a trust set whose windows the receipt's time must fall in), signature. Returns the receipt; throws ChioError (RECEIPT_INVALID,
 * UNTRUSTED_KEY, SIGNATURE_INVALID, MALFORMED). `checkSignature` defaults to the portable
 * @noble check; a Node service may pass a node:crypto one (ten times faster).
 */
export function verifyReceiptBytes(bytes: Uint8Array, kernelKeys: KernelKeys, checkSignature: SignatureCheck = nobleSignatureCheck, idOf: ReceiptIdHash = receiptIdOf): Receipt {
  const { receipt, signed } = readReceiptBytes(bytes, kernelKeys, idOf);
  if (!signatureHolds(signed, checkSignature)) throw signatureInvalid();
  return receipt;
}

/** What an Ed25519 check of a receipt needs: its signature, the body's JCS bytes, the kernel's public key. */
export interface SignedBody {
  signature: Uint8Array;
  message: Uint8Array;
  publicKey: Uint8Array;
}

/**
 * verifyReceiptBytes without its last step: every check up to the signature, and what that
 * check needs, so that a caller may check the signatures of many receipts at once (the ledger
 * spreads them over threads). Throws as verifyReceiptBytes does for the earlier checks.
 */
export function readReceiptBytes(bytes: Uint8Array, kernelKeys: KernelKeys, idOf: ReceiptIdHash = receiptIdOf, sha?: Sha256): { receipt: Receipt; signed: SignedBody } {
  if (bytes.length > MAX_RECEIPT_BYTES) throw new ChioError('RECEIPT_INVALID', `receipt larger than ${MAX_RECEIPT_BYTES} bytes`);
  const { value, text } = parseCanonicalText(bytes, MAX_RECEIPT_BYTES);
  const receipt = toReceipt(value);
  return { receipt, signed: signedBody(receipt, cutBodyBytes(text, receipt) ?? receiptBodyBytes(toReceiptBody(receipt)), kernelKeys, idOf, sha) };
}

/**
 * What receipt bytes claim to be signed, by whom, checking none of it: for checking signatures
 * ahead of time (the ledger checks the next batch's on other threads while it writes this
 * one). Undefined when the bytes do not parse as a receipt, or name a kernel key that
 * `kernelKeys` does not trust (its signature would never be checked). Nothing here is to be trusted;
 * a signature check of the same signature, message and key answers the same, which is all
 * such a check ahead of time may be used for.
 */
export function claimedSignedBody(bytes: Uint8Array, kernelKeys: KernelKeys, sha?: Sha256): SignedBody | undefined {
  try {
    if (bytes.length > MAX_RECEIPT_BYTES) return undefined;
    const text = UTF8_DECODER.decode(bytes);
    const receipt = toReceipt(JSON.parse(text));
    checkKernelKey(kernelKeys, receipt.kernel_key, receipt.time);
    const bodyBytes = cutBodyBytes(text, receipt);
    return bodyBytes && { signature: fromBase64(receipt.signature), message: signedMessage(receipt, bodyBytes, sha), publicKey: kernelPublicKey(receipt.kernel_key) };
  } catch {
    return undefined;
  }
}

const UTF8_DECODER = new TextDecoder('utf-8', { fatal: true });

/** True when `signed` holds: a 64-byte signature that `checkSignature` accepts. */
export function signatureHolds(signed: SignedBody, checkSignature: SignatureCheck): boolean {
  return signed.signature.length === 64 && checkSignature(signed.signature, signed.message, signed.publicKey);
}

export function signatureInvalid(): ChioError {
  return new ChioError('SIGNATURE_INVALID', 'receipt signature is invalid');
}

/** Verify a parsed receipt: id, trusted kernel key, signature. Throws ChioError. */
export function verifyReceipt(receipt: Receipt, kernelKeys: KernelKeys, checkSignature: SignatureCheck = nobleSignatureCheck): void {
  // A parsed object may not have come through toReceipt: its shape (a `batch` of any other
  // shape, even null, included) is refused here rather than ignored.
  toReceipt(receipt);
  if (!signatureHolds(signedBody(receipt, receiptBodyBytes(toReceiptBody(receipt)), kernelKeys, receiptIdOf), checkSignature)) throw signatureInvalid();
}

function signedBody(receipt: Receipt, bodyBytes: Uint8Array, kernelKeys: KernelKeys, idOf: ReceiptIdHash, sha?: Sha256): SignedBody {
  if (idOf(bodyBytes) !== receipt.id) throw new ChioError('RECEIPT_INVALID', 'receipt id does not match its content');
  checkKernelKey(kernelKeys, receipt.kernel_key, receipt.time);
  return { signature: fromBase64(receipt.signature), message: signedMessage(receipt, bodyBytes, sha), publicKey: kernelPublicKey(receipt.kernel_key) };
}

/**
 * What the receipt's signature signs: its body's bytes, or, for a receipt of a batch, the
 * batch's root as its path leads there from the receipt's id (receipt/batch.ts). A path that
 * leads nowhere for its place is a signature that cannot hold. `receipt` has passed toReceipt.
 */
export function signedMessage(receipt: Receipt, bodyBytes: Uint8Array, sha?: Sha256): Uint8Array {
  const batch = receipt.batch;
  if (!batch) return bodyBytes;
  const root = batchRoot(batchLeaf(receipt.id, sha), batch.index, batch.size, batch.path.map(fromHex), sha);
  if (!root) throw new ChioError('SIGNATURE_INVALID', `receipt batch path does not fit index ${batch.index} of ${batch.size}`);
  return batchMessage(batch.size, root);
}

/**
 * The body's JCS bytes cut out of the receipt's own canonical text: the receipt minus its
 * `batch`, `id` and `signature` members, which JCS orders among the others, so what remains is the body's
 * canonical form (one canonicalization fewer per receipt). Only a top-level member can match
 * (inside a string every quote is escaped), and a nested `"id"` holding the receipt's own id
 * cannot be in a genuine receipt (the id hashes the body); a wrong cut would only fail the id
 * check. Undefined when the text is not laid out so (then the body is serialized again).
 */
function cutBodyBytes(text: string, receipt: Receipt): Uint8Array | undefined {
  // `batch` sorts before every body member: when present it opens the object.
  if (receipt.batch) {
    const batch = `{"batch":${canonicalize(receipt.batch)},`;
    if (!text.startsWith(batch)) return undefined;
    text = `{${text.slice(batch.length)}`;
  }
  const id = `,"id":${JSON.stringify(receipt.id)}`;
  const signature = `,"signature":${JSON.stringify(receipt.signature)}`;
  const i = text.indexOf(id);
  const j = text.indexOf(signature);
  if (i < 0 || j < i + id.length) return undefined;
  return UTF8.encode(text.slice(0, i) + text.slice(i + id.length, j) + text.slice(j + signature.length));
}

const UTF8 = new TextEncoder();

/** Trusted kernel keys parsed once each (they are few; the cache is cleared if it ever grows past MAX_PARSED_KEYS). */
const parsedKernelKeys = new Map<string, Uint8Array>();
const MAX_PARSED_KEYS = 64;

function kernelPublicKey(verifierKey: string): Uint8Array {
  let key = parsedKernelKeys.get(verifierKey);
  if (!key) {
    key = parseVerifierKey(verifierKey).publicKey;
    if (parsedKernelKeys.size >= MAX_PARSED_KEYS) parsedKernelKeys.clear();
    parsedKernelKeys.set(verifierKey, key);
  }
  return key;
}

/** The head of a chain as far as it has been checked. */
export interface ChainHead {
  seq: number;
  id: string;
}

/** Check that `receipt` extends `head` (or starts a chain when there is no head). Throws CHAIN_BROKEN. */
export function checkChainLink(head: ChainHead | undefined, receipt: Receipt): void {
  const expectedSeq = head ? head.seq + 1 : 1;
  const expectedPrev = head ? head.id : GENESIS_PREV;
  if (receipt.seq !== expectedSeq || receipt.prev !== expectedPrev) {
    throw new ChioError('CHAIN_BROKEN', `chain ${receipt.chain}: expected seq ${expectedSeq} after ${expectedPrev.slice(0, 12)}…, got seq ${receipt.seq}`);
  }
}

/** Shape of attacker-controlled JSON: the fields a receipt must have, with their types. Throws RECEIPT_INVALID. */
export function toReceipt(value: unknown): Receipt {
  const bad = (why: string) => new ChioError('RECEIPT_INVALID', `receipt: ${why}`);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('not an object');
  const r = value as Record<string, unknown>;
  if (r.schema !== RECEIPT_SCHEMA) throw bad('unknown schema');
  if (typeof r.id !== 'string' || !RECEIPT_ID_PATTERN.test(r.id)) throw bad('id is not 64 hex digits');
  if (typeof r.prev !== 'string' || !RECEIPT_ID_PATTERN.test(r.prev)) throw bad('prev is not 64 hex digits');
  if (typeof r.chain !== 'string' || !CHAIN_ID_PATTERN.test(r.chain)) throw bad('chain is not a subject token');
  if (!Number.isSafeInteger(r.seq) || (r.seq as number) < 1) throw bad('seq is not a positive integer');
  for (const field of ['time', 'policy_hash', 'kernel_key', 'signature'] as const) {
    if (typeof r[field] !== 'string') throw bad(`${field} is not a string`);
  }
  for (const field of ['request', 'subject', 'decision'] as const) {
    if (typeof r[field] !== 'object' || r[field] === null || Array.isArray(r[field])) throw bad(`${field} is not an object`);
  }
  const verdict = (r.decision as Record<string, unknown>).verdict;
  if (verdict !== 'allow' && verdict !== 'deny') throw bad('decision.verdict is not allow or deny');
  if (!Array.isArray(r.evidence)) throw bad('evidence is not a list');
  if ('corrects' in r && (typeof r.corrects !== 'string' || !RECEIPT_ID_PATTERN.test(r.corrects))) throw bad('corrects is not 64 hex digits');
  if ('batch' in r) checkBatchShape(r.batch, bad);
  return value as Receipt;
}

/** `batch`: exactly index, size (2 to MAX_BATCH_SIZE) and a path of up to MAX_BATCH_PATH hex hashes. */
function checkBatchShape(batch: unknown, bad: (why: string) => ChioError): void {
  if (typeof batch !== 'object' || batch === null || Array.isArray(batch)) throw bad('batch is not an object');
  const b = batch as Record<string, unknown>;
  if (Object.keys(b).length !== 3) throw bad('batch has members other than index, size and path');
  if (!Number.isSafeInteger(b.size) || (b.size as number) < 2 || (b.size as number) > MAX_BATCH_SIZE) throw bad(`batch.size is not an integer from 2 to ${MAX_BATCH_SIZE}`);
  if (!Number.isSafeInteger(b.index) || (b.index as number) < 0 || (b.index as number) >= (b.size as number)) throw bad('batch.index is not an index into the batch');
  if (!Array.isArray(b.path) || b.path.length > MAX_BATCH_PATH || !b.path.every((h) => typeof h === 'string' && RECEIPT_ID_PATTERN.test(h))) {
    throw bad(`batch.path is not a list of up to ${MAX_BATCH_PATH} hashes (64 hex digits)`);
  }
}
