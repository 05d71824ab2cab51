/**
 * Verifying a compliance bundle (export-format.ts, SPEC §9) with nothing but the export
 * verifier key: the manifest is trusted through its signature, and the log and kernel keys
 * through the manifest (or a log key the auditor holds, which MUST then match, and kernel keys
 * the auditor holds, which then replace the manifest's). Pure: the
 * caller reads the files and hands over their bytes; receipts.jsonl arrives in chunks of any
 * size, so memory stays flat however long the log.
 *
 * Order: manifest signature → manifest shape → the set of files → checkpoint (digest, log
 * signature, the manifest's size and root) → every line of receipts.jsonl (canonical JSON,
 * leaf order, receipt JCS form / id / kernel key / signature, chain link, inclusion proof,
 * filter, a correction against the receipt it corrects) → its line count and digest, and the policy files the manifest names are those of
 * the policy hashes the receipts name → every policy file (digest, its name's hash) → the
 * consistency proof. Each failure is a ChioError whose
 * message starts with the file, and for a line its number and receipt id.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { ChioError, isChioError, statusOf } from '../errors/index.js';
import { bytesEqual, toHex } from '../encoding.js';
import { canonicalBytes, parseCanonical } from '../receipt/jcs.js';
import { checkChainLink, nobleSignatureCheck, toReceipt, verifyReceipt, type ChainHead, type SignatureCheck } from '../receipt/verify.js';
import { MAX_RECEIPT_BYTES } from '../receipt/receipt.js';
import { correctionAnswerMismatch } from '../receipt/correction.js';
import { BundleCorrections } from './bundle-corrections.js';
import type { KernelKeys } from '../receipt/kernel-trust.js';
import { MAX_NOTE_SIZE, checkRecord, leafHash, openCheckpoint, parseVerifierKey, type Checkpoint } from '../tlog/index.js';
import { verifyConsistencyProof } from './consistency-proof.js';
import { decodeProofHashes } from './proof-hashes.js';
import {
  CHECKPOINT_FILE, CONSISTENCY_FILE, MAX_EXPORT_LINE_BYTES, MANIFEST_FILE, RECEIPTS_FILE,
  isCompleteExport, looksLikeReceiptId, manifestKernelKeys, matchesExportFilter, openManifest, policyFileOf, policyHashOfFile, rootOf,
  type ExportConsistency, type ExportFilter, type ExportManifest,
} from './export-format.js';

export interface ExportTrust {
  /** The export verifier key the auditor was given (C2SP verifier key). */
  exportKey: string;
  /** The log verifier key, when the auditor holds it: the manifest MUST name the same. */
  logKey?: string;
  /**
   * The kernel keys the auditor holds (with their windows): receipts are checked against these
   * instead of the manifest's `kernels`/`kernel_windows`, which the export key alone vouches for
   * (its holder could add a kernel key, or drop a retired key's window).
   */
  kernelKeys?: KernelKeys;
  /** Ed25519 check for receipts; defaults to the portable one (a Node caller may pass node:crypto's). */
  checkSignature?: SignatureCheck;
}

/** What a verified bundle holds. */
export interface VerifiedExport {
  manifest: ExportManifest;
  checkpoint: Checkpoint;
  receipts: number;
  corrections: number;
  /**
   * Corrections checked on their own only (signature, inclusion, the answer they record): the
   * receipt each corrects is not in the bundle (a filtered one), or more than CORRECTION_REACH
   * seqs before it on its chain. Every other one was checked against the receipt it corrects.
   */
  uncheckedCorrections: number;
  policies: number;
}

const LINE_FEED = 0x0a;
/** Largest consistency.json: 63 hashes and a checkpoint note. */
export const MAX_CONSISTENCY_BYTES = MAX_NOTE_SIZE + 64 * 1024;
const digestOf = (bytes: Uint8Array) => `sha256:${toHex(sha256(bytes))}`;
/** Distinct policy hashes a bundle may name: each needs a file, and files are bounded too. */
const MAX_POLICY_HASHES = 10_000;

/**
 * `err` said where: a failed check keeps its code, anything else about the bundle's bytes
 * (malformed, too large, no canonical form) becomes BUNDLE_INVALID, so a tampered bundle always
 * "does not verify" (status table: exit 3).
 */
function bundleFailure(where: string | undefined, err: ChioError): ChioError {
  const code = statusOf(err.code).exit === 3 ? err.code : 'BUNDLE_INVALID';
  return new ChioError(code, where === undefined ? err.message : `${where}: ${err.message}`, { cause: err });
}

