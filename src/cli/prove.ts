/**
 * `chio prove <id>`: fetch a receipt's proof from the verifier and check it locally against
 * the log key and kernel keys the operator trusts (from the key directory or flags), not
 * against keys the server hands out.
 */
import { ChioError } from '../errors.js';
import { verifyReceiptProof, type ProvenReceipt, type ReceiptProof } from '../verifier/proof-bundle.js';

export interface ProveOptions {
  verifierUrl: string;
  logKey: string;
  kernelKeys: string[];
  /** How long to wait for a pending receipt to enter a checkpoint. */
  waitMs: number;
}

export async function proveReceipt(id: string, opts: ProveOptions): Promise<ProvenReceipt> {
  const deadline = Date.now() + opts.waitMs;
  for (;;) {
    const res = await fetch(new URL(`/v1/receipts/${encodeURIComponent(id)}`, opts.verifierUrl), { signal: AbortSignal.timeout(10_000) });
    if (res.status === 200) return verifyReceiptProof((await res.json()) as ReceiptProof, { logKey: opts.logKey, kernelKeys: opts.kernelKeys }, id);
    if (res.status === 202 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    const body = (await res.text()).slice(0, 500);
    if (res.status === 202) throw new ChioError('TIMEOUT', `receipt ${id} is stored but not yet in a checkpoint`);
    throw new ChioError(res.status === 404 ? 'NOT_FOUND' : 'UNAVAILABLE', `verifier answered ${res.status}: ${body}`);
  }
}

export function formatProven(p: ProvenReceipt): string {
  return `receipt ${p.receipt.id} (${p.receipt.decision.verdict}${p.receipt.decision.guard ? `, guard ${p.receipt.decision.guard}` : ''})\n` +
    `included at index ${p.index} in a checkpoint of size ${p.treeSize} (${p.origin}); signatures OK`;
}
