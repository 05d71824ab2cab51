/**
 * `chio export` (SPEC §9): a compliance bundle (src/verify/export-format.ts) of the receipts in
 * the log's latest checkpoint that pass a filter, each with its inclusion proof against that
 * checkpoint, the policy sets they name, and optionally the consistency proof from a previous
 * bundle's checkpoint.
 *
 * Streaming: leaves are read a tile-sized page at a time (log-pages.ts) and written as they are
 * proven, with back-pressure from the file; what is held is a page, the tile cache
 * (EXPORT_TILE_CACHE_BYTES) and the set of policy hashes. The bundle is written in a staging
 * directory and put at --out whole (bundle-staging.ts); the manifest is written last there too.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readdirSync, statSync, writeFileSync, type Dirent } from 'node:fs';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { dirname, join } from 'node:path';
import type { JetStreamManager } from '@nats-io/jetstream';
import { ChioError, isChioError } from '../errors/index.js';
import { toBase64 } from '../encoding.js';
import { sha256Hex } from '../crypto/sha256.js';
import type { ChioResources } from '../store/resources.js';
import { readLatestVerifiedCheckpoint } from '../store/checkpoints.js';
import { readIndexEntry } from '../store/receipt-index.js';
import { readArchivedPolicySet } from '../store/policy-archive.js';
import { TileStore } from '../store/tile-store.js';
import { MAX_NOTE_SIZE, openCheckpoint, proveRecord, proveTree, toNoteSigner, type Checkpoint } from '../tlog/index.js';
import { readRegularFile, unreadableReason, UnreadableFile } from '../setting-file.js';
import { publishedKernelKeys, type KernelKeys } from '../receipt/kernel-trust.js';
import type { Receipt } from '../receipt/receipt.js';
import { canonicalize } from '../receipt/jcs.js';
import type { LoadedKey } from '../keys.js';
import {
  CHECKPOINT_FILE, CONSISTENCY_FILE, EXPORT_SCHEMA, MANIFEST_FILE, MANIFEST_SIG_FILE, POLICIES_DIR, RECEIPTS_FILE,
  formatExportLine, formatManifest, isCompleteExport, matchesExportFilter, policyFileOf, signManifest,
  type ExportConsistency, type ExportFilter, type ExportManifest,
} from '../verify/export-format.js';
import { pageHashReader, readLeaf, readLeafPages } from './log-pages.js';
import { leftoverStagingDirs, stageBundle, type BundleStaging } from './bundle-staging.js';

/** Tiles and entry bundles an export keeps in memory: enough for every proof of a page. */
export const EXPORT_TILE_CACHE_BYTES = 8 * 1024 * 1024;

export interface ExportOptions {
  jsm: JetStreamManager;
  resources: ChioResources;
  /** The bundle's directory: created, and MUST be empty when it exists. */
  outDir: string;
  /** Stops the export (a Ctrl-C): it throws the signal's reason and leaves --out as it was. */
  signal?: AbortSignal;
  filter: ExportFilter;
  /** A previous bundle's directory: its checkpoint is the old end of consistency.json. */
  previousDir?: string;
  exportKey: LoadedKey;
  logKey: string;
  /** Every kernel key the receipts may be signed by, with its validity window if it has one. */
  kernelKeys: KernelKeys;
  /** Called after each page with leaves read and the tree size. */
  progress?: (read: number, total: number) => void;
  now?: () => Date;
}

export interface ExportResult {
  manifest: ExportManifest;
  bytes: number;
}

/**
 * Write a bundle; throws ChioError (NOT_FOUND: no checkpoint or an unarchived policy set).
 * Every input is checked before anything is created, and a failed or stopped export leaves
 * --out as it was: a bundle cut short would be mistaken for one, and refused as --out next time.
 */
export async function exportBundle(opts: ExportOptions): Promise<ExportResult> {
  refuseUnusableOut(opts.outDir);
  const previousNote = opts.previousDir ? readPreviousNote(opts.previousDir) : undefined;
  const { checkpoint: published } = await readLatestVerifiedCheckpoint(opts.jsm, opts.logKey);
  if (!published) throw new ChioError('NOT_FOUND', 'no checkpoint of this log key has been published yet: nothing to export');
  const checkpoint = openCheckpoint(published.note, opts.logKey);
  const previous = previousNote !== undefined ? previousCheckpoint(previousNote, opts.logKey, checkpoint) : undefined;
  opts.signal?.throwIfAborted();
  const staging = stageBundle(opts.outDir);
  try {
    const result = await writeBundle({ ...opts, outDir: staging.dir }, published.note, checkpoint, previous);
    // Synchronous from here: a signal that came before this line stops the export, one after it finds the bundle in place.
    opts.signal?.throwIfAborted();
    staging.commit();
    return result;
  } catch (err) {
    throw discardAfter(err, staging, opts);
  }
}