function failIn<T>(where: string | undefined, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (!isChioError(err)) throw err;
    throw bundleFailure(where, err);
  }
}

/** Step-by-step verifier of one bundle; call the methods in order, then finish(). */
export class ExportBundleVerifier {
  readonly manifest: ExportManifest;
  private checkpoint: Checkpoint | undefined;
  /** The checkpoint note as read: the newer end of the consistency proof. */
  private checkpointNote = '';
  private readonly lines: ReceiptLinesVerifier;
  private readonly policiesSeen = new Set<string>();
  /** Steps done: finish() refuses to say a bundle holds while one that decides it was skipped. */
  private fileListChecked = false;
  private receiptsEnded = false;
  private consistencyChecked = false;
  /**
   * The first step that failed: every later step, finish() included, fails with it. A caller
   * that caught a bad receipt line and went on would otherwise be told the bundle holds (the
   * digest and line count still match).
   */
  private failed: unknown;

  /** Check manifest.sig with the export key and parse the manifest. */
  constructor(manifestBytes: Uint8Array, sigText: string, private readonly trust: ExportTrust) {
    const exportKey = parseVerifierKey(trust.exportKey);
    this.manifest = failIn(undefined, () => openManifest(manifestBytes, sigText, exportKey));
    if (this.manifest.keys.export !== trust.exportKey) throw new ChioError('UNTRUSTED_KEY', `${MANIFEST_FILE}: names another export key than the one trusted`);
    if (trust.logKey !== undefined && this.manifest.keys.log !== trust.logKey) throw new ChioError('UNTRUSTED_KEY', `${MANIFEST_FILE}: names another log key than the one trusted`);
    this.lines = new ReceiptLinesVerifier(this.manifest, trust.checkSignature ?? nobleSignatureCheck, trust.kernelKeys ?? manifestKernelKeys(this.manifest));
  }

  /** The bundle holds exactly the files the manifest names (paths relative to the bundle). */
  checkFileList(paths: readonly string[]): void {
    this.step(() => {
      const present = new Set(paths);
      for (const path of Object.keys(this.manifest.files)) {
        if (!present.has(path)) throw new ChioError('BUNDLE_INVALID', `${path}: named in ${MANIFEST_FILE} but missing from the bundle`);
      }
      for (const path of paths) {
        if (!Object.hasOwn(this.manifest.files, path)) throw new ChioError('BUNDLE_INVALID', `${path}: in the bundle but not named in ${MANIFEST_FILE}`);
      }
      this.fileListChecked = true;
    });
  }

  /** The checkpoint file: its digest, the log's signature, the manifest's size and root. */
  checkCheckpoint(bytes: Uint8Array): Checkpoint {
    return this.step(() => {
      this.checkDigest(CHECKPOINT_FILE, bytes);
      const cp = failIn(CHECKPOINT_FILE, () => openCheckpoint(bytes, this.manifest.keys.log));
      const m = this.manifest.checkpoint;
      if (cp.origin !== m.origin || cp.size !== m.size || !bytesEqual(cp.root, rootOf(m.root))) throw new ChioError('PROOF_INVALID', `${CHECKPOINT_FILE}: is not the checkpoint ${MANIFEST_FILE} names`);
      this.checkpoint = cp;
      this.checkpointNote = new TextDecoder().decode(bytes);
      this.lines.checkpoint = cp;
      return cp;
    });
  }

  /** The next bytes of receipts.jsonl (any chunking). */
  pushReceipts(chunk: Uint8Array): void {
    this.step(() => {
      if (!this.checkpoint) throw new ChioError('INTERNAL', 'the checkpoint is checked before the receipts');
      if (this.receiptsEnded) throw new ChioError('INTERNAL', `${RECEIPTS_FILE} has ended: no more of it can be checked`);
      this.lines.push(chunk);
    });
  }

