/**
 * The compliance bundle, `chio.export.v1` (SPEC §9): a directory an auditor checks offline.
 *
 *   manifest.json        JCS object (below) + "\n"; its SHA-256 digests name every other file
 *   manifest.sig         one C2SP signature line over manifest.json's bytes, by the export key:
 *                        "— <key name> <base64(4-byte key ID ‖ 64-byte Ed25519 signature)>\n"
 *   checkpoint           the log's signed checkpoint note, verbatim; every proof is against it
 *   receipts.jsonl       one JCS line per receipt, in leaf order (strictly increasing index):
 *                        {"inclusion_proof":["<base64>",…],"index":n,"receipt":{…}}
 *   policies/<hex>.json  the archived policy set whose hash is sha256:<hex>, for every policy
 *                        hash a receipt names (the bytes hash to the name)
 *   consistency.json     with a previous bundle: {"new":m,"old":n,"old_checkpoint":"<note>","proof":[…]}
 *
 * The manifest:
 *
 *   {"checkpoint":{"origin","root":"<base64>","size"},"count":<lines>,"created":"<RFC 3339>",
 *    "files":{"<path>":"sha256:<hex>",…},"filter":{"host"?,"since"?,"until"?,"verdict"?},
 *    "keys":{"export","kernels":[…],"kernel_windows"?:[…],"log"},"previous"?:{"root","size"},
 *    "schema":"chio.export.v1"}
 *
 * `kernel_windows`, present when a kernel key has a validity window (a rotation retired it):
 * one {"key","not_before"?,"not_after"?} per key, in the order of `kernels`, the form of the
 * verifier's GET /v1/keys. Every receipt's time must then fall in its key's window, as the ledger
 * required: a bundle does not ask its auditor to trust that the ledger checked it.
 *
 * With an empty filter the bundle is complete: its lines are leaves 0 … size-1, one each.
 * A corrected receipt comes with its correction when the correction is in the checkpoint's
 * tree, even if the correction itself is outside the filter.
 *
 * Pure: no I/O, no clock; the exporter writes these forms and the verifier reads them.
 */
import { ChioError } from '../errors/index.js';
import { fromBase64, toBase64, utf8 } from '../encoding.js';
import { KernelTrustSet, rfc3339Nanos, type KernelKeys, type TrustedKernelKey } from '../receipt/kernel-trust.js';
import { canonicalize, parseCanonical } from '../receipt/jcs.js';
import { RECEIPT_ID_PATTERN, type Receipt, type Verdict } from '../receipt/receipt.js';
import { isValidKeyName, type NoteSigner, type NoteVerifier } from '../tlog/index.js';

export const EXPORT_SCHEMA = 'chio.export.v1';
export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_SIG_FILE = 'manifest.sig';
export const CHECKPOINT_FILE = 'checkpoint';
export const RECEIPTS_FILE = 'receipts.jsonl';
export const CONSISTENCY_FILE = 'consistency.json';
export const POLICIES_DIR = 'policies';

/** Largest manifest read: one digest per policy set and file, far below this. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Largest manifest.sig read: one signature line. */
export const MAX_MANIFEST_SIG_BYTES = 1024;
/** Files a manifest may name (policy sets plus the four fixed files). */
export const MAX_BUNDLE_FILES = 10_000;
/**
 * Largest archived policy set, and so largest policies/<hex>.json: policy files are at most
 * 1 MiB each (MAX_POLICY_FILE_BYTES); a set of 64 MiB of normalised JSON is far past any real
 * one. The policy archive (src/store/policy-archive.ts) reads back no more either.
 */
export const MAX_ARCHIVED_POLICY_BYTES = 64 * 1024 * 1024;
/** Longest receipts.jsonl line: a receipt (16 KiB) plus its proof (63 hashes) and the index. */
export const MAX_EXPORT_LINE_BYTES = 32 * 1024;

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const POLICY_FILE = /^policies\/([0-9a-f]{64})\.json$/;
const SIG_PREFIX = '\u2014 ';

export interface ExportFilter {
  /** Receipts with `time` at or after this instant (RFC 3339). */
  since?: string;
  /** Receipts with `time` before this instant (RFC 3339). */
  until?: string;
  verdict?: Verdict;
  /** Receipts whose normalised request host is this one. */
  host?: string;
}

