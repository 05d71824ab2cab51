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
 * setAttribute), never as markup, and through shownText (shown-nodes.ts) when it is a receipt's
 * or the server's words: non-ASCII runs marked, characters that draw nothing as escapes.
 *
 * Every fetch and link is relative to the page's own URL (`v1/keys`, `./?id=`), never to the
 * host's root: the page is the verifier's `/`, so behind a gateway that serves the verifier
 * under a prefix (`https://gw.example/chio/`) the same relative paths reach it, with no setting.
 * Messages name a request as the browser made it (`GET /chio/v1/keys`, requested.ts).
 */
import { ChioError, isChioError } from '../errors/index.js';
import { RECEIPT_ID_PATTERN, type Receipt } from '../receipt/receipt.js';
import { RECEIPT_ID_FORM, receiptIdProblem } from '../receipt/receipt-id.js';
import { decodeEntryBundle, openCheckpoint } from '../tlog/index.js';
import type { ProofTrust } from '../verify/receipt-proof.js';
import { drawDecisionChart } from './chart.js';
import { bundlesForRecentLeaves, countDecisions, CHART_LEAVES } from './decisions.js';
import { answeredVerdict, describeDecision, type ServedDecision } from './answer.js';
import { reportServedCorrection, reportServedProof, unfetchedCorrection, type CorrectionReport, type ExplorerCheck, type ExplorerCheckName } from './served-proof.js';
import { describeAnswer, requestedPath, type ReadAnswer } from './requested.js';
import { asciiHostForm } from './shown-text.js';
import { shownLines, shownText } from './shown-nodes.js';

const POLICY_HASH = /^sha256:[0-9a-f]{64}$/;
/** What starts each signature line of a signed note (C2SP signed-note): an em dash and a space. */
const SIGNATURE_LINE_START = '\u2014 ';
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
  correction: 'Its correction verifies and corrects it',
};

function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el;
}

/** An element holding `content`: a string is the page's own words; what others wrote comes as shownText. */
function el<K extends keyof HTMLElementTagNameMap>(tag: K, content?: string | Node, attributes: Record<string, string> = {}): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (content !== undefined) node.append(content);
  for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, v);
  return node;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `GET /chio/v1/keys answered 502: …` for a path the page fetched, as the browser requested it. */
const described = (path: string, answer: ReadAnswer) => describeAnswer(path, document.baseURI, answer);

/** The page cannot go on without it: said in #error as it is, not as a failure of the page. */
const pageProblem = (message: string) => new ChioError('UNAVAILABLE', message);

const KEYS_PATH = 'v1/keys';

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
  const res = await fetch(KEYS_PATH, { headers: { accept: 'application/json' } });
  const cannotRead = "The page could not read the verifier's keys";
  if (!res.ok) throw pageProblem(`${cannotRead}: ${described(KEYS_PATH, { status: res.status })}.`);
  const keys = ((await res.json().catch(() => null)) ?? {}) as { log?: unknown; kernels?: unknown };
  if (typeof keys.log !== 'string' || !Array.isArray(keys.kernels) || !keys.kernels.every((k) => typeof k === 'string')) {
    throw pageProblem(`${cannotRead}: GET ${requestedPath(KEYS_PATH, document.baseURI)} did not answer keys.`);
  }
  return { logKey: pinned.log ? logKey! : keys.log, kernelKeys: pinned.kernels ? kernelKeys : (keys.kernels as string[]), pinned };
}

function showTrust(trust: PageTrust): void {
  const list = $('keys');
  // Keys come from the URL or the server, either of them anyone's to write.
  list.replaceChildren(el('dt', 'log key'), el('dd', shownText(trust.logKey)), ...trust.kernelKeys.flatMap((k) => [el('dt', 'kernel key'), el('dd', shownText(k))]));
  const source = (pinned: boolean) => (pinned ? "pinned by this page's URL" : `as served by this verifier at ${requestedPath(KEYS_PATH, document.baseURI)}`);
  $('trust-source').textContent =
    trust.pinned.log === trust.pinned.kernels ? source(trust.pinned.log) : `log key ${source(trust.pinned.log)}; kernel keys ${source(trust.pinned.kernels)}`;
}

type Served = { path: string; status: number; body: unknown };

