/**
 * The explorer page's script (SPEC §7, `GET /`), bundled for the browser by
 * scripts/build-explorer.ts. It looks up `?id=` at the verifier it was served from, runs the
 * portable checks (src/verify) on the answer in this browser, and shows the latest checkpoint
 * and a chart of recent decisions.
 *
 * Trust: the log's and kernels' verifier keys come from `GET /v1/keys` of the same verifier,
 * unless the URL pins them (`log_key=` and one or more `kernel_key=`). A verifier that lies
 * about its keys can fool a page that trusts them; one that lies about a receipt, its proof or
 * its checkpoint cannot. Every value from the server reaches the page as text (textContent,
 * setAttribute), never as markup.
 */
import { isChioError } from '../errors/index.js';
import { RECEIPT_ID_PATTERN, type Receipt } from '../receipt/receipt.js';
import { decodeEntryBundle, openCheckpoint } from '../tlog/index.js';
import type { ProofTrust } from '../verify/receipt-proof.js';
import { drawDecisionChart } from './chart.js';
import { bundlesForRecentLeaves, countDecisions, CHART_LEAVES } from './decisions.js';
import { reportServedProof, type ExplorerCheckName } from './served-proof.js';

const POLICY_HASH = /^sha256:[0-9a-f]{64}$/;
/** How often a pending receipt (stored, not yet in a checkpoint) is looked up again, 1 s apart. */
const PENDING_RETRIES = 15;

const CHECK_LABELS: Record<ExplorerCheckName, string> = {
  'receipt.form': 'Receipt form (RFC 8785 JSON)',
  'receipt.id': 'Receipt id is the SHA-256 of its body',
  'receipt.kernel_key': 'Signed by a trusted kernel key',
  'receipt.signature': 'Receipt signature (Ed25519)',
  'receipt.chain': 'Chain position (seq, prev)',
  'receipt.chain_link': 'Link to the previous receipt',
  'receipt.requested': 'The receipt asked for',
  'proof.form': 'Proof form',
  'checkpoint.signature': 'Checkpoint signature (log key)',
  inclusion: 'Inclusion in the log (RFC 6962)',
};

function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, attributes: Record<string, string> = {}): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, v);
  return node;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The page's trust: plain key lists (GET /v1/keys's `kernels`, or the URL's); a retired key's
 * window is the ledger's business. Each key kind is pinned on its own: a log key in the URL is
 * used even when no kernel key is there, and only what the URL lacks is taken from the server.
 */
type PageTrust = ProofTrust & { kernelKeys: readonly string[]; pinned: { log: boolean; kernels: boolean } };