export interface ExportManifest {
  schema: typeof EXPORT_SCHEMA;
  created: string;
  filter: ExportFilter;
  count: number;
  checkpoint: { origin: string; size: number; root: string };
  previous?: { size: number; root: string };
  keys: { log: string; kernels: string[]; kernel_windows?: TrustedKernelKey[]; export: string };
  /** Path in the bundle → "sha256:<hex>" of its bytes. */
  files: Record<string, string>;
}

/** One line of receipts.jsonl. */
export interface ExportLine {
  index: number;
  receipt: Receipt;
  inclusion_proof: string[];
}

/** What consistency.json holds: the proof from the previous bundle's checkpoint to this one's. */
export interface ExportConsistency {
  old: number;
  new: number;
  old_checkpoint: string;
  proof: string[];
}

/** The path of the policy set with hash `policyHash` ("sha256:<hex>") in a bundle. */
export function policyFileOf(policyHash: string): string {
  return `${POLICY_DIR_PREFIX}${policyHash.slice('sha256:'.length)}.json`;
}
const POLICY_DIR_PREFIX = `${POLICIES_DIR}/`;

/** The policy hash a bundle path stands for, or undefined when it is not a policy file. */
export function policyHashOfFile(path: string): string | undefined {
  const m = POLICY_FILE.exec(path);
  return m ? `sha256:${m[1]}` : undefined;
}

/** The bytes of a receipts.jsonl line, without its line feed. */
export function formatExportLine(line: ExportLine): string {
  return canonicalize(line);
}

/** The bytes of manifest.json. */
export function formatManifest(manifest: ExportManifest): Uint8Array {
  return utf8(`${canonicalize(manifest)}\n`);
}

/** manifest.sig for the manifest bytes `manifestBytes`. */
export function signManifest(manifestBytes: Uint8Array, signer: NoteSigner): string {
  const id = Uint8Array.of(signer.keyId >>> 24, (signer.keyId >>> 16) & 0xff, (signer.keyId >>> 8) & 0xff, signer.keyId & 0xff);
  const signature = signer.sign(manifestBytes);
  const joined = new Uint8Array(4 + signature.length);
  joined.set(id);
  joined.set(signature, 4);
  return `${SIG_PREFIX}${signer.name} ${toBase64(joined)}\n`;
}

/**
 * Check manifest.sig over `manifestBytes` with the export key, then parse the manifest.
 * Throws SIGNATURE_INVALID (or UNTRUSTED_KEY for a signature by another key) naming the file.
 */
export function openManifest(manifestBytes: Uint8Array, sigText: string, exportKey: NoteVerifier): ExportManifest {
  // Attacker-controlled: both files.
  const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)\n?$/.exec(sigText);
  if (!m || !isValidKeyName(m[1])) throw new ChioError('MALFORMED', `${MANIFEST_SIG_FILE}: not a signature line`);
  let sig: Uint8Array;
  try {
    sig = fromBase64(m[2]!);
  } catch (cause) {
    throw new ChioError('MALFORMED', `${MANIFEST_SIG_FILE}: not base64`, { cause });
  }
  const keyId = sig.length === 68 ? ((sig[0]! << 24) | (sig[1]! << 16) | (sig[2]! << 8) | sig[3]!) >>> 0 : -1;
  if (m[1] !== exportKey.name || keyId !== exportKey.keyId) throw new ChioError('UNTRUSTED_KEY', `${MANIFEST_SIG_FILE}: signed by ${m[1]}, not by the export key ${exportKey.name}`);
  if (!exportKey.verify(manifestBytes, sig.subarray(4))) throw new ChioError('SIGNATURE_INVALID', `${MANIFEST_SIG_FILE}: the signature over ${MANIFEST_FILE} does not verify`);
  return toManifest(parseManifestJson(manifestBytes));
}

function parseManifestJson(bytes: Uint8Array): unknown {
  if (bytes.length === 0 || bytes[bytes.length - 1] !== 0x0a) throw new ChioError('MALFORMED', `${MANIFEST_FILE}: does not end in a line feed`);
  try {
    return parseCanonical(bytes.subarray(0, -1), MAX_MANIFEST_BYTES);
  } catch (cause) {
    throw new ChioError('MALFORMED', `${MANIFEST_FILE}: not canonical JSON`, { cause });
  }
}