  /**
   * receipts.jsonl has ended: the last line, the line count, completeness and the digest; then
   * that the policy files the manifest names are those of the policy hashes the receipts name.
   * Checked here, before any policy file is read: a file no receipt names is refused unread,
   * where reading it first let an export key's holder name 10,000 sparse files of 64 MiB each
   * and keep the auditor hashing them for hours.
   */
  endReceipts(): void {
    this.step(() => {
      if (!this.checkpoint) throw new ChioError('INTERNAL', 'the checkpoint is checked before the receipts');
      this.lines.end();
      const digest = this.lines.digest();
      if (digest !== this.manifest.files[RECEIPTS_FILE]) throw new ChioError('BUNDLE_INVALID', `${RECEIPTS_FILE}: its SHA-256 is not the one in ${MANIFEST_FILE}`);
      const named = new Set(Object.keys(this.manifest.files).map(policyHashOfFile).filter((h) => h !== undefined));
      for (const hash of this.lines.policyHashes) {
        if (!named.has(hash)) throw new ChioError('BUNDLE_INVALID', `${policyFileOf(hash)}: receipts name policy ${hash}, but the bundle has no such file`);
      }
      // The exporter writes only the sets its receipts name: another would be counted among the
      // bundle's policy sets though no answer in it was given under that set.
      for (const hash of named) {
        if (!this.lines.policyHashes.has(hash)) throw new ChioError('BUNDLE_INVALID', `${policyFileOf(hash)}: no receipt names policy ${hash}`);
      }
      this.receiptsEnded = true;
    });
  }

  /** A policy file: its digest, and that its bytes hash to the policy hash its name says. */
  checkPolicy(path: string, bytes: Uint8Array): void {
    this.step(() => {
      this.checkDigest(path, bytes);
      const hash = policyHashOfFile(path);
      if (hash === undefined || digestOf(bytes) !== hash) throw new ChioError('BUNDLE_INVALID', `${path}: its bytes do not hash to the policy hash its name says`);
      this.policiesSeen.add(hash);
    });
  }

  /** consistency.json: the previous bundle's checkpoint extends into this one's. */
  checkConsistency(bytes: Uint8Array): void {
    this.step(() => {
      const previous = this.manifest.previous;
      if (!previous) return;
      if (!this.checkpoint) throw new ChioError('INTERNAL', 'the checkpoint is checked before the consistency proof');
      this.checkDigest(CONSISTENCY_FILE, bytes);
      failIn(CONSISTENCY_FILE, () => {
        const c = parseCanonical(bytes, MAX_CONSISTENCY_BYTES) as ExportConsistency;
        if (typeof c !== 'object' || c === null || typeof c.old_checkpoint !== 'string') throw new ChioError('MALFORMED', 'not {old, new, old_checkpoint, proof}');
        const { older } = verifyConsistencyProof(c, c.old_checkpoint, this.checkpointNote, this.manifest.keys.log);
        if (older.size !== previous.size || !bytesEqual(older.root, rootOf(previous.root))) throw new ChioError('PROOF_INVALID', `the old checkpoint is not the previous one ${MANIFEST_FILE} names`);
      });
      this.consistencyChecked = true;
    });
  }

  /**
   * The checkpoint of the previous bundle the auditor holds (its checkpoint file) is the one
   * this bundle says it extends. Without it, a log that showed two different trees of one size
   * (a split view) could chain each day's bundle to its own fork and both would verify.
   */
  checkPrevious(previousCheckpoint: Uint8Array): void {
    this.step(() => {
      const previous = this.manifest.previous;
      if (!previous) throw new ChioError('PROOF_INVALID', `${MANIFEST_FILE}: names no previous bundle, so it extends none`);
      const held = failIn('the previous bundle\'s checkpoint', () => openCheckpoint(previousCheckpoint, this.manifest.keys.log));
      if (held.origin !== this.manifest.checkpoint.origin) throw new ChioError('PROOF_INVALID', `the previous bundle's checkpoint is of log ${held.origin}, this bundle's of ${this.manifest.checkpoint.origin}`);
      if (held.size !== previous.size) {
        throw new ChioError('PROOF_INVALID', `${MANIFEST_FILE}: extends a tree of size ${previous.size}, not the previous bundle's (size ${held.size}): give the bundle this one follows`);
      }
      if (!bytesEqual(held.root, rootOf(previous.root))) {
        throw new ChioError('PROOF_INVALID', `${MANIFEST_FILE}: extends a tree of size ${previous.size} with another root than the previous bundle's: the log showed two different trees of that size`);
      }
    });
  }

