/**
 * Files named by settings. A public one (a certificate, a CA) only has to be readable; a
 * file that holds a secret — a Chio signing key, a TLS private key, a NATS creds or
 * nkey seed file — MUST NOT be open to group or others (no bit of 0o077 set), as
 * OpenSSH demands of a private key: a key another account can read is a key already shared.
 * A refused or unreadable file stops start-up with CONFIG_INVALID naming the file.
 */
import { readFileSync, statSync } from 'node:fs';
import { ChioError } from './errors/index.js';

/** Permission bits a private file must not have: any access by group or others. */
export const OPEN_TO_OTHERS = 0o077;

/**
 * The bytes of the private file at `path`; `what` names it for the message (a setting, or
 * "the kernel key"). Throws ChioError('CONFIG_INVALID') when it is missing, unreadable or open
 * to group or others.
 */
export function readPrivateFile(path: string, what: string): Buffer {
  let mode: number;
  let bytes: Buffer;
  try {
    // stat follows symbolic links: a mounted Kubernetes Secret is a link to the real file.
    mode = statSync(path).mode;
    bytes = readFileSync(path);
  } catch (cause) {
    throw new ChioError('CONFIG_INVALID', `${what}: cannot read ${path}`, { cause });
  }
  if ((mode & OPEN_TO_OTHERS) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, '0');
    throw new ChioError('CONFIG_INVALID', `${what}: ${path} is readable or writable by group or others (mode ${octal}); make it private with \`chmod 600 ${path}\``);
  }
  return bytes;
}

/** The bytes of a file that holds nothing secret; throws ChioError('CONFIG_INVALID') naming `what` when unreadable. */
export function readPublicFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new ChioError('CONFIG_INVALID', `${what}: cannot read ${path}`, { cause });
  }
}