/** Shape of a signed manifest; a signed manifest is still checked before it is believed. */
function toManifest(value: unknown): ExportManifest {
  const bad = (why: string) => new ChioError('MALFORMED', `${MANIFEST_FILE}: ${why}`);
  const v = value as Partial<ExportManifest> | null;
  if (typeof v !== 'object' || v === null || v.schema !== EXPORT_SCHEMA) throw bad(`schema is not ${EXPORT_SCHEMA}`);
  // A member this verifier does not know could be a constraint it would not check: a manifest
  // that needs one is a new schema, and this verifier refuses it rather than pass it unread.
  onlyMembers(v, MANIFEST_MEMBERS, '', bad);
  if (typeof v.created !== 'string' || rfc3339Nanos(v.created) === undefined) throw bad('created is not an RFC 3339 time');
  if (!Number.isSafeInteger(v.count) || v.count! < 0) throw bad('count is not a number of lines');
  const cp = v.checkpoint;
  if (typeof cp !== 'object' || cp === null || typeof cp.origin !== 'string' || !Number.isSafeInteger(cp.size) || typeof cp.root !== 'string') throw bad('checkpoint is not {origin, size, root}');
  onlyMembers(cp, ['origin', 'size', 'root'], 'checkpoint.', bad);
  const prev = v.previous;
  if (prev !== undefined && (typeof prev !== 'object' || prev === null || !Number.isSafeInteger(prev.size) || typeof prev.root !== 'string')) throw bad('previous is not {size, root}');
  if (prev !== undefined) onlyMembers(prev, ['size', 'root'], 'previous.', bad);
  const keys = v.keys;
  if (typeof keys !== 'object' || keys === null || typeof keys.log !== 'string' || typeof keys.export !== 'string' || !Array.isArray(keys.kernels) || !keys.kernels.every((k) => typeof k === 'string')) throw bad('keys is not {log, kernels, export}');
  onlyMembers(keys, ['log', 'kernels', 'kernel_windows', 'export'], 'keys.', bad);
  if (keys.kernel_windows !== undefined) checkKernelWindows(keys.kernels, keys.kernel_windows, bad);
  const files = v.files;
  if (typeof files !== 'object' || files === null || Array.isArray(files)) throw bad('files is not an object');
  const entries = Object.entries(files);
  if (entries.length > MAX_BUNDLE_FILES) throw bad(`names more than ${MAX_BUNDLE_FILES} files`);
  for (const [path, digest] of entries) {
    if (typeof digest !== 'string' || !DIGEST.test(digest)) throw bad(`the digest of ${path} is not sha256:<hex>`);
    if (![CHECKPOINT_FILE, RECEIPTS_FILE, CONSISTENCY_FILE].includes(path) && policyHashOfFile(path) === undefined) throw bad(`names ${path}, which is no file of a bundle`);
  }
  if (!(CHECKPOINT_FILE in files) || !(RECEIPTS_FILE in files)) throw bad(`does not name ${CHECKPOINT_FILE} and ${RECEIPTS_FILE}`);
  if ((prev !== undefined) !== (CONSISTENCY_FILE in files)) throw bad(`previous and ${CONSISTENCY_FILE} come together`);
  if (!isRootHash(cp.root)) throw bad('checkpoint.root is not the base64 of a SHA-256 hash');
  if (prev !== undefined && !isRootHash(prev.root)) throw bad('previous.root is not the base64 of a SHA-256 hash');
  checkFilter(v.filter, bad);
  return v as ExportManifest;
}

/** The kernel keys a bundle's receipts are checked with: its kernels, in their windows when it gives them. */
export function manifestKernelKeys(manifest: ExportManifest): KernelKeys {
  return manifest.keys.kernel_windows ? new KernelTrustSet(manifest.keys.kernel_windows) : manifest.keys.kernels;
}

