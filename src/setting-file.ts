/**
 * Files named by settings. A public one (a certificate, a CA) only has to be readable; a
 * file that holds a secret — a Chio signing key, a TLS private key, a NATS creds or
 * nkey seed file — MUST NOT be open to group or others (no bit of 0o077 set), as
 * OpenSSH demands of a private key: a key another account can read is a key already shared.
 * One exception, PostgreSQL's for its server key: a file owned by root (not by the account
 * Chio runs as) may also be read by its group (0o440 or less). That is how Kubernetes mounts
 * a Secret for a non-root pod: root-owned, group = the pod's fsGroup.
 * A refused or unreadable file stops start-up with CONFIG_INVALID naming the file.
 */
import { closeSync, constants, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { ChioError } from './errors/index.js';

/** Permission bits a private file must not have: any access by group or others. */
export const OPEN_TO_OTHERS = 0o077;
/** What a root-owned private file may grant beyond its owner: read by its group. */
const ROOT_OWNED_GROUP_READ = 0o040;

/**
 * The bytes of the private file at `path`; `what` names it for the message (a setting, or
 * "the kernel key"). Throws ChioError('CONFIG_INVALID') when it is missing, unreadable or open
 * to group or others.
 */
export function readPrivateFile(path: string, what: string): Buffer {
  let mode: number;
  let owner: number;
  let bytes: Buffer;
  try {
    // stat follows symbolic links: a mounted Kubernetes Secret is a link to the real file.
    ({ mode, uid: owner } = statSync(path));
  } catch (cause) {
    throw new ChioError('CONFIG_INVALID', `${what}: cannot read ${quotablePath(path)} (${unreadableReason(cause)})`, { cause });
  }
  bytes = readSettingFile(path, what);
  if (isOpenToOthers(mode, owner, process.getuid?.())) {
    const octal = (mode & 0o777).toString(8).padStart(4, '0');
    throw new ChioError('CONFIG_INVALID', `${what}: ${path} is readable or writable by group or others (mode ${octal}); make it private with \`chmod 600 ${path}\``);
  }
  return bytes;
}

/**
 * `path` as a message may quote it, unless it is no path but the secret itself: a setting that
 * names a private file is easily given its content instead (NATS_NKEY=$(cat user.nk),
 * CHIO_TLS_KEY="$(cat tls.key)"), and the message goes to stderr and the log. A PEM block,
 * anything on several lines, or an nkey seed (S + a type letter + base32) is not quoted.
 */
function quotablePath(path: string): string {
  const secretLike = path.includes('-----BEGIN') || /[\r\n]/.test(path) || /^S[A-Z][A-Z2-7]{50,}$/.test(path.trim());
  return secretLike ? 'the value given (not shown: it looks like a key or credential itself, not the path of a file holding one)' : path;
}

/**
 * Whether a private file of `mode` owned by `owner` is open to others, for a process running
 * as `self`: any group or other bit, except group read on a file root owns and `self` is not root.
 */
export function isOpenToOthers(mode: number, owner: number, self: number | undefined): boolean {
  const mayGroupRead = owner === 0 && self !== 0;
  return (mode & OPEN_TO_OTHERS & ~(mayGroupRead ? ROOT_OWNED_GROUP_READ : 0)) !== 0;
}

/** The bytes of a file that holds nothing secret; throws ChioError('CONFIG_INVALID') naming `what` when unreadable. */
export function readPublicFile(path: string, what: string): Buffer {
  return readSettingFile(path, what);
}

/**
 * A key, a certificate, a CA bundle or a creds file is a few kilobytes (a system CA bundle a few
 * hundred); this is far more.
 */
const MAX_SETTING_FILE_BYTES = 4 * 1024 * 1024;

/**
 * The bytes of a file a setting names, read as readRegularFile reads: readFileSync would wait for
 * a writer for ever on a FIFO (the process neither starts nor stops) and read a link to
 * /dev/zero until memory runs out. A refusal names `what`.
 */
function readSettingFile(path: string, what: string): Buffer {
  try {
    return readRegularFile(path, MAX_SETTING_FILE_BYTES);
  } catch (cause) {
    if (cause instanceof UnreadableFile) throw new ChioError('CONFIG_INVALID', `${what}: cannot read ${path} (${cause.reason})`, { cause });
    throw new ChioError('CONFIG_INVALID', `${what}: ${(cause as Error).message}`, { cause });
  }
}

/** The file could not be opened or read at all (not: it was refused for what it is). */
export class UnreadableFile extends ChioError {
  /** Why, in words: "no such file", "permission denied", or the system's error code. */
  readonly reason: string;

  constructor(path: string, cause: unknown) {
    const reason = unreadableReason(cause);
    super('CONFIG_INVALID', `${path}: cannot read (${reason})`, { cause });
    this.reason = reason;
  }
}

const UNREADABLE_REASONS: Record<string, string> = { ENOENT: 'no such file', EACCES: 'permission denied', EPERM: 'permission denied', ENOTDIR: 'a part of its path is not a directory', ELOOP: 'too many symbolic links', EISDIR: 'a directory' };

/** Why a file could not be opened or read, in words ("no such file"), for every command's message. */
export function unreadableReason(cause: unknown): string {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  return code === undefined ? 'error' : UNREADABLE_REASONS[code] ?? code;
}

/**
 * The bytes of the regular file at `path` (links followed, as a mounted ConfigMap needs), at
 * most `maxBytes`, for files read again while serving (policies, the keys they name,
 * kernels.yaml). A FIFO, a device or a directory is refused without blocking (O_NONBLOCK: an
 * open FIFO with no writer would stop the event loop for good; /dev/zero never ends), and a
 * file over `maxBytes`, or one that grows past it while read, is refused without being read
 * whole. Throws ChioError('CONFIG_INVALID') whose message starts with `path`: an
 * UnreadableFile when it could not be opened or read at all (missing, no permission), so that
 * callers can say so in their own words and pass a refusal on as it is.
 */
export function readRegularFile(path: string, maxBytes: number): Buffer {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (cause) {
    throw new UnreadableFile(path, cause);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new ChioError('CONFIG_INVALID', `${path}: not a regular file`);
    if (stat.size > maxBytes) throw tooLarge(path, maxBytes);
    return readAtMost(fd, path, maxBytes, stat.size);
  } catch (cause) {
    if (cause instanceof ChioError) throw cause;
    throw new UnreadableFile(path, cause);
  } finally {
    closeSync(fd);
  }
}

/**
 * The bytes of whatever opens at `path` — a pipe too (`<(…)` on a command line) — at most
 * `maxBytes`: read up to one byte past the bound, never whole (a size taken by stat bounds
 * nothing: a link to /dev/zero has size 0 and never ends). The open blocks as a FIFO's does;
 * for files read while serving, readRegularFile. Throws as readRegularFile does.
 */
export function readBoundedFile(path: string, maxBytes: number): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (cause) {
    throw new UnreadableFile(path, cause);
  }
  try {
    return readAtMost(fd, path, maxBytes, 0);
  } catch (cause) {
    if (cause instanceof ChioError) throw cause;
    throw new UnreadableFile(path, cause);
  } finally {
    closeSync(fd);
  }
}

function tooLarge(path: string, maxBytes: number): ChioError {
  return new ChioError('CONFIG_INVALID', `${path}: larger than ${maxBytes} bytes`);
}

/** Read `fd` to its end, growing from `sizeHint`; throws once more than `maxBytes` came. */
function readAtMost(fd: number, path: string, maxBytes: number, sizeHint: number): Buffer {
  let buf = Buffer.alloc(Math.min(sizeHint, maxBytes) + 1);
  let n = 0;
  for (let got; (got = readSync(fd, buf, n, buf.length - n, null)) > 0; ) {
    n += got;
    if (n > maxBytes) throw tooLarge(path, maxBytes);
    if (n === buf.length) buf = Buffer.concat([buf, Buffer.alloc(Math.min(Math.max(buf.length, 4096), maxBytes + 1 - buf.length))]);
  }
  return buf.subarray(0, n);
}
