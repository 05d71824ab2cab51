/**
 * How receipts sit in a message of the receipts stream (SPEC §5, group commit): one message
 * holds one or more receipts of one chain, consecutive on it, as their JCS bytes joined by a
 * line feed. JCS (RFC 8785) escapes every control character inside strings and adds no
 * whitespace, so a receipt's bytes never hold a line feed and the split is exact. A message of
 * one receipt is just that receipt's bytes, as every message was before group commit.
 *
 * A message is stored whole or not at all, so a receipt and the ones before it in its message
 * are stored together: an answer never depends on a receipt whose predecessor is not stored.
 *
 * Pure: no NATS, so that the ledger's integration plan can split messages without I/O.
 */

import { MAX_BATCH_SIZE } from '../receipt/batch.js';

const LINE_FEED = 0x0a;

/** Most receipts one message holds: as many as one batch signature covers (receipt/batch.ts). */
export const MAX_RECEIPTS_PER_MESSAGE = MAX_BATCH_SIZE;

/**
 * The receipts of a stored message as a writer stores them, 1 to MAX_RECEIPTS_PER_MESSAGE
 * lines, none of them empty when there are several, or why the message cannot be one and is
 * refused whole. Anyone who may publish on the receipts subjects can write any message; one of
 * 64 KiB of line feeds split into 65,000 "receipts", each refused and quarantined on its own,
 * and stalled the log for 20 s.
 */
export function receiptLinesOf(data: Uint8Array): { lines: Uint8Array[] } | { refused: string } {
  let count = 1;
  for (let i = data.indexOf(LINE_FEED); i !== -1; i = data.indexOf(LINE_FEED, i + 1)) {
    if (++count > MAX_RECEIPTS_PER_MESSAGE) return { refused: `a message of more than ${MAX_RECEIPTS_PER_MESSAGE} lines` };
  }
  // One line, even an empty one, is refused as the receipt it is not, as before group commit.
  const lines = splitReceiptMessage(data);
  if (lines.length > 1 && lines.some((line) => line.length === 0)) return { refused: 'a message with an empty line' };
  return { lines };
}

/** Receipt bytes of one message, in chain order. Empty lines are kept (and refused as receipts). */
export function splitReceiptMessage(data: Uint8Array): Uint8Array[] {
  const lines: Uint8Array[] = [];
  let start = 0;
  for (let i = data.indexOf(LINE_FEED); i !== -1; i = data.indexOf(LINE_FEED, start)) {
    lines.push(data.subarray(start, i));
    start = i + 1;
  }
  lines.push(data.subarray(start));
  return lines;
}

/** The message that stores `receipts` (each one's JCS bytes), in order. */
export function joinReceiptMessage(receipts: readonly Uint8Array[]): Uint8Array {
  if (receipts.length === 1) return receipts[0]!;
  const out = new Uint8Array(receipts.reduce((n, r) => n + r.length + 1, -1));
  let at = 0;
  receipts.forEach((r, i) => {
    if (i > 0) out[at++] = LINE_FEED;
    out.set(r, at);
    at += r.length;
  });
  return out;
}

/**
 * The `Chio-Receipt-Ids` header of a message of several receipts: their ids, comma-separated,
 * so that a reader can learn every id stored without reading bodies (the verifier's tail
 * search). Nats-Msg-Id is the first receipt's id.
 */
export const RECEIPT_IDS_HEADER = 'Chio-Receipt-Ids';

/** The ids a `Chio-Receipt-Ids` header names; at most `max` (a header is attacker-writable). */
export function parseReceiptIdsHeader(value: string | undefined, max: number): string[] {
  if (!value) return [];
  return value.split(',', max);
}
