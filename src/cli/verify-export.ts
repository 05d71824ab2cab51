/**
 * `chio verify-export DIR` (SPEC §9): reads a bundle's files and hands them to the portable
 * verifier (src/verify/export-bundle.ts) in its order; no network. receipts.jsonl is streamed
 * in chunks, every other file is read whole under a bound, and anything in the directory that
 * is not a plain file or folder is refused.
 */
import { createReadStream, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { ChioError } from '../errors/index.js';
import { createNodeSignatureCheck } from '../crypto/ed25519.js';
import { MAX_ARCHIVED_POLICY_BYTES } from '../store/policy-archive.js';
import { MAX_NOTE_SIZE } from '../tlog/index.js';
import { ExportBundleVerifier, MAX_CONSISTENCY_BYTES, type VerifiedExport } from '../verify/export-bundle.js';
import {
  CHECKPOINT_FILE, CONSISTENCY_FILE, MANIFEST_FILE, MANIFEST_SIG_FILE, MAX_MANIFEST_BYTES, MAX_MANIFEST_SIG_BYTES, RECEIPTS_FILE,
  policyHashOfFile,
} from '../verify/export-format.js';


export interface VerifyExportOptions {
  exportKey: string;
  logKey?: string;
}

/** Verify the bundle in `dir`; throws ChioError naming the first failure. */
export async function verifyExportDir(dir: string, opts: VerifyExportOptions): Promise<VerifiedExport> {
  const v = new ExportBundleVerifier(readBounded(dir, MANIFEST_FILE, MAX_MANIFEST_BYTES), readBounded(dir, MANIFEST_SIG_FILE, MAX_MANIFEST_SIG_BYTES).toString('utf8'), {
    exportKey: opts.exportKey,
    ...(opts.logKey !== undefined ? { logKey: opts.logKey } : {}),
    checkSignature: createNodeSignatureCheck(),
  });
  const files = listBundle(dir).filter((f) => f !== MANIFEST_FILE && f !== MANIFEST_SIG_FILE);
  v.checkFileList(files);
  v.checkCheckpoint(readBounded(dir, CHECKPOINT_FILE, MAX_NOTE_SIZE));
  for await (const chunk of createReadStream(join(dir, RECEIPTS_FILE), { highWaterMark: 256 * 1024 })) v.pushReceipts(chunk as Buffer);
  v.endReceipts();
  for (const f of files.filter((p) => policyHashOfFile(p) !== undefined)) v.checkPolicy(f, readBounded(dir, f, MAX_ARCHIVED_POLICY_BYTES));
  if (files.includes(CONSISTENCY_FILE)) v.checkConsistency(readBounded(dir, CONSISTENCY_FILE, MAX_CONSISTENCY_BYTES));
  return v.finish();
}

/** What `chio verify-export` prints when everything holds. */
export function formatVerifiedExport(dir: string, r: VerifiedExport): string {
  const m = r.manifest;
  const previous = m.previous ? `; extends the previous bundle's tree of size ${m.previous.size}` : '';
  return `${dir}: OK — ${r.receipts} receipts (${r.corrections} corrections), ${r.policies} policy sets, ` +
    `checkpoint ${m.checkpoint.origin} size ${m.checkpoint.size}${previous}; signed by ${m.keys.export.split('+')[0]}`;
}

/** Every plain file under `dir`, as a bundle path ("policies/<hex>.json"). */
function listBundle(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { recursive: true, withFileTypes: true });
  } catch (cause) {
    throw new ChioError('NOT_FOUND', `${dir} is not a readable directory`, { cause });
  }
  const files: string[] = [];
  for (const e of entries) {
    const path = relative(dir, join(e.parentPath, e.name)).split(sep).join('/');
    if (e.isFile()) files.push(path);
    else if (!e.isDirectory()) throw new ChioError('BUNDLE_INVALID', `${path}: not a plain file (a bundle holds only files and folders)`);
  }
  return files;
}

function readBounded(dir: string, path: string, max: number): Buffer {
  const full = join(dir, path);
  let size: number;
  try {
    size = statSync(full).size;
  } catch (cause) {
    throw new ChioError('BUNDLE_INVALID', `${path}: missing from the bundle`, { cause });
  }
  if (size > max) throw new ChioError('BUNDLE_INVALID', `${path}: ${size} bytes, over ${max}`);
  return readFileSync(full);
}
