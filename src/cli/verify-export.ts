/**
 * `chio verify-export DIR` (SPEC §9): reads a bundle's files and hands them to the portable
 * verifier (src/verify/export-steps.ts, the order POST /v1/verify runs too); no network. receipts.jsonl is streamed
 * in chunks, every other file is read whole under a bound.
 *
 * A bundle comes from elsewhere and is read as hostile. Its tree is listed first, entry by
 * entry and at most MAX_BUNDLE_FILES files: only plain files, and no folder but policies/.
 * Each file is then opened without following a link and without waiting on a FIFO, checked to
 * be a plain file on the descriptor it is read from, and read no further than its bound. So a
 * link to /dev/zero, to a file outside the bundle or to a FIFO is refused, not read.
 */
import { createReadStream, lstatSync, opendirSync } from 'node:fs';
import { join } from 'node:path';
import { ChioError, isChioError } from '../errors/index.js';
import { createNodeSignatureCheck } from '../crypto/ed25519.js';
import { forTerminal } from './terminal.js';
import { openPlainFile, readPlainFile, type PlainFileOptions } from './plain-file.js';
import { unreadableReason } from '../setting-file.js';
import { MAX_NOTE_SIZE } from '../tlog/index.js';
import type { VerifiedExport } from '../verify/export-bundle.js';
import { CORRECTION_REACH } from '../verify/bundle-corrections.js';
import type { KernelKeys } from '../receipt/kernel-trust.js';
import { CHECKPOINT_FILE, MAX_BUNDLE_FILES, POLICIES_DIR, RECEIPTS_FILE } from '../verify/export-format.js';
import { verifyExportBundle, type BundleReader } from '../verify/export-steps.js';

export interface VerifyExportOptions {
  exportKey: string;
  logKey?: string;
  /** The kernel keys the auditor holds: receipts are checked with these, not the manifest's. */
  kernelKeys?: KernelKeys;
  /** The previous bundle the auditor holds: this one must extend its checkpoint. */
  previousDir?: string;
}

