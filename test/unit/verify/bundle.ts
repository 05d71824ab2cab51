/** In-memory compliance bundles for tests (no NATS): receipts, tree, checkpoint, manifest. */
import { sha256 } from '@noble/hashes/sha2.js';
import { toBase64, toHex, utf8 } from '../../../src/encoding.js';
import { canonicalBytes } from '../../../src/receipt/jcs.js';
import { GENESIS_PREV, receiptBytes, type Receipt, type ReceiptDraft } from '../../../src/receipt/receipt.js';
import { MemoryHashStore, generateSignerKey, openCheckpoint, parseSignerKey, proveRecord, proveTree, signCheckpoint, treeHash } from '../../../src/tlog/index.js';
import { EXPORT_SCHEMA, formatExportLine, formatManifest, policyFileOf, signManifest, type ExportFilter, type ExportManifest } from '../../../src/verify/export-format.js';
import { ExportBundleVerifier } from '../../../src/verify/export-bundle.js';
import { draftOf, kernelOf, signReceipt } from '../receipt/helpers.js';

export const ORIGIN = 'chio.test/bundles';
export const kernel = kernelOf(9);
export const logKey = generateSignerKey(ORIGIN);
export const exportKey = generateSignerKey('chio-export');
export const policy = canonicalBytes([{ kind: 'AuthorizationPolicy', doc: { metadata: { name: 'p' } } }]);
export const policyHash = `sha256:${toHex(sha256(policy))}`;
const digest = (b: Uint8Array) => `sha256:${toHex(sha256(b))}`;

/** n receipts on one chain, signed by `signer`; `edit(i, draft)` may change a draft (e.g. make a correction). */
export function chain(n: number, edit: (i: number, d: ReceiptDraft, out: Receipt[]) => ReceiptDraft = (_i, d) => d, name = 'chain-a', signer = kernel): Receipt[] {
  const out: Receipt[] = [];
  for (let i = 0; i < n; i++) {
    const d = edit(i, draftOf(i, { policy_hash: policyHash, time: `2025-01-01T00:00:${String(i).padStart(2, '0')}.000Z` }), out);
    out.push(signReceipt(d, { chain: name, seq: i + 1, prev: out[i - 1]?.id ?? GENESIS_PREV }, signer));
  }
  return out;
}

export async function treeOf(receipts: readonly Receipt[]) {
  const store = new MemoryHashStore();
  for (const r of receipts) store.append(receiptBytes(r));
  const size = receipts.length;
  const checkpoint = signCheckpoint({ origin: ORIGIN, size, root: await treeHash(size, store.readHashes) }, logKey.signerKey);
  return { store, size, checkpoint };
}

export interface Bundle {
  manifest: Uint8Array;
  sig: string;
  files: Record<string, Uint8Array>;
}

/** A bundle of `indexes` (default every leaf) of the log `receipts`, signed by the export key. */
export async function bundleOf(receipts: readonly Receipt[], opts: { indexes?: number[]; filter?: ExportFilter; previousSize?: number; manifestEdit?: (m: ExportManifest) => void } = {}): Promise<Bundle> {
  const { store, size, checkpoint } = await treeOf(receipts);
  const indexes = opts.indexes ?? receipts.map((_, i) => i);
  let jsonl = '';
  for (const i of indexes) jsonl += `${formatExportLine({ index: i, receipt: receipts[i]!, inclusion_proof: (await proveRecord(size, i, store.readHashes)).map(toBase64) })}\n`;
  const files: Record<string, Uint8Array> = { checkpoint: utf8(checkpoint), 'receipts.jsonl': utf8(jsonl), [policyFileOf(policyHash)]: policy };
  let previous: ExportManifest['previous'];
  if (opts.previousSize !== undefined) {
    const old = await treeOf(receipts.slice(0, opts.previousSize));
    const oc = openCheckpoint(old.checkpoint, logKey.verifierKey);
    files['consistency.json'] = canonicalBytes({ new: size, old: oc.size, old_checkpoint: old.checkpoint, proof: (await proveTree(size, oc.size, store.readHashes)).map(toBase64) });
    previous = { size: oc.size, root: toBase64(oc.root) };
  }
  const cp = openCheckpoint(checkpoint, logKey.verifierKey);
  const manifest: ExportManifest = {
    schema: EXPORT_SCHEMA, created: '2025-01-02T00:00:00.000Z', filter: opts.filter ?? {}, count: indexes.length,
    checkpoint: { origin: cp.origin, size: cp.size, root: toBase64(cp.root) }, ...(previous ? { previous } : {}),
    keys: { log: logKey.verifierKey, kernels: [kernel.verifierKey], export: exportKey.verifierKey },
    files: Object.fromEntries(Object.entries(files).map(([p, b]) => [p, digest(b)])),
  };
  opts.manifestEdit?.(manifest);
  const manifestBytes = formatManifest(manifest);
  return { manifest: manifestBytes, sig: signManifest(manifestBytes, parseSignerKey(exportKey.signerKey)), files };
}

/** Verify as `chio verify-export` does, every step in order. */
export function verifyBundle(b: Bundle) {
  const v = new ExportBundleVerifier(b.manifest, b.sig, { exportKey: exportKey.verifierKey, logKey: logKey.verifierKey });
  v.checkFileList(Object.keys(b.files));
  v.checkCheckpoint(b.files.checkpoint!);
  v.pushReceipts(b.files['receipts.jsonl']!);
  v.endReceipts();
  for (const [p, bytes] of Object.entries(b.files)) if (p.startsWith('policies/')) v.checkPolicy(p, bytes);
  if (b.files['consistency.json']) v.checkConsistency(b.files['consistency.json']);
  return v.finish();
}