/** GET /v1/receipts/<id>, asked again each second while it is pending (202, or 503: the ledger is behind). */
async function fetchServed(id: string, onPending: () => void): Promise<Served> {
  for (let attempt = 0; ; attempt++) {
    const path = `v1/receipts/${id}`;
    const res = await fetch(path, { headers: { accept: 'application/json' } });
    if ((res.status === 202 || res.status === 503) && attempt < PENDING_RETRIES) {
      onPending();
      await sleep(1000);
      continue;
    }
    // Not JSON: for a 200, every check fails, red.
    return { path, status: res.status, body: await res.json().catch(() => (res.status === 200 ? null : {})) };
  }
}

/** `GET /chio/v1/receipts/<id> answered 404: <its error>`, of an answer that is not 200. */
const answered = (served: Served): string => described(served.path, served);

/** Look a receipt up and show it with the checks run here; retries while it is pending. */
async function showReceipt(id: string, trust: ProofTrust): Promise<void> {
  const result = $('result');
  const banner = $('banner');
  result.hidden = false;
  const setState = (state: string, ...content: (string | Node)[]) => {
    result.dataset.state = state;
    banner.replaceChildren(...content);
  };
  // What is wrong with it, in the words `chio prove` uses, not only what an id is.
  const problem = receiptIdProblem(id);
  if (problem !== undefined) return setState('error', `That receipt id ${problem}; ${RECEIPT_ID_FORM}.`);
  setState('loading', 'Looking the receipt up…');
  const served = await fetchServed(id, () => setState('pending', 'Stored, not yet in a published checkpoint; looking again…'));
  // A gateway in front of the verifier may answer too: the request is named, not "the verifier".
  if (served.status !== 200) return setState('error', 'The receipt could not be read: ', shownText(answered(served)), '.');
  const answer = served.body;
  const report = reportServedProof(answer, id, trust);
  const checks = [...report.checks];
  // A corrected receipt: the answer given was its correction's, once the correction verifies here.
  let correction: CorrectionReport | undefined;
  const correctedBy = (answer as { corrected_by?: unknown } | null)?.corrected_by;
  if (correctedBy !== undefined) {
    if (typeof correctedBy === 'string' && RECEIPT_ID_PATTERN.test(correctedBy)) {
      setState('loading', 'Looking its correction up…');
      const servedCorrection = await fetchServed(correctedBy, () => setState('pending', 'Its correction is stored, not yet in a published checkpoint; looking again…'));
      correction = servedCorrection.status === 200
        ? reportServedCorrection(answer, report, servedCorrection.body, trust)
        : unfetchedCorrection(correctedBy, answered(servedCorrection));
    } else {
      correction = reportServedCorrection(answer, report, undefined, trust);
    }
    checks.push(correction.check);
  }
  showChecks(checks);
  showFields(answer as { receipt?: Receipt; corrected_by?: unknown }, correction);
  const where = report.included ? ` Leaf ${report.included.index} of ${report.included.tree_size} in ${report.included.origin}.` : '';
  return checks.every((c) => c.status !== 'fails') && report.ok
    ? setState('verified', `Verified in this browser.${where}`)
    : setState('failed', 'Does NOT verify: see the checks in red.');
}

function showChecks(checks: readonly ExplorerCheck[]): void {
  $('checks').replaceChildren(
    ...checks.map((c) => {
      const item = el('li', undefined, { 'data-check': c.check, 'data-status': c.status });
      item.append(el('span', c.status === 'holds' ? '✓' : c.status === 'fails' ? '✗' : '–', { class: 'mark' }), el('strong', CHECK_LABELS[c.check]), ' ', shownText(c.message));
      // A message may quote what was served; a code is one of ours only when the report made it.
      if (c.code) item.append(' (', shownText(c.code), ')');
      return item;
    }),
  );
}

const receiptLink = (id: string) => el('a', id, { href: `./?id=${id}` });

/**
 * The receipt's fields. `verdict` is the answer given (receipts.md): a shadow receipt's is allow,
 * its own verdict shown beside it as the shadow verdict; a corrected receipt's is its
 * correction's when that verifies here (`correction`), else unknown — never its own allow.
 */
