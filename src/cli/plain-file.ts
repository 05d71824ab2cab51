/**
 * Reading a file that may be hostile, whole and under a bound: `chio verify-export`'s bundle
 * files, `chio verify-proof`'s proof and receipt. A size taken by path bounds nothing: a link
 * to /dev/zero (or any device) has size 0 and never ends, and opening a FIFO waits for a
 * writer for ever. So a file is opened without waiting (O_NONBLOCK) and, where asked, not
 * through a link (O_NOFOLLOW); it must be a plain file on the descriptor it is read from; and
 * no more than one byte past the size it had is read, so that one growing meanwhile is refused,
 * never read on.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import type { ChioError } from '../errors/index.js';
import { unreadableReason } from '../setting-file.js';

/** Why a file was not read; each command says what that means for it (its code, its words). */
export type FileRefusal =
  /** Not there: ENOENT, or ELOOP for a link where links are refused. */
  | 'missing'
  /** This machine cannot read it (permissions, I/O): not a verdict on what it holds. */
  | 'unreadable'
  /** A FIFO, a device, a folder, a socket; or another file than the one expected. */
  | 'not-plain'
  | 'too-large'
  /** It grew while it was read. */
  | 'changed';

export interface PlainFileOptions {
  /** Follow a link at the path (a file the user named) or refuse it (a file inside a bundle). */
  followLinks: boolean;
  /** The file it must be, by device and inode (as listed before it was opened). */
  identity?: { dev: number; ino: number };
  /** The error to throw; `detail` says what was found, e.g. "not a plain file". */
  refuse: (why: FileRefusal, detail: string, cause?: unknown) => ChioError;
}

/** `path` opened for reading, checked to be a plain file (and the one expected); the caller closes `fd`. */
export function openPlainFile(path: string, opts: PlainFileOptions): { fd: number; size: number } {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | (opts.followLinks ? 0 : constants.O_NOFOLLOW));
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    throw opts.refuse(code === 'ENOENT' || code === 'ELOOP' ? 'missing' : 'unreadable', `cannot be read (${unreadableReason(cause)})`, cause);
  }
  const stat = fstatSync(fd);
  const expected = opts.identity === undefined || (stat.dev === opts.identity.dev && stat.ino === opts.identity.ino);
  if (!stat.isFile() || !expected) {
    closeSync(fd);
    throw opts.refuse('not-plain', 'not a plain file');
  }
  return { fd, size: stat.size };
}

/** The bytes of the plain file at `path`, when it holds at most `max`. */
export function readPlainFile(path: string, max: number, opts: PlainFileOptions): Buffer {
  const { fd, size } = openPlainFile(path, opts);
  try {
    if (size > max) throw opts.refuse('too-large', `${size} bytes, over ${max}`);
    const bytes = Buffer.alloc(size + 1);
    let read = 0;
    while (read < bytes.length) {
      const n = readSync(fd, bytes, read, bytes.length - read, null);
      if (n === 0) break;
      read += n;
    }
    if (read > size) throw opts.refuse('changed', 'changed while it was read');
    return bytes.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}
