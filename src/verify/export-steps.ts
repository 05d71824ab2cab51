/**
 * The order in which a compliance bundle is checked (SPEC §9), written once for every reader
 * of one: `chio verify-export` reads a directory (src/cli/verify-export.ts), POST /v1/verify a
 * tar held in memory (src/verifier/bundle-tar.ts). Each hands over a BundleReader and gets the
 * same steps of ExportBundleVerifier, in the same order, with the same bound on every file.
 * Pure: no node: import, so chio/verify's callers can use it too.
 *
 *   manifest     manifest.sig by the export key over manifest.json, its form, the keys it names
 *   files        the bundle holds exactly the files the manifest names
 *   checkpoint   its digest, the log's signature, the manifest's size and root
 *   receipts     every line of receipts.jsonl, the line count and the digest; every policy hash a
 *                receipt names has its file, and no other policy file (so none is read unasked)
 *   policies     every policy file's digest and the hash its name says
 *   consistency  consistency.json, when the manifest names a previous tree
 *   previous     the previous bundle's checkpoint the auditor holds (`--previous`), when given
 *   finish       every deciding step ran
 *
 * The first failure is thrown (a ChioError whose message starts with the file, and for a line
 * of receipts.jsonl its number); nothing after it runs.
 */
import { MAX_NOTE_SIZE } from '../tlog/index.js';
import { ExportBundleVerifier, MAX_CONSISTENCY_BYTES, type ExportTrust, type VerifiedExport } from './export-bundle.js';
import {
  CHECKPOINT_FILE, CONSISTENCY_FILE, MANIFEST_FILE, MANIFEST_SIG_FILE, MAX_ARCHIVED_POLICY_BYTES, MAX_MANIFEST_BYTES, MAX_MANIFEST_SIG_BYTES, RECEIPTS_FILE,
  policyHashOfFile,
} from './export-format.js';

/** A bundle's files, wherever they are kept. */
export interface BundleReader {
  /** Every file of the bundle by bundle path ("policies/<hex>.json"), manifest.json and manifest.sig among them. */
  readonly paths: readonly string[];
  /** The bytes of `path` when it holds at most `max`; else throws a ChioError naming it. */
  read(path: string, max: number): Uint8Array | Promise<Uint8Array>;
  /** receipts.jsonl in chunks of any size (read once). */
  receipts(): AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
}

export type BundleStep = 'manifest' | 'files' | 'checkpoint' | 'receipts' | 'policies' | 'consistency' | 'previous' | 'finish';

/** Runs one step: the default runs it; a report wraps it to say which step held or failed. */
export type BundleStepRunner = <T>(step: BundleStep, run: () => Promise<T>) => Promise<T>;

export interface BundleStepOptions {
  /** The checkpoint file of the previous bundle the auditor holds: this one must extend it. */
  previousCheckpoint?: () => Uint8Array | Promise<Uint8Array>;
  step?: BundleStepRunner;
}

const runStep: BundleStepRunner = (_step, run) => run();

/** Check the bundle `reader` holds, every step in order; throws a ChioError at the first failure. */
export async function verifyExportBundle(reader: BundleReader, trust: ExportTrust, opts: BundleStepOptions = {}): Promise<VerifiedExport> {
  const step = opts.step ?? runStep;
  const read = (path: string) => reader.read(path, boundOfBundleFile(path)!);
  const v = await step('manifest', async () => {
    const manifest = await read(MANIFEST_FILE);
    // As Buffer#toString('utf8') reads it: a byte order mark stays (and is not a signature line).
    const sig = new TextDecoder('utf-8', { ignoreBOM: true }).decode(await read(MANIFEST_SIG_FILE));
    return new ExportBundleVerifier(manifest, sig, trust);
  });
  const files = reader.paths.filter((f) => f !== MANIFEST_FILE && f !== MANIFEST_SIG_FILE);
  await step('files', async () => v.checkFileList(files));
  await step('checkpoint', async () => v.checkCheckpoint(await read(CHECKPOINT_FILE)));
  await step('receipts', async () => {
    for await (const chunk of reader.receipts()) v.pushReceipts(chunk);
    v.endReceipts();
  });
  await step('policies', async () => {
    for (const f of files.filter((p) => policyHashOfFile(p) !== undefined)) v.checkPolicy(f, await read(f));
  });
  // The file list held, so consistency.json is here exactly when the manifest names a previous tree.
  if (files.includes(CONSISTENCY_FILE)) await step('consistency', async () => v.checkConsistency(await read(CONSISTENCY_FILE)));
  const previous = opts.previousCheckpoint;
  if (previous) await step('previous', async () => v.checkPrevious(await previous()));
  return step('finish', async () => v.finish());
}

const FILE_BOUNDS: ReadonlyMap<string, number> = new Map([
  [MANIFEST_FILE, MAX_MANIFEST_BYTES],
  [MANIFEST_SIG_FILE, MAX_MANIFEST_SIG_BYTES],
  [CHECKPOINT_FILE, MAX_NOTE_SIZE],
  [CONSISTENCY_FILE, MAX_CONSISTENCY_BYTES],
  // Read in chunks, so not bounded here; a reader that holds it whole bounds it itself.
  [RECEIPTS_FILE, Number.POSITIVE_INFINITY],
]);

/** The most bytes the file at bundle path `path` may hold; undefined when it is no file of a bundle. */
export function boundOfBundleFile(path: string): number | undefined {
  return FILE_BOUNDS.get(path) ?? (policyHashOfFile(path) !== undefined ? MAX_ARCHIVED_POLICY_BYTES : undefined);
}
