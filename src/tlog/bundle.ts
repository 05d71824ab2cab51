/**
 * Entry bundles (C2SP tlog-tiles, "Log entries"): the log entries behind one level-0 tile,
 * served at tile/entries/<N>[.p/<W>] (see tile.ts for paths).
 *
 * A bundle is the concatenation, in leaf order, of every entry as
 *
 *   uint16 big-endian length ‖ entry bytes
 *
 * so an entry is at most 65535 bytes and a full bundle holds 256 entries. Entry i of bundle N
 * is leaf N·256 + i; its leaf hash SHA-256(0x00 ‖ entry) is entry i of level-0 tile N.
 * Example: the entries "a" and "" encode as 00 01 61 00 00.
 */
import { ChioError } from '../errors/index.js';

/** Largest entry a bundle can carry: the length prefix is a uint16. */
export const MAX_ENTRY_SIZE = 0xffff;
/** Entries in a full bundle (2^8, the C2SP tile width). */
export const MAX_BUNDLE_ENTRIES = 256;

/** Encode entries as a bundle; throws ChioError('MALFORMED') for too many or too large entries. */
export function encodeEntryBundle(entries: readonly Uint8Array[]): Uint8Array {
  if (entries.length > MAX_BUNDLE_ENTRIES) throw new ChioError('MALFORMED', `a bundle holds at most ${MAX_BUNDLE_ENTRIES} entries`);
  let size = 0;
  for (const e of entries) {
    if (e.length > MAX_ENTRY_SIZE) throw new ChioError('MALFORMED', `entry of ${e.length} bytes exceeds ${MAX_ENTRY_SIZE}`);
    size += 2 + e.length;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const e of entries) {
    out[at] = e.length >> 8;
    out[at + 1] = e.length & 0xff;
    out.set(e, at + 2);
    at += 2 + e.length;
  }
  return out;
}

/**
 * Decode a bundle into its entries (views into `data`). With `width`, the bundle MUST hold
 * exactly that many entries. Throws ChioError('MALFORMED') on truncation or excess.
 */
export function decodeEntryBundle(data: Uint8Array, width?: number): Uint8Array[] {
  // Attacker-controlled when fetched from a log: every length is checked against what remains.
  const entries: Uint8Array[] = [];
  let at = 0;
  while (at < data.length) {
    if (entries.length === MAX_BUNDLE_ENTRIES) throw new ChioError('MALFORMED', `bundle has more than ${MAX_BUNDLE_ENTRIES} entries`);
    if (at + 2 > data.length) throw new ChioError('MALFORMED', 'bundle ends inside a length prefix');
    const length = (data[at]! << 8) | data[at + 1]!;
    if (at + 2 + length > data.length) throw new ChioError('MALFORMED', 'bundle ends inside an entry');
    entries.push(data.subarray(at + 2, at + 2 + length));
    at += 2 + length;
  }
  if (width !== undefined && entries.length !== width) {
    throw new ChioError('MALFORMED', `bundle has ${entries.length} entries, want ${width}`);
  }
  return entries;
}