/** Verify the bundle in `dir`; throws ChioError naming the first failure. */
export async function verifyExportDir(dir: string, opts: VerifyExportOptions): Promise<VerifiedExport> {
  const bundle = listBundle(dir);
  const reader: BundleReader = {
    paths: [...bundle.files.keys()],
    read: (path, max) => readBundleFile(bundle, path, max),
    receipts: () => createReadStream('', { fd: openBundleFile(bundle, RECEIPTS_FILE).fd, highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>,
  };
  const trust = {
    exportKey: opts.exportKey, ...(opts.logKey !== undefined ? { logKey: opts.logKey } : {}), ...(opts.kernelKeys !== undefined ? { kernelKeys: opts.kernelKeys } : {}),
    checkSignature: createNodeSignatureCheck(),
  };
  const previousDir = opts.previousDir;
  return verifyExportBundle(reader, trust, previousDir !== undefined ? { previousCheckpoint: () => readPreviousCheckpoint(previousDir) } : {});
}

/**
 * The checkpoint file of the previous bundle, read as warily as the bundle's own. What is
 * refused of it is said to be of the previous bundle: "checkpoint: missing from the bundle"
 * alone reads as a fault of the sound bundle being checked.
 */
function readPreviousCheckpoint(previousDir: string): Buffer {
  try {
    return readBundleFile(listBundle(previousDir), CHECKPOINT_FILE, MAX_NOTE_SIZE);
  } catch (err) {
    if (!isChioError(err)) throw err;
    throw new ChioError(err.code, `the previous bundle ${previousDir}: ${err.message}`, { cause: err });
  }
}

/**
 * What `chio verify-export` prints when everything holds. `given`: which keys the auditor gave
 * (--log-key, --kernel-key); a key not given is the bundle's own, and whoever holds the export
 * key could have made it up: the log (its checkpoint and every receipt) or the receipts.
 */
export function formatVerifiedExport(dir: string, r: VerifiedExport, previousDir?: string, given: { logKey?: boolean; kernelKeys?: boolean } = {}): string {
  const m = r.manifest;
  // The roots, so that an auditor can hold each day's tree against the next day's claim.
  const previous = m.previous ? `; extends ${previousDir !== undefined ? `${previousDir}'s` : "the previous bundle's"} tree of size ${m.previous.size} root ${m.previous.root}` : '';
  // Only an unfiltered bundle is checked to hold every leaf: say which this one is.
  const filter = Object.entries(m.filter);
  // A filtered bundle's lines each pass the filter, but nothing shows none was left out.
  const held = filter.length === 0 ? 'every leaf of the tree' : `receipts of filter ${filter.map(([k, v]) => `${k}=${v}`).join(' ')}, not checked to be all of them`;
  const logKey = given.logKey ? '' : `; log key ${m.keys.log.split('+')[0]} is the one the bundle names, not one given with --log-key: the export key alone vouches for the receipts`;
  const kernelKeys = given.kernelKeys ? '' : '; kernel keys are the ones the bundle names, not given with --kernel-key';
  return forTerminal(`${dir}: OK — ${r.receipts} receipts (${correctionsOf(r)}), ${r.policies} policy sets, ` +
    `checkpoint ${m.checkpoint.origin} size ${m.checkpoint.size} root ${m.checkpoint.root}${previous}${logKey}${kernelKeys}; holds ${held}; signed by ${m.keys.export.split('+')[0]}`);
}

/** How many corrections, and how far each was checked (bundle-corrections.ts). */
function correctionsOf(r: VerifiedExport): string {
  if (r.corrections === 0) return '0 corrections';
  if (r.uncheckedCorrections === 0) return `${r.corrections} corrections, each checked against the receipt it corrects`;
  return `${r.corrections} corrections, ${r.uncheckedCorrections} of them checked on their own only: the receipt each corrects is not in the bundle, or more than ${CORRECTION_REACH} seqs before it on its chain`;
}

/** A bundle's directory and its files as listed: each one's identity, to know it again when opened. */
interface ListedBundle {
  dir: string;
  files: Map<string, { dev: number; ino: number }>;
}

/**
 * Every file of the bundle in `dir`, by bundle path ("policies/<hex>.json"); throws at the
 * first entry that is not a plain file, a folder other than policies/, or a file past
 * MAX_BUNDLE_FILES (and the manifest and its signature).
 */
function listBundle(dir: string): ListedBundle {
  const files = new Map<string, { dev: number; ino: number }>();
  const list = (folder: string) => {
    let entries;
    try {
      entries = opendirSync(join(dir, folder));
    } catch (cause) {
      if (folder === '') throw new ChioError('NOT_FOUND', `${dir} is not a readable directory`, { cause });
      throw unreadable(folder, cause);
    }
    try {
      for (let e = entries.readSync(); e !== null; e = entries.readSync()) {
        const path = folder === '' ? e.name : `${folder}/${e.name}`;
        if (e.isFile()) {
          if (files.size >= MAX_BUNDLE_FILES + 2) throw new ChioError('BUNDLE_INVALID', `the bundle holds more than ${MAX_BUNDLE_FILES} files`);
          files.set(path, identityOf(dir, path));
        } else if (e.isDirectory() && folder === '' && e.name === POLICIES_DIR) list(path);
        else if (e.isDirectory()) throw new ChioError('BUNDLE_INVALID', `${path}: a folder that is no part of a bundle (only ${POLICIES_DIR}/ is)`);
        else throw new ChioError('BUNDLE_INVALID', `${path}: not a plain file (a bundle holds only files and the ${POLICIES_DIR}/ folder)`);
      }
    } finally {
      entries.closeSync();
    }
  };
  list('');
  return { dir, files };
}

function identityOf(dir: string, path: string): { dev: number; ino: number } {
  try {
    const { dev, ino } = lstatSync(join(dir, path));
    return { dev, ino };
  } catch (cause) {
    throw unreadable(path, cause);
  }
}

/** This machine could not read it (permissions, I/O): not a verdict on the bundle, so exit 1, not 3. */
function unreadable(path: string, cause: unknown): ChioError {
  return new ChioError('UNAVAILABLE', `${path}: cannot be read (${unreadableReason(cause)})`, { cause });
}

/**
 * A listed bundle file opened for reading: never through a link, never waiting on a FIFO, a
 * plain file, and the very file listed (a folder swapped for a link since would lead elsewhere).
 */
function openBundleFile(bundle: ListedBundle, path: string): { fd: number; size: number } {
  return openPlainFile(join(bundle.dir, path), bundleFileOptions(bundle, path));
}

/** A bundle file's bytes, when it holds at most `max`. */
function readBundleFile(bundle: ListedBundle, path: string, max: number): Buffer {
  return readPlainFile(join(bundle.dir, path), max, bundleFileOptions(bundle, path));
}

function bundleFileOptions(bundle: ListedBundle, path: string): PlainFileOptions {
  const listed = bundle.files.get(path);
  if (!listed) throw new ChioError('BUNDLE_INVALID', `${path}: missing from the bundle`);
  return {
    followLinks: false,
    identity: listed,
    // The listing saw a plain file there: gone, a link or another file now is a change.
    refuse: (why, detail, cause) => why === 'unreadable' ? unreadable(path, cause)
      : new ChioError('BUNDLE_INVALID', `${path}: ${why === 'too-large' ? detail : 'changed while it was read'}`, { cause }),
  };
}
