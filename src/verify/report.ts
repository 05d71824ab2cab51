/**
 * What holds and what does not, check by check, for a posted receipt or tlog-proof (SPEC §7,
 * `POST /v1/verify`; the explorer page shows the same report). The verify functions elsewhere
 * in this folder stop at the first failure, which is right for a yes/no answer; a report runs
 * every check that its inputs allow, so that a reader sees *which* part of a receipt is wrong.
 * Pure: trust material in, a report out.
 *
 * Checks, in order, each `holds`, `fails` (with a ChioError code) or `skipped` (with why):
 *
 *   receipt.form          a chio.receipt.v1 object with an RFC 8785 form, within size bounds
 *   receipt.id            id = SHA-256(JCS(body))
 *   receipt.kernel_key    the signer is a trusted kernel key
 *   receipt.signature     Ed25519 over JCS(body), or over its batch's root, by the key the receipt names
 *   receipt.chain         seq and prev agree: seq 1 starts a chain (prev 64 zeros), later seqs do not
 *   receipt.chain_link    extends `previous` (given): same chain, seq + 1, prev = its id
 *   proof.form            the tlog-proof@v1 text parses
 *   checkpoint.signature  the proof's checkpoint is signed by the log key
 *   inclusion             the receipt's leaf is at `index` under the checkpoint's root
 *
 * A subject is what was posted. A compliance bundle is one more subject (`bundle`,
 * bundle-report.ts): its checks are the steps of `chio verify-export`, each naming in `where`
 * the file, and in receipts.jsonl the line, where it failed; the report's shape stays.
 */
import { ChioError, type ChioErrorCode } from '../errors/index.js';
import { fromBase64 } from '../encoding.js';
import { canonicalBytes } from '../receipt/jcs.js';
import { GENESIS_PREV, MAX_RECEIPT_BYTES, receiptBodyBytes, receiptIdOf, toReceiptBody, type Receipt } from '../receipt/receipt.js';
import { checkChainLink, nobleSignatureCheck, signatureHolds, signatureInvalid, signedMessage, toReceipt, verifyReceipt } from '../receipt/verify.js';
import { checkKernelKey } from '../receipt/kernel-trust.js';
import { checkRecord, leafHash, openCheckpoint, parseVerifierKey, type Checkpoint, type NoteVerifier } from '../tlog/index.js';
import { parseTlogProof, type TlogProof } from './tlog-proof.js';
import type { ProofTrust } from './receipt-proof.js';
import type { ExportFilter } from './export-format.js';

/** The checks of a receipt, or a receipt and its tlog-proof. */
export type ReceiptCheckName =
  | 'receipt.form' | 'receipt.id' | 'receipt.kernel_key' | 'receipt.signature' | 'receipt.chain' | 'receipt.chain_link'
  | 'proof.form' | 'checkpoint.signature' | 'inclusion';
/** The checks of a compliance bundle (bundle-report.ts). */
export type BundleCheckName =
  | 'bundle.archive' | 'bundle.manifest' | 'bundle.files' | 'bundle.checkpoint' | 'bundle.receipts' | 'bundle.policies' | 'bundle.consistency' | 'bundle.finish';
export type CheckName = ReceiptCheckName | BundleCheckName;

export interface CheckOutcome<N extends CheckName = CheckName> {
  check: N;
  status: 'holds' | 'fails' | 'skipped';
  /** Why it fails: the code verifying would throw. */
  code?: ChioErrorCode;
  message: string;
  /** Where in a multi-file subject the check looked (file, line); absent for one receipt. */
  where?: string;
}

/** What was posted: a receipt alone, a receipt with its tlog-proof, or a compliance bundle. */
export type VerifySubject = 'receipt' | 'tlog-proof' | 'bundle';

export interface VerifyRequest {
  receipt: unknown;
  /** tlog-proof@v1 text for `receipt`. */
  proof?: unknown;
  /** The receipt before `receipt` on its chain, to check the link. */
  previous?: unknown;
}