/** `kernel_windows`: one entry per key of `kernels`, in its order, each a window KernelTrustSet takes. */
function checkKernelWindows(kernels: readonly string[], windows: unknown, bad: (why: string) => ChioError): void {
  if (!Array.isArray(windows) || windows.length !== kernels.length) throw bad('keys.kernel_windows is not one entry per key of keys.kernels');
  windows.forEach((w: unknown, i) => {
    const where = `keys.kernel_windows[${i}]`;
    if (typeof w !== 'object' || w === null || Array.isArray(w)) throw bad(`${where} is not {key, not_before?, not_after?}`);
    onlyMembers(w, ['key', 'not_before', 'not_after'], `${where}.`, bad);
    const e = w as Record<string, unknown>;
    if (e.key !== kernels[i]) throw bad(`${where}.key is not keys.kernels[${i}]`);
    for (const bound of ['not_before', 'not_after'] as const) if (e[bound] !== undefined && typeof e[bound] !== 'string') throw bad(`${where}.${bound} is not an RFC 3339 time`);
  });
  try {
    new KernelTrustSet(windows as TrustedKernelKey[]);
  } catch (err) {
    throw bad(`keys.kernel_windows: ${err instanceof Error ? err.message : String(err)}`);
  }
}

const MANIFEST_MEMBERS: ReadonlyArray<keyof ExportManifest> = ['schema', 'created', 'filter', 'count', 'checkpoint', 'previous', 'keys', 'files'];

function onlyMembers(value: object, known: readonly string[], where: string, bad: (why: string) => ChioError): void {
  for (const key of Object.keys(value)) if (!known.includes(key)) throw bad(`${where}${key} is no member of a ${EXPORT_SCHEMA} manifest`);
}

/**
 * A filter every receipt can be held against: only its four members, times that are RFC 3339
 * instants, a verdict that is one. A time that did not parse would match every receipt, and
 * a bundle said to hold one day would pass holding any.
 */
function checkFilter(f: unknown, bad: (why: string) => ChioError): void {
  if (typeof f !== 'object' || f === null || Array.isArray(f)) throw bad('filter is not an object');
  for (const [key, value] of Object.entries(f)) {
    if (typeof value !== 'string') throw bad(`filter.${key} is not a string`);
    if (key === 'since' || key === 'until') {
      if (rfc3339Nanos(value) === undefined || Number.isNaN(Date.parse(value))) throw bad(`filter.${key} is not an RFC 3339 time`);
    } else if (key === 'verdict') {
      if (value !== 'allow' && value !== 'deny') throw bad('filter.verdict is neither allow nor deny');
    } else if (key !== 'host') throw bad(`filter.${key} is no member of a filter`);
  }
}

function isRootHash(text: string): boolean {
  try {
    return fromBase64(text).length === 32;
  } catch {
    return false;
  }
}

/** True when a receipt id is well formed (for messages that quote one from a bad line). */
export function looksLikeReceiptId(id: unknown): id is string {
  return typeof id === 'string' && RECEIPT_ID_PATTERN.test(id);
}

/** The root hash of a manifest's checkpoint as bytes. */
export function rootOf(root: string): Uint8Array {
  return fromBase64(root);
}

/**
 * Whether `receipt` is one a bundle with `filter` exports: time in [since, until), the verdict
 * and the normalised host, each when set. Times compare as instants, not as text.
 */
export function matchesExportFilter(receipt: Receipt, filter: ExportFilter): boolean {
  if (filter.verdict !== undefined && receipt.decision.verdict !== filter.verdict) return false;
  if (filter.host !== undefined && receipt.request.host !== filter.host) return false;
  if (filter.since === undefined && filter.until === undefined) return true;
  // In nanoseconds: Date.parse drops what is past the millisecond, which moved the bounds.
  const time = rfc3339Nanos(receipt.time);
  if (time === undefined) return false;
  if (filter.since !== undefined) {
    const since = rfc3339Nanos(filter.since);
    if (since === undefined || time < since) return false;
  }
  if (filter.until !== undefined) {
    const until = rfc3339Nanos(filter.until);
    if (until === undefined || time >= until) return false;
  }
  return true;
}

/** A bundle with no filter holds every leaf of its checkpoint's tree. */
export function isCompleteExport(filter: ExportFilter): boolean {
  return Object.keys(filter).length === 0;
}
