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
