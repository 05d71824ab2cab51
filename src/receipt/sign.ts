/**
 * Signing a receipt (SPEC §5): the one place where a body becomes a receipt.
 *
 *   bodyBytes = JCS(body)
 *   id        = hex SHA-256 of bodyBytes
 *   signature = base64 Ed25519 over bodyBytes
 *
 * Pure: the signer is passed in (node:crypto on the hot path, anything with `sign` elsewhere),
 * and so is the hash that names the receipt, so this file imports no node: module.
 */
import { toBase64 } from '../encoding.js';
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

/**
 * signReceipt, and the receipt's JCS bytes (what is stored), serialising the body once.
 * RFC 8785 §3.2.3: an object's canonical form is its members, each `name:value` in canonical
 * form, sorted by name. So each member of the body is serialised once; joined, they are the
 * body's bytes (what is hashed and signed); joined again with `id` and `signature` in their
 * sorted places, the receipt's. Equal, byte for byte, to receiptBytes(signReceipt(…)) — a
 * property test holds the two together.
 */
export function signReceiptToBytes(body: ReceiptBody, signer: ReceiptSigner, idOf: ReceiptIdHash = receiptIdOf): { receipt: Receipt; bytes: Uint8Array } {
  const record = body as unknown as Record<string, unknown>;
  const names = sortedKeys(body);
  const members = names.map((name) => `${canonicalize(name)}:${canonicalize(record[name])}`);
  const bodyBytes = encoder.encode(`{${members.join(',')}}`);
  const id = idOf(bodyBytes);
  const signature = toBase64(signer.sign(bodyBytes));
  // The receipt: the body's members with `id` and `signature` each before the first name
  // that sorts after it ("id" < "signature", so one pass places both).
  const extra = [
    ['id', `"id":${canonicalize(id)}`],
    ['signature', `"signature":${canonicalize(signature)}`],
  ] as const;
  let text = '{';
  let next = 0;
  for (let i = 0; i <= names.length; i++) {
    for (; next < extra.length && (i === names.length || extra[next]![0] < names[i]!); next++) text += `${text.length > 1 ? ',' : ''}${extra[next]![1]}`;
    if (i < names.length) text += `${text.length > 1 ? ',' : ''}${members[i]!}`;
  }
  return { receipt: { ...body, id, signature }, bytes: encoder.encode(`${text}}`) };
}