  /**
   * Every step that decides the verdict ran (endReceipts held the policy files to the receipts'
   * policy hashes); returns what the bundle holds. A caller that skipped a step gets an error,
   * never a bundle said to hold.
   */
  finish(): VerifiedExport {
    return this.step(() => {
      const skipped = [
        ...(this.fileListChecked ? [] : ['the file list']),
        ...(this.checkpoint ? [] : [CHECKPOINT_FILE]),
        ...(this.receiptsEnded ? [] : [`the end of ${RECEIPTS_FILE}`]),
        ...(this.manifest.previous && !this.consistencyChecked ? [CONSISTENCY_FILE] : []),
        ...Object.keys(this.manifest.files).filter((path) => {
          const hash = policyHashOfFile(path);
          return hash !== undefined && !this.policiesSeen.has(hash);
        }),
      ];
      if (skipped.length > 0) throw new ChioError('INTERNAL', `the bundle is not verified: ${skipped.join(', ')} not checked`);
      return { manifest: this.manifest, checkpoint: this.checkpoint!, receipts: this.lines.count, corrections: this.lines.corrections, uncheckedCorrections: this.lines.uncheckedCorrections, policies: this.policiesSeen.size };
    });
  }

  private step<T>(run: () => T): T {
    if (this.failed !== undefined) throw this.failed;
    try {
      return run();
    } catch (err) {
      this.failed = err;
      throw err;
    }
  }

  private checkDigest(path: string, bytes: Uint8Array): void {
    if (this.manifest.files[path] !== digestOf(bytes)) throw new ChioError('BUNDLE_INVALID', `${path}: its SHA-256 is not the one in ${MANIFEST_FILE}`);
  }

}

/** A correction's filter: it is of its target's request, so host; its verdict and time are its own. */
function correctionFilter(filter: ExportFilter): ExportFilter {
  return filter.host !== undefined ? { host: filter.host } : {};
}

/** receipts.jsonl, line by line, as chunks arrive. */
class ReceiptLinesVerifier {
  checkpoint: Checkpoint | undefined;
  count = 0;
  corrections = 0;
  readonly policyHashes = new Set<string>();
  private readonly corrected: BundleCorrections;
  private readonly hasher = sha256.create();
  private readonly heads = new Map<string, ChainHead>();
  private readonly complete: boolean;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private lastIndex = -1;

  constructor(private readonly manifest: ExportManifest, private readonly checkSignature: SignatureCheck, private readonly kernelKeys: KernelKeys) {
    this.complete = isCompleteExport(manifest.filter);
    this.corrected = new BundleCorrections(this.complete);
  }

  get uncheckedCorrections(): number {
    return this.corrected.unchecked;
  }

  push(chunk: Uint8Array): void {
    this.hasher.update(chunk);
    let start = 0;
    for (let i = chunk.indexOf(LINE_FEED); i !== -1; i = chunk.indexOf(LINE_FEED, start)) {
      this.takeLine(this.joinPending(chunk.subarray(start, i)));
      start = i + 1;
    }
    if (start < chunk.length) {
      this.pending.push(chunk.slice(start));
      this.pendingBytes += chunk.length - start;
      // Attacker-controlled: a line without end is refused before it grows past the bound.
      if (this.pendingBytes > MAX_EXPORT_LINE_BYTES) throw this.failure(this.count + 1, undefined, new ChioError('MALFORMED', `line longer than ${MAX_EXPORT_LINE_BYTES} bytes`));
    }
  }

  end(): void {
    if (this.pendingBytes > 0) throw this.failure(this.count + 1, undefined, new ChioError('MALFORMED', 'the last line does not end in a line feed (truncated?)'));
    if (this.count !== this.manifest.count) throw new ChioError('BUNDLE_INVALID', `${RECEIPTS_FILE}: ${this.count} lines, ${MANIFEST_FILE} says ${this.manifest.count}`);
    if (this.complete && this.lastIndex !== this.checkpoint!.size - 1) {
      throw new ChioError('BUNDLE_INVALID', `${RECEIPTS_FILE}: ends at leaf ${this.lastIndex}, but the bundle is unfiltered and the checkpoint has ${this.checkpoint!.size} leaves`);
    }
  }

  digest(): string {
    return `sha256:${toHex(this.hasher.digest())}`;
  }

  private joinPending(tail: Uint8Array): Uint8Array {
    if (this.pending.length === 0) return tail;
    const out = new Uint8Array(this.pendingBytes + tail.length);
    let at = 0;
    for (const p of this.pending) {
      out.set(p, at);
      at += p.length;
    }
    out.set(tail, at);
    this.pending = [];
    this.pendingBytes = 0;
    return out;
  }

