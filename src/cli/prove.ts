/**
 * `chio prove <id>`: fetch a receipt's proof from the verifier and check it locally against
 * the log key and kernel keys the operator trusts (from the key directory or flags), not
 * against keys the server hands out.
 */
import { ChioError, codeOfHttpStatus } from '../errors/index.js';
import { verifyReceiptProof, type ProvenReceipt, type ReceiptProof } from '../verify/receipt-proof.js';

export interface ProveOptions {
  verifierUrl: string;
  logKey: string;
  kernelKeys: string[];
  /** How long to wait for a pending receipt to enter a checkpoint. */
  waitMs: number;
}

/** How often a pending receipt is asked for again while `waitMs` lasts. */
export const PROVE_RETRY_INTERVAL_MS = 200;
/** How long one request to the verifier may take. */
export const VERIFIER_REQUEST_TIMEOUT_MS = 10_000;
/** How much of an error answer's body a message quotes. */
const QUOTED_BODY_CHARS = 500;

/**
 * Fetch the proof of receipt `id` and verify it. Throws ChioError: the code of the verifier's
 * answer (status table, errors/status.ts) when it is not 200, else the first check that fails.
 */
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
      await new Promise((r) => setTimeout(r, PROVE_RETRY_INTERVAL_MS));
      continue;
    }
    const body = (await res.text()).slice(0, QUOTED_BODY_CHARS);
    const code = codeOfHttpStatus(res.status);
    if (code === 'PENDING') throw new ChioError(code, `receipt ${id} is stored but not yet in a checkpoint`);
    throw new ChioError(code, `verifier answered ${res.status}: ${body}`);
  }
}

async function fetchReceipt(url: URL): Promise<Response> {
  try {
    return await fetch(url, { signal: AbortSignal.timeout(VERIFIER_REQUEST_TIMEOUT_MS) });
  } catch (cause) {
    throw new ChioError('UNAVAILABLE', `cannot reach the verifier at ${url.origin}`, { cause });
  }
}

export function formatProven(p: ProvenReceipt): string {
  return `receipt ${p.receipt.id} (${p.receipt.decision.verdict}${p.receipt.decision.guard ? `, guard ${p.receipt.decision.guard}` : ''})\n` +
    `included at index ${p.index} in a checkpoint of size ${p.treeSize} (${p.origin}); signatures OK`;
}
