/**
 * `chio prove <id>`: fetch a receipt's proof from the verifier and check it locally against
 * the log key and kernel keys the operator trusts (from the key directory or flags), not
 * against keys the server hands out.
 */
import { ChioError } from '../errors/index.js';
import { verifyReceiptProof, type ProvenReceipt, type ReceiptProof } from '../verify/receipt-proof.js';

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
    const res = await fetchReceipt(new URL(`/v1/receipts/${encodeURIComponent(id)}`, opts.verifierUrl));
    if (res.status === 200) {
      let body: ReceiptProof;
      try {
        body = (await res.json()) as ReceiptProof;
      } catch (cause) {
        throw new ChioError('MALFORMED', 'the verifier answered 200 with a body that is not JSON', { cause });
      }
      return verifyReceiptProof(body, { logKey: opts.logKey, kernelKeys: opts.kernelKeys }, id);
    }
    // 202: stored, not yet in a checkpoint. 503: the ledger is behind. Both pass; wait and ask again.
    if ((res.status === 202 || res.status === 503) && Date.now() < deadline) {
      await res.body?.cancel();
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    const body = (await res.text()).slice(0, 500);
    if (res.status === 202) throw new ChioError('TIMEOUT', `receipt ${id} is stored but not yet in a checkpoint`);
    const code = res.status === 404 ? 'NOT_FOUND' : res.status === 400 ? 'MALFORMED' : 'UNAVAILABLE';
    throw new ChioError(code, `verifier answered ${res.status}: ${body}`);
  }
}

async function fetchReceipt(url: URL): Promise<Response> {
  try {
    return await fetch(url, { signal: AbortSignal.timeout(10_000) });
  } catch (cause) {
    throw new ChioError('UNAVAILABLE', `cannot reach the verifier at ${url.origin}`, { cause });
  }
}

export function formatProven(p: ProvenReceipt): string {
  return `receipt ${p.receipt.id} (${p.receipt.decision.verdict}${p.receipt.decision.guard ? `, guard ${p.receipt.decision.guard}` : ''})\n` +
    `included at index ${p.index} in a checkpoint of size ${p.treeSize} (${p.origin}); signatures OK`;
}
