/**
 * Signing a receipt (SPEC §5): the one place where a body becomes a receipt.
 *
 *   bodyBytes = JCS(body)
 *   id        = hex SHA-256 of bodyBytes
 *   signature = base64 Ed25519 over bodyBytes, or over the Merkle root of a batch of ids
 *               (several receipts stored in one message: receipt/batch.ts)
 *
 * Pure: the signer is passed in (node:crypto on the hot path, anything with `sign` elsewhere),
 * and so is the hash that names the receipt, so this file imports no node: module.
 */
import { toBase64, toHex } from '../encoding.js';
import { MAX_BATCH_PATH, MAX_BATCH_SIZE, batchLeaf, batchMessage, batchTree, type ReceiptBatch, type Sha256 } from './batch.js';
import { canonicalize, sortedKeys } from './jcs.js';
import { receiptBodyBytes, receiptIdOf, type Receipt, type ReceiptBody } from './receipt.js';

/** An Ed25519 private key, as far as signing receipts needs one. */
export interface ReceiptSigner {
  sign(message: Uint8Array): Uint8Array;
}

/** Hex SHA-256 of the body bytes; node:crypto's is faster, @noble's runs anywhere. */
export type ReceiptIdHash = (bodyBytes: Uint8Array) => string;

/**
 * The receipt for `body`: its id and its signature by `signer`. `body.kernel_key` should name
 * the signer's verifier key; this function does not check that (tests sign with a wrong one).
 */
export function signReceipt(body: ReceiptBody, signer: ReceiptSigner, idOf: ReceiptIdHash = receiptIdOf): Receipt {
  const bodyBytes = receiptBodyBytes(body);
  return { ...body, id: idOf(bodyBytes), signature: toBase64(signer.sign(bodyBytes)) };
}

const encoder = new TextEncoder();

/** A body serialised once, with its id: what sealing (id, signature, batch) needs of it. */
export interface PreparedBody {
  body: ReceiptBody;
  /** Its member names, sorted, and each member `"name":value` in canonical form. */
  names: string[];
  members: string[];
  /** JCS(body): what the id hashes and a lone receipt's signature signs. */
  bytes: Uint8Array;
  id: string;
}

/**
 * JCS(body) and the id, serialising each member once. RFC 8785 §3.2.3: an object's canonical
 * form is its members, each `name:value` in canonical form, sorted by name; joined, they are the
 * body's bytes, and joined again with `batch`, `id` and `signature` in their sorted places, the
 * receipt's.
 */
export function prepareBody(body: ReceiptBody, idOf: ReceiptIdHash = receiptIdOf): PreparedBody {
  const record = body as unknown as Record<string, unknown>;
  const names = sortedKeys(body);
  const members = names.map((name) => `${canonicalize(name)}:${canonicalize(record[name])}`);
  const bytes = encoder.encode(`{${members.join(',')}}`);
  return { body, names, members, bytes, id: idOf(bytes) };
}

/** Bytes `id` and `signature` add to a body's JCS bytes: a receipt stored alone is exactly this much larger. */
export const PLAIN_SEAL_BYTES = `,"id":"${'0'.repeat(64)}"`.length + `,"signature":"${'A'.repeat(88)}"`.length;

/** Most bytes `batch`, `id` and `signature` add to a body's JCS bytes (a receipt's size is at most the body's plus this). */
export const SEAL_MAX_BYTES =
  PLAIN_SEAL_BYTES + `,"batch":${canonicalize({ index: MAX_BATCH_SIZE - 1, path: Array.from({ length: MAX_BATCH_PATH }, () => '0'.repeat(64)), size: MAX_BATCH_SIZE })}`.length;

/**
 * The receipts of `prepared`, consecutive on one chain and stored in one message, each with its
 * JCS bytes (what is stored). One receipt is signed over its body; several share one signature
 * over their batch's Merkle root (receipt/batch.ts), each with its own path. Equal, byte for
 * byte, to receiptBytes of the receipt returned — a property test holds the two together.
 */
export function sealReceipts(prepared: readonly PreparedBody[], signer: ReceiptSigner, sha?: Sha256): Array<{ receipt: Receipt; bytes: Uint8Array }> {
  if (prepared.length === 1) {
    const one = prepared[0]!;
    const signature = toBase64(signer.sign(one.bytes));
    return [seal(one, undefined, signature)];
  }
  const { root, paths } = batchTree(prepared.map((p) => batchLeaf(p.id, sha)), sha);
  const signature = toBase64(signer.sign(batchMessage(prepared.length, root)));
  return prepared.map((p, index) => seal(p, { index, path: paths[index]!.map(toHex), size: prepared.length }, signature));
}

/** The receipt and its bytes: the body's members with `batch`, `id` and `signature` merged in their sorted places. */
function seal(p: PreparedBody, batch: ReceiptBatch | undefined, signature: string): { receipt: Receipt; bytes: Uint8Array } {
  const extra: Array<readonly [string, string]> = [];
  if (batch) extra.push(['batch', `"batch":${canonicalize(batch)}`]);
  extra.push(['id', `"id":${canonicalize(p.id)}`], ['signature', `"signature":${canonicalize(signature)}`]);
  let text = '{';
  let next = 0;
  for (let i = 0; i <= p.names.length; i++) {
    for (; next < extra.length && (i === p.names.length || extra[next]![0] < p.names[i]!); next++) text += `${text.length > 1 ? ',' : ''}${extra[next]![1]}`;
    if (i < p.names.length) text += `${text.length > 1 ? ',' : ''}${p.members[i]!}`;
  }
  // Object.assign, not a spread followed by members: that is V8's slow path (see chain/sign-next.ts).
  const receipt: Receipt = Object.assign({}, p.body, batch ? { id: p.id, signature, batch } : { id: p.id, signature });
  return { receipt, bytes: encoder.encode(`${text}}`) };
}

/** signReceipt, and the receipt's JCS bytes (what is stored), serialising the body once. */
export function signReceiptToBytes(body: ReceiptBody, signer: ReceiptSigner, idOf: ReceiptIdHash = receiptIdOf): { receipt: Receipt; bytes: Uint8Array } {
  return sealReceipts([prepareBody(body, idOf)], signer)[0]!;
}
