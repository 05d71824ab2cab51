/**
 * Chio's Ed25519 keys on disk (SPEC §1). `chio keygen` writes each key Chio needs into the
 * key directory as a pair of files, never overwriting one that exists:
 *
 *   <role>.key  C2SP signer key   PRIVATE+KEY+<name>+<hex keyID>+<base64(0x01 ‖ seed)>   (mode 0600)
 *   <role>.pub  C2SP verifier key <name>+<hex keyID>+<base64(0x01 ‖ public key)>
 *
 * Roles: kernel (signs receipts), log (signs checkpoints; its name is the log origin),
 * export (signs compliance bundles), demo-issuer (issues the demo capability tokens).
 * Private keys are read from these files (or a mounted Secret) and never logged; a key file
 * readable by group or others is refused (setting-file.ts).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ChioError } from './errors/index.js';
import { readPrivateFile, readRegularFile, UnreadableFile } from './setting-file.js';
import { newEd25519SignerKey, parseSignerKey, parseVerifierKey } from './tlog/index.js';
import { createNodeSigner, type Ed25519Signer } from './crypto/ed25519.js';

/** Far larger than a verifier key file (`name+hash+key`, under 200 bytes). */
const MAX_VERIFIER_KEY_FILE_BYTES = 4096;

export type KeyRole = 'kernel' | 'log' | 'export' | 'demo-issuer';
export const KEY_ROLES: readonly KeyRole[] = ['kernel', 'log', 'export', 'demo-issuer'];

export interface LoadedKey {
  name: string;
  /** C2SP signer key string (secret). */
  signerKey: string;
  /** C2SP verifier key string (public). */
  verifierKey: string;
  signer: Ed25519Signer;
}

function keyName(role: KeyRole, origin: string): string {
  return role === 'log' ? origin : `chio-${role}`;
}

/** Create every missing key; returns the roles that were created. Never overwrites. */
export function generateKeys(keyDir: string, origin: string): KeyRole[] {
  return writeMissingKeys(keyDir, origin).created;
}

/** What writeMissingKeys wrote: keys made new, and public halves written again from their private key. */
export interface KeysWritten {
  created: KeyRole[];
  repaired: KeyRole[];
}

/** Create every missing key, and every missing `.pub` of a `.key` that exists. Never overwrites. */
export function writeMissingKeys(keyDir: string, origin: string): KeysWritten {
  mkdirSync(keyDir, { recursive: true, mode: 0o700 });
  const written: KeysWritten = { created: [], repaired: [] };
  for (const role of KEY_ROLES) {
    const privPath = join(keyDir, `${role}.key`);
    const pubPath = join(keyDir, `${role}.pub`);
    if (existsSync(privPath)) {
      // Repair a missing public half from the private one; the private key is never replaced.
      if (!existsSync(pubPath)) {
        writeFileSync(pubPath, `${parseSignerKey(readFileSync(privPath, 'utf8').trim()).verifierKey}\n`);
        written.repaired.push(role);
      }
      continue;
    }
    const { signerKey, verifierKey } = newEd25519SignerKey(keyName(role, origin), new Uint8Array(randomBytes(32)));
    // 'wx' fails if another process created the file meanwhile: still never an overwrite.
    writeFileSync(privPath, `${signerKey}\n`, { mode: 0o600, flag: 'wx' });
    writeFileSync(pubPath, `${verifierKey}\n`, { flag: 'w' });
    written.created.push(role);
  }
  return written;
}

/** Load a role's key from the key directory; a missing file stops the process with a message naming it. */
export function loadKey(keyDir: string, role: KeyRole): LoadedKey {
  const path = join(keyDir, `${role}.key`);
  if (!existsSync(path)) throw new ChioError('CONFIG_INVALID', `the ${role} key ${path} is missing: run \`chio keygen\` (or set CHIO_KEY_DIR)`);
  return loadKeyFile(path, `the ${role} key`);
}

