/** Verifier answers for unit tests, computed as the verifier computes them (SPEC §7). */
import { toBase64 } from '../../../src/encoding.js';
import { receiptBytes, type Receipt } from '../../../src/receipt/receipt.js';
import { MemoryHashStore, parseSignerKey, proveRecord, signCheckpoint, treeHash } from '../../../src/tlog/index.js';
import type { ReceiptProof } from '../../../src/verify/index.js';

/**
 * What GET /v1/receipts/<id> answers for `receipts[index]` when the log holds `receipts` and its
 * latest checkpoint, signed with `logSignerKey` (named after the origin), covers all of them.
 */
export async function receiptProofOf(receipts: readonly Receipt[], index: number, logSignerKey: string): Promise<ReceiptProof> {
  const store = new MemoryHashStore();
  for (const r of receipts) store.append(receiptBytes(r));
  const size = receipts.length;
  const origin = parseSignerKey(logSignerKey).name;
  const checkpoint = signCheckpoint({ origin, size, root: await treeHash(size, store.readHashes) }, logSignerKey);
  return { receipt: receipts[index]!, index, checkpoint, inclusion_proof: (await proveRecord(size, index, store.readHashes)).map(toBase64) };
}