function showFields(answer: { receipt?: Receipt; corrected_by?: unknown }, correction: CorrectionReport | undefined): void {
  const r = answer.receipt;
  const fields = $('fields');
  fields.replaceChildren();
  $('receipt-json').replaceChildren(shownLines(receiptJson(r)));
  if (typeof r !== 'object' || r === null) return;
  // Every string of the receipt (signed or not, attacker-influenced: a source principal may hold
  // any character but C0 controls) is shown through shownText: bidi overrides, isolates and
  // marks, zero-width characters and line separators as \u{…} escapes, or
  // "…/sa/\u202Enimda 10.0.0.2:51234" would read "…/sa/43215:2.0.0.01 admin" on a receipt that
  // verifies; non-ASCII runs marked, or a Cyrillic "аdmin" would read "admin". Strings passed
  // to row are the page's own words.
  const row = (name: string, ...value: (Node | string | undefined)[]) => {
    const shown = (v: Node | string | undefined): v is Node | string => v !== undefined && v !== '' && !(v instanceof DocumentFragment && !v.hasChildNodes());
    const parts = value.filter(shown);
    if (parts.length === 0) return undefined;
    const dd = el('dd', undefined, { 'data-field': name });
    dd.append(...parts);
    fields.append(el('dt', name), dd);
    return dd;
  };
  const verdictRow = (verdict: 'allow' | 'deny' | 'unknown' | undefined, text: string, note?: string) => {
    const dd = row('verdict', el('strong', shownText(text)), note);
    if (dd) dd.dataset.verdict = verdict ?? 'unknown';
  };
  const d = (typeof r.decision === 'object' && r.decision !== null ? r.decision : {}) as ServedDecision & { reason?: unknown };
  const own = describeDecision(d);
  const reason = typeof d.reason === 'string' ? shownText(d.reason) : undefined;
  if (correction !== undefined) {
    if (correction.correction) {
      const given = correction.correction.decision;
      verdictRow(answeredVerdict(given), describeDecision(given), ' — the answer given, as its correction (checked in this browser) records it');
    } else {
      verdictRow('unknown', 'not known', ' — the verifier says this receipt was corrected, and the correction does not verify here (see the checks)');
    }
    row('decided', shownText(own), `${d.shadow === true ? ' (shadow mode)' : ''} — recorded, but not the answer given: the Check was answered before this receipt was stored`);
  } else if (d.shadow === true) {
    verdictRow('allow', 'allow', ' — shadow mode: the Check was answered allow; the shadow verdict below was recorded, not enforced');
    row('shadow verdict', shownText(own), ' (would-be: recorded, not enforced)');
    row('shadow reason', reason);
  } else {
    verdictRow(answeredVerdict(d), own);
    row('reason', reason);
  }
  const req = r.request ?? {};
  // Only the start of a long path is recorded: said first, or "/public/<2,040 characters>"
  // would read as the whole path of a request that went on to "/admin".
  const cut = req.path_truncated === true ? el('strong', 'cut: only the start of the path is recorded (path_sha256 is the SHA-256 of the whole) ') : undefined;
  row('request', cut, requestText(req));
  // Apart: a principal may hold spaces, so "…/sa/x 10.9.9.9:1" joined would pass for its address.
  row('source principal', typeof req.source_principal === 'string' ? shownText(req.source_principal) : undefined);
  row('source address', typeof req.source_address === 'string' ? shownText(req.source_address) : undefined);
  row('time', typeof r.time === 'string' ? shownText(r.time) : undefined);
  row('chain', shownText(`${String(r.chain)} #${String(r.seq)}`));
  row('policy hash', typeof r.policy_hash === 'string' && POLICY_HASH.test(r.policy_hash) ? el('a', r.policy_hash, { href: `v1/policies/${r.policy_hash}` }) : shownText(String(r.policy_hash)));
  if (typeof r.corrects === 'string' && RECEIPT_ID_PATTERN.test(r.corrects)) {
    // Signed: this receipt is a correction, the answer given for the receipt it names.
    row('correction of', receiptLink(r.corrects), ' — that receipt was stored, but its Check was answered ', shownText(own), ': this correction records that answer');
  }
  if (typeof answer.corrected_by === 'string' && RECEIPT_ID_PATTERN.test(answer.corrected_by)) {
    row('corrected by', receiptLink(answer.corrected_by), correction?.correction ? ' (its correction, checked in this browser)' : ' (named by the verifier; not verified here)');
  }
}