export interface VerifyReport<N extends CheckName = CheckName> {
  /** True when no check fails; `skipped` checks say what was not looked at. */
  ok: boolean;
  subject: VerifySubject;
  /** The receipt's id as it claims it (check `receipt.id`). */
  receipt_id?: string;
  /** Where the proof places the receipt, when inclusion holds. */
  included?: { index: number; tree_size: number; origin: string };
  /** What a bundle holds, when every check of it holds. */
  bundle?: BundleSummary;
  checks: CheckOutcome<N>[];
}

/** What a verified bundle holds: what `chio verify-export` prints on its OK line. */
export interface BundleSummary {
  receipts: number;
  corrections: number;
  /**
   * Corrections checked on their own only: the receipt each corrects is not in the bundle (a
   * filtered one), or more than CORRECTION_REACH seqs before it on its chain. Every other one
   * was checked against the receipt it corrects, by the rule the ledger holds it to.
   */
  corrections_unchecked: number;
  /** Policy sets (files under policies/). */
  policies: number;
  checkpoint: { origin: string; size: number; root: string };
  /** The tree the bundle extends, when its manifest names one. */
  previous?: { size: number; root: string };
  filter: ExportFilter;
  /** No filter: the bundle was checked to hold every leaf of the tree. A filtered one is not checked to hold all it should. */
  complete: boolean;
  /** The export key's name, which signed the manifest. */
  signed_by: string;
}

/** Members a request may have; anything else is refused so that a typo is not a silent skip. */
const REQUEST_MEMBERS = new Set(['receipt', 'proof', 'previous']);

/** Check a request's shape (attacker-controlled JSON); throws MALFORMED. */
export function toVerifyRequest(value: unknown): VerifyRequest {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ChioError('MALFORMED', 'the request is not a JSON object');
  const unknown = Object.keys(value).filter((k) => !REQUEST_MEMBERS.has(k));
  if (unknown.length > 0) throw new ChioError('MALFORMED', `unknown member ${JSON.stringify(unknown[0])}; a request has "receipt" and optionally "proof" (tlog-proof@v1 text) and "previous"`);
  const request = value as Partial<VerifyRequest>;
  if (!('receipt' in request)) throw new ChioError('MALFORMED', 'the request has no "receipt"');
  if ('proof' in request && typeof request.proof !== 'string') throw new ChioError('MALFORMED', '"proof" is not tlog-proof@v1 text');
  return request as VerifyRequest;
}

/** Run every check the request allows against `trust`; never throws for what was posted. */
export function reportVerification(request: VerifyRequest, trust: ProofTrust): VerifyReport<ReceiptCheckName> {
  const checks: CheckOutcome<ReceiptCheckName>[] = [];
  const run = <T>(check: ReceiptCheckName, holds: string, fn: () => T): T | undefined => {
    try {
      const value = fn();
      checks.push({ check, status: 'holds', message: holds });
      return value;
    } catch (err) {
      if (!(err instanceof ChioError)) throw err;
      checks.push({ check, status: 'fails', code: err.code, message: err.message });
      return undefined;
    }
  };
  const skip = (check: ReceiptCheckName, why: string) => checks.push({ check, status: 'skipped', message: why });

  const form = run('receipt.form', 'a chio.receipt.v1 receipt with an RFC 8785 form', () => receiptForm(request.receipt));
  if (form) checkReceipt(form.receipt, request.previous, trust, run, skip);
  else for (const c of ['receipt.id', 'receipt.kernel_key', 'receipt.signature', 'receipt.chain', 'receipt.chain_link'] as const) skip(c, 'the receipt is not well-formed');

  let included: VerifyReport['included'];
  if (request.proof !== undefined) {
    const proof = run('proof.form', 'a c2sp.org/tlog-proof@v1 text', () => parseTlogProof(request.proof as string));
    const checkpoint = proof && run('checkpoint.signature', `signed by the log key ${trust.logKey.split('+')[0]}`, () => openCheckpoint(proof.checkpoint, logVerifier(trust)));
    if (!proof) skip('checkpoint.signature', 'the proof does not parse');
    if (proof && checkpoint && form) {
      const at = run('inclusion', 'the receipt is a leaf of the checkpoint\'s tree', () => checkInclusion(proof, checkpoint, form.bytes));
      if (at) included = at;
    } else skip('inclusion', !form ? 'the receipt is not well-formed' : !proof ? 'the proof does not parse' : 'the checkpoint does not verify');
  }
  const claimedId = (request.receipt as { id?: unknown } | null)?.id;
  return {
    ok: checks.every((c) => c.status !== 'fails'),
    subject: request.proof !== undefined ? 'tlog-proof' : 'receipt',
    ...(typeof claimedId === 'string' ? { receipt_id: claimedId } : {}),
    ...(included ? { included } : {}),
    checks,
  };
}

