/**
 * `chio prove <id>`: fetch a receipt's proof from the verifier and check it locally against
 * the log key and kernel keys the operator trusts (from the key directory or flags), not
 * against keys the server hands out. When the verifier says the receipt was corrected (SPEC
 * §5: stored, but answered deny 503), the correction's own proof is fetched and checked too,
 * and the receipt is shown with the answer actually given, never as a plain allow.
 */
import { ChioError, NO_SUCH_ROUTE, codeOfHttpStatus } from '../errors/index.js';
import { DEFAULT_HTTP_PORT, DEFAULT_VERIFIER_PORT, DEFAULT_VERIFIER_URL } from '../config.js';
import { MAX_RECEIPT_BYTES, answeredVerdict } from '../receipt/receipt.js';
import { RECEIPT_ID_FORM, receiptIdProblem } from '../receipt/receipt-id.js';
import { readResponseBody } from '../response-body.js';
import { MAX_NOTE_SIZE, MAX_PROOF_LENGTH } from '../tlog/index.js';
import { verifyCorrection } from '../verify/correction.js';
import { verifyReceiptProof, type ProofTrust, type ProvenReceipt, type ReceiptProof } from '../verify/receipt-proof.js';
import { getFromVerifier, verifierUrl } from './verifier-request.js';

export interface ProveOptions {
  verifierUrl: string;
  logKey: string;
  kernelKeys: ProofTrust['kernelKeys'];
  /** How long to wait for a pending receipt to enter a checkpoint. */
  waitMs: number;
}

/** How often a pending receipt is asked for again while `waitMs` lasts. */
export const PROVE_RETRY_INTERVAL_MS = 200;
/** How long one request to the verifier may take, with its one retry (verifier-request.ts). */
export const VERIFIER_REQUEST_TIMEOUT_MS = 10_000;
/**
 * The largest 200 answer, in bytes: a receipt (MAX_RECEIPT_BYTES, spliced in as it is), a
 * checkpoint note (MAX_NOTE_SIZE; at most twice that as a JSON string, since a note holds no
 * control character but the newline, and a newline, quote or backslash takes two bytes),
 * MAX_PROOF_LENGTH base64 hashes (44 characters, two quotes and a comma each), and the member
 * names with corrected_by in well under 1 KiB. About 2 MiB; a larger answer is refused unread.
 */
export const MAX_ANSWER_BYTES = MAX_RECEIPT_BYTES + 2 * MAX_NOTE_SIZE + MAX_PROOF_LENGTH * 47 + 1024;
/** How much of an error answer's body a message quotes. */
const QUOTED_BODY_CHARS = 500;

/** A proven receipt and, when it was corrected, its proven correction: the answer given. */
export interface ProvenAnswer extends ProvenReceipt {
  correction?: ProvenReceipt;
}

export interface ProveResult extends ProvenAnswer {
  /** The verifier's answer that proved it (for `--out`: the same proof as tlog-proof@v1). */
  answer: ReceiptProof;
  /** The answer that proved the correction, when there is one (for `--receipt-out`). */
  correctionAnswer?: ReceiptProof;
}

/**
 * Fetch the proof of receipt `id` and verify it, and the proof of its correction if it has
 * one. Throws ChioError: CONFIG_INVALID for an id that is no receipt id (nothing is asked), the
 * code of the verifier's answer (status table, errors/status.ts) when it is not 200, else the
 * first check that fails.
 */
export async function proveReceipt(id: string, opts: ProveOptions): Promise<ProveResult> {
  checkReceiptId(id);
  const deadline = Date.now() + opts.waitMs;
  const proven = await fetchProven(id, opts, deadline);
  if (proven.correctedBy === undefined) return proven;
  const { answer: correctionAnswer, ...correction } = await fetchProven(proven.correctedBy, opts, deadline);
  verifyCorrection(proven, correction);
  return { ...proven, correction, correctionAnswer };
}

/** Throws CONFIG_INVALID, saying what is wrong, for an id that is no receipt id. */
export function checkReceiptId(id: string): void {
  const problem = receiptIdProblem(id);
  if (problem !== undefined) throw new ChioError('CONFIG_INVALID', `that receipt id ${problem}; ${RECEIPT_ID_FORM}`);
}

/** GET /v1/receipts/<id> until it is 200 or `deadline` passes, and verify the proof. */
async function fetchProven(id: string, opts: ProveOptions, deadline: number): Promise<ProvenReceipt & { answer: ReceiptProof }> {
  for (;;) {
    const res = await fetchReceipt(opts.verifierUrl, `/v1/receipts/${encodeURIComponent(id)}`);
    if (res.status === 200) {
      const { bytes, whole } = await readBody(res, MAX_ANSWER_BYTES);
      if (!whole) throw new ChioError('MALFORMED', `the verifier answered 200 with a body over ${MAX_ANSWER_BYTES} bytes, larger than a receipt proof can be`);
      let body: ReceiptProof;
      try {
        body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as ReceiptProof;
      } catch (cause) {
        throw new ChioError('MALFORMED', 'the verifier answered 200 with a body that is not JSON', { cause });
      }
      return { ...verifyReceiptProof(body, { logKey: opts.logKey, kernelKeys: opts.kernelKeys }, id), answer: body };
    }
    // 202: stored, not yet in a checkpoint. 503: the ledger is behind. Both pass; wait and ask again.
    if ((res.status === 202 || res.status === 503) && Date.now() < deadline) {
      await res.body?.cancel();
      await new Promise((r) => setTimeout(r, PROVE_RETRY_INTERVAL_MS));
      continue;
    }
    // Read no more than is quoted (a UTF-8 character is at most 4 bytes), however much is sent.
    const body = new TextDecoder().decode((await readBody(res, 4 * QUOTED_BODY_CHARS)).bytes).slice(0, QUOTED_BODY_CHARS);
    const code = codeOfHttpStatus(res.status);
    if (code === 'PENDING') throw new ChioError(code, `receipt ${id} is stored but not yet in a checkpoint`);
    const said = chioErrorOf(body);
    // A verifier answers 404 for an unknown receipt in words of its own; every other Chio port
    // (authz's 9090) has no such route, and other servers say nothing Chio would.
    if (res.status === 404 && (said === undefined || said.error === NO_SUCH_ROUTE) && !(await hasCheckpoint(opts.verifierUrl))) throw notAVerifier(opts.verifierUrl);
    throw new ChioError(code, said ? `verifier answered ${res.status} ${said.code}: ${said.error}` : `verifier answered ${res.status}: ${body}`);
  }
}

