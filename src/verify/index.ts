/**
 * `chio/verify`: checking Chio's receipts and log with nothing but trust material, in any
 * JavaScript runtime. No `node:` module anywhere in this entry's module graph (a test walks it),
 * so Node, a browser and an auditor's own tool run the same code.
 *
 * Trust material is the kernel verifier keys (who may sign receipts) and the log's verifier key
 * (who signs checkpoints; its name is the log origin). Every function is pure: plain data in, a
 * verified value out, or a ChioError with a stable `code`.
 *
 *   verifyReceipt, verifyReceiptBytes  a receipt: JCS form, id, trusted kernel key, signature (SPEC §5)
 *   KernelTrustSet                     kernel keys with validity windows (a rotation; a plain list works too)
 *   checkChainLink                     a receipt extends the one before it on its chain
 *   openCheckpoint                     a checkpoint: C2SP signed note by the log key (SPEC §6)
 *   checkRecord                        an inclusion proof of a leaf under a root (RFC 6962 §2.1.1)
 *   checkTree                          a consistency proof between two roots (RFC 6962 §2.1.2)
 *   verifyReceiptProof                 what GET /v1/receipts/<id> answers (SPEC §7)
 *   verifyCorrection                   a proven correction corrects a proven receipt (SPEC §5)
 *   verifyConsistencyProof             what GET /v1/consistency answers (SPEC §7)
 *   parseTlogProof, formatTlogProof    C2SP tlog-proof@v1 text (GET /v1/receipts/<id>/proof)
 *   verifyTlogProof                    a tlog-proof@v1 for a receipt
 *   reportVerification                 every check, field by field (POST /v1/verify)
 *   ExportBundleVerifier               a compliance bundle, file by file (chio verify-export, SPEC §9)
 */
export { ChioError, isChioError, type ChioErrorCode } from '../errors/index.js';
export {
  RECEIPT_SCHEMA,
  GENESIS_PREV,
  MAX_RECEIPT_BYTES,
  receiptBytes,
  type Receipt,
  type ReceiptBody,
  type ReceiptRequest,
  type ReceiptSubject,
  type ReceiptDecision,
  type Evidence,
  type Verdict,
} from '../receipt/receipt.js';
export { verifyReceipt, verifyReceiptBytes, checkChainLink, type ChainHead, type SignatureCheck } from '../receipt/verify.js';
export { KernelTrustSet, checkKernelKey, MAX_TRUSTED_KERNEL_KEYS, type KernelKeys, type TrustedKernelKey } from '../receipt/kernel-trust.js';
export {
  type Checkpoint,
  type Hash,
  type NoteVerifier,
  MAX_PROOF_LENGTH,
  openCheckpoint,
  parseVerifierKey,
  leafHash,
  checkRecord,
  checkTree,
} from '../tlog/index.js';
export { verifyReceiptProof, type ReceiptProof, type ProofTrust, type ProvenReceipt } from './receipt-proof.js';
export { verifyCorrection } from './correction.js';
export { verifyConsistencyProof, type ConsistencyProof, type ProvenConsistency } from './consistency-proof.js';
export {
  TLOG_PROOF_HEADER,
  TLOG_PROOF_EXTENSION,
  MAX_TLOG_PROOF_CHARS,
  parseTlogProof,
  formatTlogProof,
  verifyTlogProof,
  type TlogProof,
} from './tlog-proof.js';
export {
  reportVerification,
  toVerifyRequest,
  type VerifyRequest,
  type VerifyReport,
  type VerifySubject,
  type CheckOutcome,
  type CheckName,
} from './report.js';
export { ExportBundleVerifier, type ExportTrust, type VerifiedExport } from './export-bundle.js';
export {
  EXPORT_SCHEMA,
  matchesExportFilter,
  policyFileOf,
  type ExportManifest,
  type ExportFilter,
  type ExportLine,
  type ExportConsistency,
} from './export-format.js';