type Run = <T>(check: ReceiptCheckName, holds: string, fn: () => T) => T | undefined;
type Skip = (check: ReceiptCheckName, why: string) => void;

/** The log key as a note verifier, checking signatures with `trust.checkSignature` when given. */
function logVerifier(trust: ProofTrust): string | NoteVerifier {
  const check = trust.checkSignature;
  if (!check) return trust.logKey;
  const key = parseVerifierKey(trust.logKey);
  return { ...key, verify: (message, signature) => signature.length === 64 && check(signature, message, key.publicKey) };
}

function receiptForm(value: unknown): { receipt: Receipt; bytes: Uint8Array } {
  const bytes = canonicalBytes(value);
  if (bytes.length > MAX_RECEIPT_BYTES) throw new ChioError('RECEIPT_INVALID', `receipt larger than ${MAX_RECEIPT_BYTES} bytes`);
  return { receipt: toReceipt(value), bytes };
}

function checkReceipt(receipt: Receipt, previous: unknown, trust: ProofTrust, run: Run, skip: Skip): void {
  const body = receiptBodyBytes(toReceiptBody(receipt));
  run('receipt.id', 'the id is the SHA-256 of the receipt body', () => {
    if (receiptIdOf(body) !== receipt.id) throw new ChioError('RECEIPT_INVALID', 'receipt id does not match its content');
  });
  run('receipt.kernel_key', 'signed by a trusted kernel key', () => {
    checkKernelKey(trust.kernelKeys, receipt.kernel_key, receipt.time);
  });
  run('receipt.signature', 'the signature verifies with the kernel key the receipt names', () => {
    const { publicKey } = parseVerifierKey(receipt.kernel_key);
    const signed = { signature: fromBase64(receipt.signature), message: signedMessage(receipt, body), publicKey };
    if (!signatureHolds(signed, trust.checkSignature ?? nobleSignatureCheck)) throw signatureInvalid();
  });
  run('receipt.chain', 'seq and prev agree', () => {
    if ((receipt.seq === 1) !== (receipt.prev === GENESIS_PREV)) throw new ChioError('CHAIN_BROKEN', receipt.seq === 1 ? 'seq 1 must have prev 64 zeros' : `seq ${receipt.seq} cannot start a chain`);
  });
  if (previous === undefined) return skip('receipt.chain_link', 'no "previous" receipt was given');
  run('receipt.chain_link', 'extends the previous receipt on its chain', () => {
    const before = toReceipt(previous);
    verifyReceipt(before, trust.kernelKeys, trust.checkSignature);
    if (before.chain !== receipt.chain) throw new ChioError('CHAIN_BROKEN', `the previous receipt is on chain ${before.chain}, not ${receipt.chain}`);
    checkChainLink({ seq: before.seq, id: before.id }, receipt);
  });
}

function checkInclusion(proof: TlogProof, checkpoint: Checkpoint, bytes: Uint8Array): VerifyReport['included'] {
  if (proof.index >= checkpoint.size) throw new ChioError('PROOF_INVALID', `index ${proof.index} is outside the checkpoint's tree of size ${checkpoint.size}`);
  checkRecord(proof.hashes, checkpoint.size, checkpoint.root, proof.index, leafHash(bytes));
  return { index: proof.index, tree_size: checkpoint.size, origin: checkpoint.origin };
}