/** The `error` and `code` of a Chio JSON error answer (http.ts sendError), else undefined. */
function chioErrorOf(body: string): { error: string; code: string } | undefined {
  try {
    const value = JSON.parse(body) as { error?: unknown; code?: unknown } | null;
    if (typeof value?.error === 'string' && typeof value.code === 'string') return { error: value.error, code: value.code };
  } catch {
    // not JSON: quoted as it is
  }
  return undefined;
}

/** Whether `base` answers GET /checkpoint, as every verifier does once its log has one. */
async function hasCheckpoint(base: string): Promise<boolean> {
  try {
    const res = await getFromVerifier(verifierUrl(base, '/checkpoint'), VERIFIER_REQUEST_TIMEOUT_MS);
    await res.body?.cancel();
    return res.status === 200;
  } catch {
    return false;
  }
}

function notAVerifier(base: string): ChioError {
  return new ChioError('NOT_FOUND', `--url ${base} does not look like a Chio verifier: it has no GET /v1/receipts/<id> nor GET /checkpoint ` +
    `(authz's HTTP port, ${DEFAULT_HTTP_PORT} unless CHIO_HTTP_PORT is set, has neither); the verifier is ${DEFAULT_VERIFIER_URL} unless CHIO_VERIFIER_PORT is set, and \`chio up\` prints the --url to use`);
}

async function fetchReceipt(base: string, path: string): Promise<Response> {
  try {
    return await getFromVerifier(verifierUrl(base, path), VERIFIER_REQUEST_TIMEOUT_MS);
  } catch (cause) {
    throw new ChioError('UNAVAILABLE', `cannot reach the verifier at ${base}: is Chio running, and is that its verifier (--url; CHIO_VERIFIER_PORT, ${DEFAULT_VERIFIER_PORT} unless set; \`chio up\` prints the --url to use)?`, { cause });
  }
}

/** At most `max` bytes of an answer's body (response-body.ts), and whether that was all of it. */
async function readBody(res: Response, max: number): Promise<{ bytes: Uint8Array; whole: boolean }> {
  try {
    return await readResponseBody(res, max);
  } catch (cause) {
    throw new ChioError('UNAVAILABLE', "the verifier's answer broke off", { cause });
  }
}

/** What `chio prove` prints: the receipt, the answer given when it was corrected, the proof. */
export function formatProven(p: ProvenAnswer): string {
  const { id, decision, corrects } = p.receipt;
  const proof = `included at index ${p.index} in a checkpoint of size ${p.treeSize} (${p.origin}); signatures OK`;
  if (p.correction) {
    const c = p.correction;
    const answered = `${c.receipt.decision.verdict} ${c.receipt.decision.http_status}${c.receipt.decision.guard ? ` by ${c.receipt.decision.guard}` : ''}`;
    return `receipt ${id}: decided ${decision.verdict}, stored, but answered ${answered} (corrected by ${c.receipt.id})\n${proof}\n` +
      `correction made ${c.receipt.time}, included at index ${c.index} in a checkpoint of size ${c.treeSize}; signatures OK`;
  }
  const what = corrects !== undefined ? `, a correction of ${corrects}` : '';
  const guard = decision.guard ? `, guard ${decision.guard}` : '';
  // In shadow mode the receipt records the would-be verdict; the Check was answered allow.
  if (decision.shadow) return `receipt ${id} (allow; shadow verdict ${decision.verdict}${guard}${what})\n${proof}`;
  return `receipt ${id} (${decision.verdict}${guard}${what})\n${proof}`;
}

/**
 * `chio prove --json`: `verdict` is the answer given — for a corrected receipt the
 * correction's, never its own allow; for a shadow receipt allow, its own verdict in
 * `shadow_verdict` — with `corrected_by` or `corrects` when they apply.
 */
export function toProvenJson(p: ProvenAnswer): Record<string, unknown> {
  const { decision } = (p.correction ?? p).receipt;
  return {
    id: p.receipt.id, index: p.index, tree_size: p.treeSize, verdict: answeredVerdict(decision),
    ...(decision.shadow ? { shadow_verdict: decision.verdict } : {}),
    ...(p.correction ? { corrected_by: p.correction.receipt.id } : {}),
    ...(p.receipt.corrects !== undefined ? { corrects: p.receipt.corrects } : {}),
    ok: true,
  };
}