/**
 * Method, host and path, as recorded; a host with non-ASCII characters (no receipt chio signs
 * has one: it records the ASCII form, decision/host.ts) followed by its ASCII form, the name a
 * browser or resolver would look up.
 */
function requestText(req: NonNullable<Receipt['request']>): DocumentFragment {
  const text = document.createDocumentFragment();
  const parts: unknown[] = [req.method, req.host, req.path];
  parts.forEach((part, i) => {
    if (typeof part !== 'string') return;
    if (text.hasChildNodes()) text.append(' ');
    text.append(shownText(part));
    const ascii = i === 1 ? asciiHostForm(part) : undefined;
    if (ascii !== undefined) text.append(' (ASCII form: ', shownText(ascii), ')');
  });
  return text;
}

/**
 * The receipt as JSON, its lines shown as the fields are (JSON.stringify escapes only C0
 * controls). A hostile verifier may serve a receipt nested deeper than JSON.stringify can print
 * (JSON.parse reads any depth): said instead of throwing, which left the banner at "Looking the
 * receipt up…" with no verdict; the receipt-form check already fails for it.
 */
function receiptJson(r: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(r, null, 2);
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    return '(not shown: nested too deeply to print)';
  }
  return text ?? '';
}

/** The latest checkpoint, opened here with the log key; returns its tree size when it verifies. */
async function showCheckpoint(trust: ProofTrust): Promise<number | undefined> {
  const status = $('checkpoint-status');
  const res = await fetch('checkpoint');
  if (res.status !== 200) {
    status.textContent = res.status === 404 ? 'No checkpoint is published yet.' : `The latest checkpoint could not be read: ${described('checkpoint', { status: res.status })}.`;
    return undefined;
  }
  const note = await res.text();
  // Lines past the signed body (other keys' signatures) are the server's to write: shown as fields are.
  $('checkpoint').replaceChildren(shownLines(note, SIGNATURE_LINE_START));
  try {
    const cp = openCheckpoint(note, trust.logKey);
    status.dataset.status = 'holds';
    status.textContent = `✓ Signed by the log key. ${cp.size} leaves in ${cp.origin}.`;
    return cp.size;
  } catch (err) {
    if (!isChioError(err)) throw err;
    status.dataset.status = 'fails';
    status.replaceChildren('✗ Does not verify with the log key: ', shownText(err.message));
    return undefined;
  }
}

async function showChart(treeSize: number): Promise<void> {
  const note = $('chart-note');
  const bundles = bundlesForRecentLeaves(treeSize);
  const entries = (
    await Promise.all(
      bundles.map(async (b) => {
        const res = await fetch(b.path);
        if (!res.ok) throw pageProblem(`${described(b.path, { status: res.status })}.`);
        return decodeEntryBundle(new Uint8Array(await res.arrayBuffer()), b.width).slice(b.skip);
      }),
    )
  ).flat();
  const counts = countDecisions(entries);
  $('chart').replaceChildren(drawDecisionChart(counts.minutes));
  const unreadable = counts.unreadable > 0 ? `, ${counts.unreadable} not readable as receipts` : '';
  note.textContent = `The last ${counts.leaves} leaves of the log (at most ${CHART_LEAVES}), per minute, UTC${unreadable}. Green allow, red deny, as answered: a shadow-mode receipt counts as allow, a corrected one as its correction.`;
}

/** An error as the page says it: a ChioError by its message (`ChioError: ` says nothing to a reader), anything else whole. */
const problemText = (err: unknown): string => (isChioError(err) ? err.message : String(err));

async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const id = params.get('id');
  if (id !== null) ($('id') as HTMLInputElement).value = id;
  const trust = await loadTrust(params);
  showTrust(trust);
  const size = await showCheckpoint(trust);
  await Promise.all([
    id !== null ? showReceipt(id.trim(), trust) : undefined,
    size !== undefined ? showChart(size).catch((err: unknown) => void ($('chart-note').textContent = `The chart could not be drawn: ${problemText(err)}`)) : undefined,
  ]);
}

main()
  .catch((err: unknown) => void ($('error').textContent = isChioError(err) && err.code === 'UNAVAILABLE' ? err.message : `The explorer failed: ${problemText(err)}`))
  .finally(() => (document.body.dataset.ready = 'true'));