/** Take the staging directory away after `err`; the error to throw says that nothing was written, or what was left. */
function discardAfter(err: unknown, staging: BundleStaging, opts: ExportOptions): unknown {
  const message = err instanceof Error ? err.message : String(err);
  try {
    staging.discard();
  } catch (cause) {
    return new ChioError('INTERNAL', `${message}; and the unfinished bundle ${staging.dir} could not be removed (${String(cause)}): remove it`, { cause: err });
  }
  if (opts.signal?.aborted) return opts.signal.reason;
  return new ChioError(isChioError(err) ? err.code : 'INTERNAL', `${message}; nothing was written to ${opts.outDir}`, { cause: err });
}

async function writeBundle(opts: ExportOptions, note: string, checkpoint: Checkpoint, previous: { note: string; checkpoint: Checkpoint } | undefined): Promise<ExportResult> {
  const tiles = new TileStore(opts.resources.tiles, opts.resources.entries, EXPORT_TILE_CACHE_BYTES);
  const files: Record<string, string> = {};
  const write = (path: string, bytes: Uint8Array | string) => {
    writeFileSync(join(opts.outDir, path), bytes);
    files[path] = `sha256:${sha256Hex(typeof bytes === 'string' ? Buffer.from(bytes) : bytes)}`;
  };

  write(CHECKPOINT_FILE, note);
  const { count, policyHashes, digest } = await writeReceipts(opts, tiles, checkpoint);
  files[RECEIPTS_FILE] = digest;
  mkdirSync(join(opts.outDir, POLICIES_DIR), { recursive: true });
  for (const hash of [...policyHashes].sort()) write(policyFileOf(hash), await readPolicy(opts.resources, hash));
  if (previous) {
    const proof = await proveTree(checkpoint.size, previous.checkpoint.size, tiles.hashReader(checkpoint.size));
    const consistency: ExportConsistency = { old: previous.checkpoint.size, new: checkpoint.size, old_checkpoint: previous.note, proof: proof.map(toBase64) };
    write(CONSISTENCY_FILE, canonicalize(consistency));
  }

  const manifest: ExportManifest = {
    schema: EXPORT_SCHEMA,
    created: (opts.now?.() ?? new Date()).toISOString(),
    filter: opts.filter,
    count,
    checkpoint: { origin: checkpoint.origin, size: checkpoint.size, root: toBase64(checkpoint.root) },
    ...(previous ? { previous: { size: previous.checkpoint.size, root: toBase64(previous.checkpoint.root) } } : {}),
    keys: { log: opts.logKey, ...publishedKernelKeys(opts.kernelKeys), export: opts.exportKey.verifierKey },
    files,
  };
  const manifestBytes = formatManifest(manifest);
  writeFileSync(join(opts.outDir, MANIFEST_SIG_FILE), signManifest(manifestBytes, toNoteSigner(opts.exportKey.name, opts.exportKey.signer)));
  writeFileSync(join(opts.outDir, MANIFEST_FILE), manifestBytes);
  return { manifest, bytes: bundleBytes(opts.outDir) };
}

/**
 * receipts.jsonl: every leaf that passes the filter, and every correction of one that did,
 * with its inclusion proof against `checkpoint`.
 */
async function writeReceipts(opts: ExportOptions, tiles: TileStore, checkpoint: Checkpoint) {
  const out = createWriteStream(join(opts.outDir, RECEIPTS_FILE));
  // Not a Promise.race with a promise that settles only on error: every race would leave a
  // reaction on it, one per drain, kept to the end (about 145 MiB over a million receipts).
  let failure: Error | undefined;
  out.on('error', (err) => (failure ??= err));
  const hash = createHash('sha256');
  const policyHashes = new Set<string>();
  const complete = isCompleteExport(opts.filter);
  const hashes = pageHashReader(tiles.hashReader(checkpoint.size));
  let count = 0;
  try {
    for await (const page of readLeafPages(tiles, checkpoint.size)) {
      opts.signal?.throwIfAborted();
      for (const leaf of page) {
        const receipt = JSON.parse(Buffer.from(leaf.bytes).toString('utf8')) as Receipt;
        if (!complete && !matchesExportFilter(receipt, opts.filter) && !(await correctsExported(opts, tiles, checkpoint.size, receipt))) continue;
        const proof = await proveRecord(checkpoint.size, leaf.index, hashes);
        const line = `${formatExportLine({ index: leaf.index, receipt, inclusion_proof: proof.map(toBase64) })}\n`;
        hash.update(line);
        count++;
        policyHashes.add(receipt.policy_hash);
        // once() rejects when 'error' comes while it waits (an earlier one is in `failure`), or at an abort.
        if (!out.write(line)) {
          if (failure) throw failure;
          await once(out, 'drain', opts.signal ? { signal: opts.signal } : {});
        }
      }
      hashes.clear();
      opts.progress?.(page.at(-1)!.index + 1, checkpoint.size);
    }
    out.end();
    // finished() also settles for a stream that already finished or failed.
    await finished(out);
  } finally {
    // Closed before its directory is taken away: an open still pending would make the file again.
    if (!out.closed) {
      out.destroy();
      await once(out, 'close');
    }
  }
  return { count, policyHashes, digest: `sha256:${hash.digest('hex')}` };
}

