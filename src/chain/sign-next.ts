/**
 * The next receipts of a chain, signed: drafts become consecutive receipts after the chain's
 * head, as many as one message holds (SPEC §5), under one batch signature when there are
 * several (receipt/batch.ts). The chain writer (publisher.ts) stores what this returns.
 */
import { ChioError } from '../errors/index.js';
import { RECEIPT_SCHEMA, MAX_RECEIPT_BYTES, type Receipt, type ReceiptBody, type ReceiptDraft } from '../receipt/receipt.js';
import { PLAIN_SEAL_BYTES, SEAL_MAX_BYTES, prepareBody, sealReceipts, type PreparedBody, type ReceiptSigner } from '../receipt/sign.js';
import { sha256Hex, sha256Node } from '../crypto/sha256.js';
import { MAX_RECEIPTS_PER_MESSAGE } from '../store/receipts.js';

/**
 * Bytes of receipts in one message: three of the largest receipts, so that with its headers a
 * message stays under the stream's max_msg_size (store/resources.ts MAX_RECEIPT_MESSAGE_BYTES).
 */
export const MAX_BATCH_BYTES = 3 * MAX_RECEIPT_BYTES;

/**
 * Room a receipt leaves under MAX_RECEIPT_BYTES for its correction, which holds the same
 * request and subject plus `corrects` and the ReceiptLedger decision and evidence (about 250
 * bytes): a correction must never be too large to store, or the chain could not go on.
 */
export const CORRECTION_ROOM_BYTES = 512;

/** Who signs a chain's receipts, and the chain. */
export interface ChainSigning {
  chain: string;
  /** The signer's C2SP verifier key, written into every receipt. */
  kernelKey: string;
  signer: ReceiptSigner;
}

/** The chain's head, as far as the next receipt names it. */
export interface HeadLink {
  seq: number;
  id: string;
}

export interface Signed {
  receipt: Receipt;
  bytes: Uint8Array;
}

/**
 * Sign `drafts` as consecutive receipts after `head`, in order, while they fit one message
 * (MAX_RECEIPTS_PER_MESSAGE, MAX_BATCH_BYTES). A draft whose receipt would be over `maxEach`
 * bytes even alone, or without a canonical form, is handed to `refused` (RECEIPT_INVALID) and takes no seq; one that fits
 * only alone is stored alone. `taken`: drafts looked at; `at`: each receipt's draft.
 */
export function signNext(
  signing: ChainSigning,
  head: HeadLink,
  drafts: readonly ReceiptDraft[],
  maxEach: number,
  refused: (at: number, err: ChioError) => void,
): { signed: Array<Signed & { at: number }>; taken: number } {
  const prepared: Array<PreparedBody & { at: number }> = [];
  let prev = { seq: head.seq, id: head.id };
  let bytes = 0;
  let at = 0;
  for (; at < drafts.length && prepared.length < MAX_RECEIPTS_PER_MESSAGE; at++) {
    // Object.assign, not `{ ...draft, schema, … }`: on Node 20's V8 a spread followed by more
    // members takes a slow path, about 2 µs a member (13 µs a receipt here, issue #8).
    const link: Omit<ReceiptBody, keyof ReceiptDraft> = { schema: RECEIPT_SCHEMA, chain: signing.chain, seq: prev.seq + 1, prev: prev.id, kernel_key: signing.kernelKey };
    const body: ReceiptBody = Object.assign({}, drafts[at]!, link);
    let one: PreparedBody;
    try {
      one = prepareBody(body, sha256Hex);
    } catch (err) {
      // A draft without a canonical form (JCS_UNSUPPORTED: a lone surrogate, say) is this
      // Check's failure alone: thrown from here, it failed every Check of the message with it.
      refused(at, new ChioError('RECEIPT_INVALID', `receipt has no canonical form${err instanceof Error ? `: ${err.message}` : ''}`, { cause: err }));
      continue;
    }
    // Its size is known before its seq is given: the body's bytes plus its seal, which is
    // PLAIN_SEAL_BYTES when it is stored alone and at most SEAL_MAX_BYTES in a batch.
    if (one.bytes.length + PLAIN_SEAL_BYTES > maxEach) {
      refused(at, new ChioError('RECEIPT_INVALID', `receipt is ${one.bytes.length + PLAIN_SEAL_BYTES} bytes, over ${maxEach}`));
      continue;
    }
    const size = one.bytes.length + SEAL_MAX_BYTES;
    const aloneOnly = size > maxEach;
    // One that fits only alone ends this message, or starts the next.
    if (prepared.length > 0 && (aloneOnly || bytes + size + 1 > MAX_BATCH_BYTES)) break;
    bytes += size + 1;
    prepared.push(Object.assign(one, { at }));
    prev = { seq: body.seq, id: one.id };
    if (aloneOnly) {
      at++;
      break;
    }
  }
  if (prepared.length === 0) return { signed: [], taken: at };
  const sealed = sealReceipts(prepared, signing.signer, sha256Node);
  return { signed: sealed.map((s, k) => ({ receipt: s.receipt, bytes: s.bytes, at: prepared[k]!.at })), taken: at };
}
