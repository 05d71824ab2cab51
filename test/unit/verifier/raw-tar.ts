/**
 * A tar writer that writes what it is told, for hostile archives no tar tool writes: empty
 * blocks between entries, pax keys of any kind, global headers, raw size fields.
 */
export interface RawEntry {
  name: string;
  /** The typeflag character; '0' by default. */
  type?: string;
  data?: Uint8Array;
  /** The 12-byte size field as written, instead of the data's length in octal. */
  rawSize?: string;
}

const text = new TextEncoder();
const octal = (n: number, width: number) => `${n.toString(8).padStart(width - 1, '0')}\0`;

function header(e: RawEntry): Uint8Array {
  const b = new Uint8Array(512);
  const put = (at: number, s: string) => b.set(text.encode(s), at);
  put(0, e.name);
  put(100, octal(0o644, 8));
  put(108, octal(0, 8));
  put(116, octal(0, 8));
  put(124, e.rawSize ?? octal(e.data?.length ?? 0, 12));
  put(136, octal(1_700_000_000, 12));
  put(148, ' '.repeat(8));
  put(156, e.type ?? '0');
  put(257, 'ustar\x0000');
  let sum = 0;
  for (const x of b) sum += x;
  put(148, `${octal(sum, 7)} `);
  return b;
}

/** One entry: its header, its data, and the padding to a whole block. */
export function rawEntry(e: RawEntry): Uint8Array[] {
  const data = e.data ?? new Uint8Array();
  return [header(e), data, new Uint8Array((512 - (data.length % 512)) % 512)];
}

/** A pax header ('x' for the next entry, 'g' for every entry after it) holding `records`. */
export function paxEntry(records: [string, string][], type: 'x' | 'g' = 'x'): Uint8Array[] {
  let body = '';
  for (const [key, value] of records) {
    const rest = ` ${key}=${value}\n`;
    let len = rest.length + 1;
    while (String(len).length + rest.length !== len) len++;
    body += `${len}${rest}`;
  }
  return rawEntry({ name: 'PaxHeaders/entry', type, data: text.encode(body) });
}

/** The two empty blocks a tar ends with. */
export const END_OF_ARCHIVE = new Uint8Array(1024);