/**
 * Whether `receipt` is a correction of a receipt the filter exports (SPEC §5: a corrected
 * receipt goes with its correction). The corrected receipt is an earlier leaf; corrections are
 * rare, so it is looked up by id rather than every exported id kept in memory.
 */
async function correctsExported(opts: ExportOptions, tiles: TileStore, size: number, receipt: Receipt): Promise<boolean> {
  if (receipt.corrects === undefined) return false;
  const entry = await readIndexEntry(opts.resources.index, receipt.corrects);
  if (!entry || entry.index >= size) return false;
  const corrected = JSON.parse(Buffer.from(await readLeaf(tiles, size, entry.index)).toString('utf8')) as Receipt;
  return corrected.id === receipt.corrects && matchesExportFilter(corrected, opts.filter);
}

async function readPolicy(resources: ChioResources, hash: string): Promise<Uint8Array> {
  const bytes = await readArchivedPolicySet(resources.policies, hash);
  if (!bytes) throw new ChioError('NOT_FOUND', `policy set ${hash}, named by exported receipts, is not archived`);
  if (`sha256:${sha256Hex(bytes)}` !== hash) throw new ChioError('INTERNAL', `the archived policy set ${hash} does not hash to its name; the archive is damaged`);
  return bytes;
}

/** The previous bundle's checkpoint note, as its file holds it. */
function readPreviousNote(dir: string): string {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch (cause) {
    throw new ChioError('CONFIG_INVALID', `--previous ${dir} ${unreadableReason(cause) === 'no such file' ? 'does not exist' : `cannot be read (${unreadableReason(cause)})`}`, { cause });
  }
  if (!isDirectory) throw new ChioError('CONFIG_INVALID', `--previous ${dir} is not a directory: give the directory of a previous bundle`);
  try {
    // Bounded, and a regular file: the previous bundle may have come from elsewhere.
    return readRegularFile(join(dir, CHECKPOINT_FILE), MAX_NOTE_SIZE).toString('utf8');
  } catch (cause) {
    if (cause instanceof ChioError && !(cause instanceof UnreadableFile)) throw new ChioError(cause.code, `--previous ${dir}: ${cause.message}`, { cause });
    throw new ChioError('CONFIG_INVALID', `--previous ${dir} has no ${CHECKPOINT_FILE}`, { cause });
  }
}

/** The previous bundle's checkpoint, signed by the same log and no larger than this one. */
function previousCheckpoint(note: string, logKey: string, current: Checkpoint): { note: string; checkpoint: Checkpoint } {
  const checkpoint = openCheckpoint(note, logKey);
  if (checkpoint.size > current.size) throw new ChioError('TREE_INCONSISTENT', `the previous bundle's tree (${checkpoint.size}) is larger than the log's latest (${current.size})`);
  return { note, checkpoint };
}

/** --out must be an empty directory, or a path where one can be made; said in words if not. */
function refuseUnusableOut(dir: string): void {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(dir).isDirectory();
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR') throw new ChioError('CONFIG_INVALID', `--out ${dir} cannot be made: ${fileAbove(dir)} is a file, not a directory`, { cause });
    throw new ChioError('CONFIG_INVALID', `--out ${dir} cannot be read (${unreadableReason(cause)})`, { cause });
  }
  if (!isDirectory) throw new ChioError('CONFIG_INVALID', `--out ${dir} is a file, not a directory`);
  const entries = readdirSync(dir, { withFileTypes: true });
  if (entries.length > 0) throw new ChioError('CONFIG_INVALID', `--out ${dir} is not empty: ${whyNotEmpty(dir, entries)}`);
}

/**
 * What is in the way: a staging directory a killed export left is named, as the user's to
 * remove (never removed here: --out is the user's directory, and what is in it theirs).
 */
function whyNotEmpty(dir: string, entries: readonly Dirent[]): string {
  const leftovers = leftoverStagingDirs(entries).map((name) => join(dir, name));
  if (leftovers.length === 0) return 'a bundle is written into an empty directory';
  const one = leftovers.length === 1;
  const killed = one
    ? `${leftovers[0]} is the staging directory of an export that was killed before it finished`
    : `${leftovers.join(', ')} are the staging directories of exports that were killed before they finished`;
  if (leftovers.length === entries.length) return `${killed}; remove ${one ? 'it' : 'them'}`;
  return `a bundle is written into an empty directory (${killed}; ${one ? 'it' : 'they'} can be removed)`;
}

/** The nearest of `path`'s parents that is there and is no directory. */
function fileAbove(path: string): string {
  for (let p = dirname(path); p !== dirname(p); p = dirname(p)) {
    if (existsSync(p) && !statSync(p).isDirectory()) return p;
  }
  return dirname(path);
}

function bundleBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size;
  }
  return total;
}