async function loadTrust(params: URLSearchParams): Promise<PageTrust> {
  const logKey = params.get('log_key');
  const kernelKeys = params.getAll('kernel_key');
  const pinned = { log: logKey !== null && logKey !== '', kernels: kernelKeys.length > 0 };
  if (pinned.log && pinned.kernels) return { logKey: logKey!, kernelKeys, pinned };
  const res = await fetch('/v1/keys', { headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`GET /v1/keys answered ${res.status}`);
  const keys = (await res.json()) as { log?: unknown; kernels?: unknown };
  if (typeof keys.log !== 'string' || !Array.isArray(keys.kernels) || !keys.kernels.every((k) => typeof k === 'string')) throw new Error('GET /v1/keys did not answer keys');
  return { logKey: pinned.log ? logKey! : keys.log, kernelKeys: pinned.kernels ? kernelKeys : (keys.kernels as string[]), pinned };
}

function showTrust(trust: PageTrust): void {
  const list = $('keys');
  list.replaceChildren(el('dt', 'log key'), el('dd', trust.logKey), ...trust.kernelKeys.flatMap((k) => [el('dt', 'kernel key'), el('dd', k)]));
  const source = (pinned: boolean) => (pinned ? "pinned by this page's URL" : 'as served by this verifier at /v1/keys');
  $('trust-source').textContent =
    trust.pinned.log === trust.pinned.kernels ? source(trust.pinned.log) : `log key ${source(trust.pinned.log)}; kernel keys ${source(trust.pinned.kernels)}`;
}

/** Look a receipt up and show it with the checks run here; retries while it is pending. */
async function showReceipt(id: string, trust: ProofTrust): Promise<void> {
  const result = $('result');
  const banner = $('banner');
  result.hidden = false;
  const setState = (state: string, text: string) => {
    result.dataset.state = state;
    banner.textContent = text;
  };
  if (!RECEIPT_ID_PATTERN.test(id)) return setState('error', 'A receipt id is 64 lower-case hex digits.');
  for (let attempt = 0; ; attempt++) {
    setState('loading', 'Looking the receipt up…');
    const res = await fetch(`/v1/receipts/${id}`, { headers: { accept: 'application/json' } });
    const waiting = res.status === 202 || res.status === 503;
    if (waiting && attempt < PENDING_RETRIES) {
      setState('pending', 'Stored, not yet in a published checkpoint; looking again…');
      await sleep(1000);
      continue;
    }
    if (res.status !== 200) {
      const body = (await res.json().catch(() => ({}))) as { error?: unknown };
      return setState('error', `The verifier answered ${res.status}${typeof body.error === 'string' ? `: ${body.error}` : ''}.`);
    }
    const answer: unknown = await res.json().catch(() => null); // not JSON: every check fails, red
    const report = reportServedProof(answer, id, trust);
    showChecks(report.checks);
    showFields(answer as { receipt?: Receipt; index?: unknown; corrected_by?: unknown });
    const where = report.included ? ` Leaf ${report.included.index} of ${report.included.tree_size} in ${report.included.origin}.` : '';
    return report.ok ? setState('verified', `Verified in this browser.${where}`) : setState('failed', 'Does NOT verify: see the checks in red.');
  }
}

function showChecks(checks: ReturnType<typeof reportServedProof>['checks']): void {
  $('checks').replaceChildren(
    ...checks.map((c) => {
      const item = el('li', undefined, { 'data-check': c.check, 'data-status': c.status });
      item.append(el('span', c.status === 'holds' ? '✓' : c.status === 'fails' ? '✗' : '–', { class: 'mark' }), el('strong', CHECK_LABELS[c.check]), el('span', ` ${c.message}${c.code ? ` (${c.code})` : ''}`));
      return item;
    }),
  );
}

function showFields(answer: { receipt?: Receipt; index?: unknown; corrected_by?: unknown }): void {
  const r = answer.receipt;
  const fields = $('fields');
  fields.replaceChildren();
  $('receipt-json').textContent = JSON.stringify(r, null, 2);
  if (typeof r !== 'object' || r === null) return;
  const row = (name: string, value: Node | string | undefined) => {
    if (value === undefined || value === '') return;
    const dd = el('dd');
    dd.append(value);
    fields.append(el('dt', name), dd);
  };
  const d = r.decision ?? ({} as Receipt['decision']);
  row('verdict', String(d.verdict ?? ''));
  row('http status', d.http_status !== undefined ? String(d.http_status) : undefined);
  row('guard', d.guard);
  row('reason', d.reason);
  const req = r.request ?? {};
  row('request', [req.method, req.host, req.path].filter((p) => typeof p === 'string').join(' '));
  row('source', [req.source_principal, req.source_address].filter((p) => typeof p === 'string').join(' '));
  row('time', typeof r.time === 'string' ? r.time : undefined);
  row('chain', `${String(r.chain)} #${String(r.seq)}`);
  row('policy hash', typeof r.policy_hash === 'string' && POLICY_HASH.test(r.policy_hash) ? el('a', r.policy_hash, { href: `/v1/policies/${r.policy_hash}` }) : String(r.policy_hash));
  if (typeof r.corrects === 'string' && RECEIPT_ID_PATTERN.test(r.corrects)) row('corrects', el('a', r.corrects, { href: `/?id=${r.corrects}` }));
  if (typeof answer.corrected_by === 'string' && RECEIPT_ID_PATTERN.test(answer.corrected_by)) {
    // The verifier's word, not checked here: its absence could not be detected either. The
    // correction's own page checks it (its receipt, inclusion and what it corrects).
    row('corrected by', el('a', `${answer.corrected_by} (the answer given was the correction's, says the verifier: not checked here; open it to check)`, { href: `/?id=${answer.corrected_by}` }));
  }
}

/** The latest checkpoint, opened here with the log key; returns its tree size when it verifies. */
async function showCheckpoint(trust: ProofTrust): Promise<number | undefined> {
  const status = $('checkpoint-status');
  const res = await fetch('/checkpoint');
  if (res.status !== 200) {
    status.textContent = res.status === 404 ? 'No checkpoint is published yet.' : `GET /checkpoint answered ${res.status}.`;
    return undefined;
  }
  const note = await res.text();
  $('checkpoint').textContent = note;
  try {
    const cp = openCheckpoint(note, trust.logKey);
    status.dataset.status = 'holds';
    status.textContent = `✓ Signed by the log key. ${cp.size} leaves in ${cp.origin}.`;
    return cp.size;
  } catch (err) {
    if (!isChioError(err)) throw err;
    status.dataset.status = 'fails';
    status.textContent = `✗ Does not verify with the log key: ${err.message}`;
    return undefined;
  }
}

async function showChart(treeSize: number): Promise<void> {
  const note = $('chart-note');
  const bundles = bundlesForRecentLeaves(treeSize);
  const entries = (
    await Promise.all(
      bundles.map(async (b) => {
        const res = await fetch(`/${b.path}`);
        if (!res.ok) throw new Error(`GET /${b.path} answered ${res.status}`);
        return decodeEntryBundle(new Uint8Array(await res.arrayBuffer()), b.width).slice(b.skip);
      }),
    )
  ).flat();
  const counts = countDecisions(entries);
  $('chart').replaceChildren(drawDecisionChart(counts.minutes));
  const unreadable = counts.unreadable > 0 ? `, ${counts.unreadable} not readable as receipts` : '';
  note.textContent = `The last ${counts.leaves} leaves of the log (at most ${CHART_LEAVES}), per minute, UTC${unreadable}. Green allow, red deny, as answered: a shadow-mode receipt counts as allow, a corrected one as its correction.`;
}

async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const id = params.get('id');
  if (id !== null) ($('id') as HTMLInputElement).value = id;
  const trust = await loadTrust(params);
  showTrust(trust);
  const size = await showCheckpoint(trust);
  await Promise.all([
    id !== null ? showReceipt(id.trim(), trust) : undefined,
    size !== undefined ? showChart(size).catch((err: unknown) => void ($('chart-note').textContent = `The chart could not be drawn: ${String(err)}`)) : undefined,
  ]);
}

main()
  .catch((err: unknown) => void ($('error').textContent = `The explorer failed: ${String(err)}`))
  .finally(() => (document.body.dataset.ready = 'true'));