  private takeLine(bytes: Uint8Array): void {
    const lineNo = ++this.count;
    let id: string | undefined;
    try {
      if (bytes.length > MAX_EXPORT_LINE_BYTES) throw new ChioError('MALFORMED', `line longer than ${MAX_EXPORT_LINE_BYTES} bytes`);
      const value = parseCanonical(bytes, MAX_EXPORT_LINE_BYTES) as Record<string, unknown> | null;
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ChioError('MALFORMED', 'not an object');
      const receiptValue = value.receipt as Record<string, unknown> | undefined;
      if (looksLikeReceiptId(receiptValue?.id)) id = receiptValue.id;
      this.checkLine(value);
    } catch (err) {
      if (!isChioError(err)) throw err;
      throw this.failure(lineNo, id, err);
    }
  }

  private checkLine(line: Record<string, unknown>): void {
    const cp = this.checkpoint!;
    const keys = Object.keys(line);
    if (keys.length !== 3 || !('index' in line && 'receipt' in line && 'inclusion_proof' in line)) throw new ChioError('MALFORMED', 'not {index, receipt, inclusion_proof}');
    const index = line.index;
    if (!Number.isSafeInteger(index) || (index as number) < 0) throw new ChioError('MALFORMED', 'index is not a leaf index');
    const leaf = index as number;
    if (leaf <= this.lastIndex) throw new ChioError('RECEIPT_INVALID', `leaf ${leaf} comes after leaf ${this.lastIndex}: lines are out of order or repeated`);
    if (this.complete && leaf !== this.lastIndex + 1) throw new ChioError('RECEIPT_INVALID', `leaf ${leaf} follows leaf ${this.lastIndex}, but the bundle is unfiltered: a line is missing`);
    if (leaf >= cp.size) throw new ChioError('PROOF_INVALID', `leaf ${leaf} is outside the checkpoint's tree of size ${cp.size}`);
    const hashes = decodeProofHashes(line.inclusion_proof, 'inclusion_proof');
    // The line is canonical, so the receipt in it is too: its bytes are the leaf, as stored.
    const bytes = canonicalBytes(line.receipt);
    if (bytes.length > MAX_RECEIPT_BYTES) throw new ChioError('RECEIPT_INVALID', `receipt larger than ${MAX_RECEIPT_BYTES} bytes`);
    const receipt = toReceipt(line.receipt);
    verifyReceipt(receipt, this.kernelKeys, this.checkSignature);
    const isCorrection = receipt.corrects !== undefined;
    if (isCorrection) {
      // Whatever it corrects, and whether or not the bundle holds that: a receipt that has
      // `corrects` and answers anything else is no correction, and is not let past the filter.
      const mismatch = correctionAnswerMismatch(receipt);
      if (mismatch !== undefined) throw new ChioError('CORRECTION_INVALID', `the receipt names one it corrects but ${mismatch}`);
    }
    const inFilter = this.complete || matchesExportFilter(receipt, this.manifest.filter);
    // A correction passes the filter for the receipt it corrects (bundle-corrections.ts holds it to that).
    if (!inFilter && !(isCorrection && matchesExportFilter(receipt, correctionFilter(this.manifest.filter)))) throw new ChioError('RECEIPT_INVALID', 'the receipt is outside the bundle\'s filter');
    this.checkChain(receipt.chain, receipt);
    checkRecord(hashes, cp.size, cp.root, leaf, leafHash(bytes));
    this.corrected.take(receipt, inFilter);
    this.lastIndex = leaf;
    if (isCorrection) this.corrections++;
    if (!this.policyHashes.has(receipt.policy_hash) && this.policyHashes.size >= MAX_POLICY_HASHES) throw new ChioError('MALFORMED', `receipts name more than ${MAX_POLICY_HASHES} policy sets`);
    this.policyHashes.add(receipt.policy_hash);
  }

  /**
   * The chain link: a receipt whose predecessor on its chain is in the bundle names it in
   * `prev`. A filtered bundle may skip receipts of a chain; an unfiltered one holds every
   * chain from its first receipt.
   */
  private checkChain(chain: string, receipt: Parameters<typeof checkChainLink>[1]): void {
    const head = this.heads.get(chain);
    if (this.complete || (head !== undefined && receipt.seq <= head.seq + 1)) checkChainLink(head, receipt);
    this.heads.set(chain, { seq: receipt.seq, id: receipt.id });
  }

  private failure(lineNo: number, id: string | undefined, err: ChioError): ChioError {
    return bundleFailure(`${RECEIPTS_FILE} line ${lineNo}${id ? `, receipt ${id}` : ''}`, err);
  }
}
