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

const LINE_FEED = 0x0a;

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