/**
 * Load a signer key file (e.g. a mounted Secret); one open to group or others is refused. A
 * path the user named (`--issuer-key`, `--export-key`) that is not there is said as such:
 * `chio keygen` would not write it, nor would CHIO_KEY_DIR move it.
 */
export function loadKeyFile(path: string, what = 'the key'): LoadedKey {
  if (!existsSync(path)) throw new ChioError('CONFIG_INVALID', `${what} ${path}: no such file; name a signer key file (PRIVATE+KEY+…; \`CHIO_KEY_DIR=<dir> chio keygen\` writes new keys into <dir>)`);
  const text = readSignerKeyFile(path, what);
  let parsed;
  try {
    parsed = parseSignerKey(text);
  } catch (err) {
    throw new ChioError('CONFIG_INVALID', `${what} ${path} is not a C2SP Ed25519 signer key${wrongKindHint(text, 'signer')}`, { cause: err });
  }
  return { name: parsed.name, signerKey: text, verifierKey: parsed.verifierKey, signer: createNodeSigner(parsed.seed) };
}

/**
 * The text of a signer key file, refused when open to others; but a public key (a `.pub`,
 * which `chio keygen` writes 0644) is said to be one, not to be chmod'ed: its mode is no
 * one's concern, and once private it would still be the wrong file.
 */
function readSignerKeyFile(path: string, what: string): string {
  try {
    return readPrivateFile(path, what).toString('utf8').trim();
  } catch (err) {
    const hint = wrongKindHint(publicTextOf(path), 'signer');
    if (hint !== '') throw new ChioError('CONFIG_INVALID', `${what} ${path} is not a C2SP Ed25519 signer key${hint}`, { cause: err });
    throw err;
  }
}

/** What a file refused as a private one holds, read as a public one is: bounded, a plain file; '' if it cannot be. */
function publicTextOf(path: string): string {
  try {
    return readRegularFile(path, MAX_VERIFIER_KEY_FILE_BYTES).toString('utf8').trim();
  } catch {
    return '';
  }
}

/** Read a verifier key file (public). */
export function loadVerifierKey(path: string): string {
  let text: string;
  try {
    // Bounded and a regular file: a key path may be given on the command line (a FIFO, /dev/zero).
    text = readRegularFile(path, MAX_VERIFIER_KEY_FILE_BYTES).toString('utf8').trim();
  } catch (err) {
    if (!(err instanceof UnreadableFile)) throw err instanceof ChioError ? new ChioError(err.code, `verifier key file ${err.message}`) : err;
    // Not there is the usual case: a command run from another directory than `chio up`'s.
    const where = err.reason === 'no such file' ? ": set CHIO_KEY_DIR to the key directory (`chio up` makes .chio/keys where it runs), or give the key with the command's option (see --help)" : '';
    throw new ChioError('CONFIG_INVALID', `verifier key file ${path} cannot be read (${err.reason})${where}`, { cause: err });
  }
  try {
    parseVerifierKey(text);
  } catch (err) {
    // The parser's bare "malformed key" named neither the file nor what was wrong with it.
    throw new ChioError('KEY_INVALID', `verifier key file ${path}: not a C2SP verifier key${wrongKindHint(text, 'verifier')}`, { cause: err });
  }
  return text;
}

/**
 * Why a key text did not parse, when it is the other kind of key: a signer key where a
 * verifier key is wanted (the .key for the .pub), or the reverse. Says which, never the key.
 */
export function wrongKindHint(text: string, wanted: 'signer' | 'verifier'): string {
  if (wanted === 'verifier' && text.startsWith('PRIVATE+KEY+')) return ': it holds a signer (private) key; give its verifier key (the .pub), and keep the .key secret';
  if (wanted === 'signer') {
    try {
      parseVerifierKey(text);
      return ': it holds a verifier (public) key; name the signer key (the .key)';
    } catch {
      // Not a verifier key either: nothing more to say.
    }
  }
  return '';
}
