/**
 * What tar-stream parses leniently and tar reads otherwise, held against the posted body's own
 * blocks. A bundle is checked in the tar it is posted in, but kept and extracted with tar: the
 * verifier must read exactly the files `tar -x` would write, or refuse. Where GNU tar and
 * tar-stream part ways, and where no tar of a bundle's folder (`tar -C DIR -cf - .`, GNU or
 * pax format) goes, the entry is refused:
 *
 *   an empty block before an entry  tar stops at the first one (two tars one after the other
 *                                   extract as the first); tar-stream skips it and reads on
 *   a header before an entry other than its own pax header ('x'): a global pax header ('g')
 *                                   is applied by GNU tar to every entry after it, by
 *                                   tar-stream only to those with a pax header of their own
 *   a size field not in octal       tar-stream reads "12x" as 10; GNU tar refuses it
 *   pax records other than a plain file's name, size, owner and times: GNU.sparse.* makes tar
 *                                   extract other bytes than the entry holds; an empty path is
 *                                   no path to tar-stream, "." to GNU tar; a size of "12x" is
 *                                   12 to tar-stream, refused by GNU tar
 */
import type { Header } from 'tar-stream';

const BLOCK = 512;
/** The pax records a tar of plain files carries (GNU tar's pax format writes the times; bsdtar the extended attributes). */
const PAX_KEYS = new Set(['path', 'size', 'mtime', 'atime', 'ctime', 'uid', 'gid', 'uname', 'gname', 'comment']);
const PAX_KEY_PREFIXES = ['LIBARCHIVE.xattr.', 'SCHILY.xattr.'];
const OCTAL_FIELD = /^ *([0-7]+)[ \0]*$/;

/** Where the data of the entry `header`, whose header block is at `at`, ends: the next header's block. */
export function endOfEntry(at: number, header: Header): number {
  // tar-stream and GNU tar alike read no data of a folder, whatever size its header says.
  const size = header.type === 'directory' ? 0 : header.size;
  return at + BLOCK + Math.ceil(size / BLOCK) * BLOCK;
}

/**
 * Why the entry whose header is at `at` in `body`, after the blocks from `from` (the end of the
 * entry before it), is not read as tar reads it; undefined when it is.
 */
export function blocksRefusal(body: Uint8Array, from: number, at: number, header: Header): string | undefined {
  for (let p = from; p < at;) {
    const block = body.subarray(p, p + BLOCK);
    if (block.every((b, i) => b === 0 || (i >= 148 && i < 156))) return 'after the end of the archive (an empty block, where tar stops reading)';
    const type = String.fromCharCode(block[156]!);
    if (type === 'g') return "after a g header (a global pax header), which no tar of a bundle's folder holds";
    if (type !== 'x') return `after a ${JSON.stringify(type)} header, which no tar of a bundle's folder holds`;
    const size = octalSize(block);
    if (size === undefined) return 'after a pax header whose size field is not an octal number';
    p += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
    if (p > at) return 'its pax header runs past its own header';
  }
  if (octalSize(body.subarray(at, at + BLOCK)) === undefined) return 'its size field is not an octal number';
  return paxRefusal(header.pax);
}

function paxRefusal(pax: unknown): string | undefined {
  if (pax === null || pax === undefined) return undefined;
  for (const [key, value] of Object.entries(pax as Record<string, string>)) {
    if (!PAX_KEYS.has(key) && !PAX_KEY_PREFIXES.some((p) => key.startsWith(p))) {
      return `pax header record ${JSON.stringify(key).slice(1, -1)}, which tar would read and this verifier does not (a tar of a bundle's plain files needs only path, size, owner and times)`;
    }
    if (key === 'path' && value === '') return 'pax header record path is empty';
    if (key === 'size' && !/^[0-9]+$/.test(value)) return 'pax header record size is not a decimal number';
  }
  return undefined;
}

/** The size field of a header block, when it is octal digits as tar writes them. */
function octalSize(block: Uint8Array): number | undefined {
  const m = OCTAL_FIELD.exec(String.fromCharCode(...block.subarray(124, 136)));
  return m ? parseInt(m[1]!, 8) : undefined;
}
