/**
 * The explorer page (SPEC §7, `GET /`) end to end in headless Chromium: a live stack (real
 * nats-server, authz, ledger, verifier), real Checks over gRPC, then the page looks a receipt
 * up and checks it in the browser — green for the real answer, red when the served proof or
 * receipt is tampered with on the way (a Playwright route override). Screenshots of both go to
 * test/artifacts/.
 *
 * Needs Debian's chromium at /usr/bin/chromium (`.ci/run` installs it).
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream } from '@nats-io/jetstream';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../support/browser.js';
import { buildExplorer } from '../../scripts/build-explorer.js';
import { buildCheckRequest } from '../../src/cli/envoy-request.js';
import { RECEIPT_ID_FORM } from '../../src/receipt/receipt-id.js';
import { sendCheck } from '../../src/cli/check.js';
import { demoToken } from '../../src/up.js';
import { generateSignerKey } from '../../src/tlog/index.js';
import { loadKey } from '../../src/keys.js';
import { canonicalBytes } from '../../src/receipt/jcs.js';
import { GENESIS_PREV, RECEIPT_SCHEMA, type Receipt, type ReceiptBody, type ReceiptDraft } from '../../src/receipt/receipt.js';
import { signReceipt } from '../../src/receipt/sign.js';
import { toCorrectionDraft } from '../../src/receipt/correction.js';
import { receiptSubject } from '../../src/store/resources.js';
import type { ReceiptProof } from '../../src/verify/receipt-proof.js';
import { startTestNats, tempDir, type TestNats } from '../support/nats.js';
import { REPO_ROOT, startTestChio, testConfig, type TestChio } from '../support/chio.js';

export const ARTIFACTS = join(REPO_ROOT, 'test/artifacts');

let nats: TestNats;
let chio: TestChio;
let browser: Browser;
let allowId: string;
let denyId: string;
/** Answered allow in shadow mode; its receipt records the would-be deny. */
let shadowId: string;
/** Stored, but answered deny 503 (ReceiptLedger): corrected by `correctionId`. */
let correctedId: string;
let correctionId: string;

/** A DENY policy in shadow mode: recorded, never enforced (policies.md). */
const SHADOW_POLICY = `apiVersion: chio.dev/v1
kind: AuthorizationPolicy
metadata:
  name: no-shadowed
  annotations: { chio.dev/shadow: "true" }
spec:
  action: DENY
  rules: [{ to: [{ operation: { paths: ["/tools/shadowed*"] } }] }]
`;

/**
 * An allow receipt stored after its Check was answered 503, and its correction, signed with the
 * stack's kernel key on a chain of their own and stored as the chain writer stores them: what a
 * late PubAck leaves in the log (SPEC §5; test/integration/late-acks.test.ts makes real ones).
 */
async function storeCorrectedReceipt(): Promise<{ corrected: Receipt; correction: Receipt }> {
  const kernel = loadKey(chio.config.keyDir, 'kernel');
  const chain = 'explorer-corrections';
  const sign = (draft: ReceiptDraft, seq: number, prev: string): Receipt =>
    signReceipt({ ...draft, schema: RECEIPT_SCHEMA, chain, seq, prev, kernel_key: kernel.verifierKey } satisfies ReceiptBody, kernel.signer);
  const corrected = sign({
    time: new Date().toISOString(),
    request: { id: 'explorer-late', method: 'POST', host: 'tools.chio.local', path: '/tools/late', protocol: 'HTTP/1.1' },
    subject: {},
    decision: { verdict: 'allow', http_status: 200, shadow: false },
    evidence: [{ guard: 'Request', verdict: 'allow' }],
    policy_hash: chio.authz.policyHash,
  }, 1, GENESIS_PREV);
  const correction = sign(toCorrectionDraft(corrected, new Date().toISOString()), 2, corrected.id);
  const js = jetstream(chio.nc);
  for (const r of [corrected, correction]) await js.publish(receiptSubject(chain), canonicalBytes(r), { msgID: r.id });
  return { corrected, correction };
}

async function check(path: string, method: string, headers: Record<string, string> = {}, principal = 'spiffe://cluster.local/ns/agents/sa/agent'): Promise<string> {
  const answer = await sendCheck(chio.grpcAddr, buildCheckRequest({ method, path, host: 'tools.chio.local', headers, principal }));
  return answer.receiptId!;
}

/** Wait until the latest checkpoint covers `size` leaves, so each proof has at least one hash. */
async function publishedAtLeast(size: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${chio.verifierUrl}/checkpoint`);
    if (res.status === 200 && Number((await res.text()).split('\n')[1]) >= size) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no checkpoint of ${size} leaves was published`);
}

/** A page that records failed loads, console errors (a CSP violation is one) and uncaught exceptions. */
async function openPage(): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 1400 } });
  const problems: string[] = [];
  page.on('console', (m) => void (m.type() === 'error' && problems.push(m.text())));
  page.on('pageerror', (e) => problems.push(String(e)));
  page.on('response', (r) => void (r.status() >= 400 && problems.push(`${r.status()} ${r.url()}`)));
  return { page, problems };
}

async function lookUp(page: Page, id: string): Promise<void> {
  await page.goto(`${chio.verifierUrl}/?id=${id}`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
}

/** The receipt's fields as shown: each <dt> with the text of its <dd>. */
const shownFields = (page: Page) =>
  page.$$eval('#fields dt', (dts) => Object.fromEntries(dts.map((dt) => [dt.textContent, dt.nextElementSibling?.textContent ?? ''])));

const checkStatuses = (page: Page) =>
  page.$$eval('#checks li', (items) => Object.fromEntries(items.map((li) => [li.getAttribute('data-check'), li.getAttribute('data-status')])));

beforeAll(async () => {
  await buildExplorer();
  mkdirSync(ARTIFACTS, { recursive: true });
  nats = await startTestNats();
  const dataDir = tempDir('chio-explorer-');
  const policies = join(dataDir, 'policies');
  mkdirSync(policies);
  copyFileSync(join(REPO_ROOT, 'deploy/policies/demo.yaml'), join(policies, 'demo.yaml'));
  writeFileSync(join(policies, 'shadow.yaml'), SHADOW_POLICY);
  chio = await startTestChio(testConfig(dataDir, nats.current.url, { CHIO_POLICIES: policies }));
  const token = demoToken(chio.config);
  allowId = await check('/tools/hello', 'POST', { 'x-chio-capability-token': token });
  denyId = await check('/admin', 'DELETE');
  shadowId = await check('/tools/shadowed', 'POST', { 'x-chio-capability-token': token });
  ({ corrected: { id: correctedId }, correction: { id: correctionId } } = await storeCorrectedReceipt());
  await publishedAtLeast(5);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await chio?.stop();
  await nats?.cleanup();
});

describe('the explorer page in headless Chromium', { timeout: 90_000 }, () => {
  it('verifies a real receipt in the browser: every check green, with the checkpoint and the chart', async () => {
    const { page, problems } = await openPage();
    await lookUp(page, allowId);
    expect(await page.getAttribute('#result', 'data-state')).toBe('verified');
    expect(await page.textContent('#banner')).toContain('Verified in this browser');
    expect(await checkStatuses(page)).toEqual({
      'receipt.form': 'holds', 'receipt.id': 'holds', 'receipt.kernel_key': 'holds', 'receipt.signature': 'holds', 'receipt.chain': 'holds',
      'proof.form': 'holds', 'checkpoint.signature': 'holds', inclusion: 'holds', 'receipt.requested': 'holds',
    });
    const fields = await page.textContent('#fields');
    expect(fields).toContain('allow');
    expect(fields).toContain('POST tools.chio.local /tools/hello');
    // Relative to the page, so it works under a gateway's path prefix too (explorer-prefix.test.ts).
    const policyHref = await page.getAttribute('#fields a[href^="v1/policies/"]', 'href');
    expect(policyHref).toBe(`v1/policies/${chio.authz.policyHash}`);
    expect((await fetch(`${chio.verifierUrl}/${policyHref}`)).status).toBe(200);
    expect(await page.getAttribute('#checkpoint-status', 'data-status')).toBe('holds');
    expect(await page.textContent('#checkpoint')).toContain('chio.local/receipts');
    // The chart counts both decisions made above (in one or two minutes).
    const columns = await page.$$eval('#chart g[data-minute]', (gs) => gs.map((g) => ({ allow: Number(g.getAttribute('data-allow')), deny: Number(g.getAttribute('data-deny')) })));
    // Counted as answered: the shadow receipt as allow, the corrected receipt as its correction's deny.
    expect(columns.reduce((s, c) => ({ allow: s.allow + c.allow, deny: s.deny + c.deny }), { allow: 0, deny: 0 })).toEqual({ allow: 2, deny: 2 });
    const shadowed = await page.$$eval('#chart g[data-minute]', (gs) => gs.reduce((n, g) => n + Number(g.getAttribute('data-shadow-deny')), 0));
    expect(shadowed).toBe(1);
    await page.screenshot({ path: join(ARTIFACTS, 'explorer-verified.png'), fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('shows a denied receipt with its guard and reason', async () => {
    const { page } = await openPage();
    await lookUp(page, denyId);
    expect(await page.getAttribute('#result', 'data-state')).toBe('verified');
    const fields = await page.textContent('#fields');
    expect(fields).toContain('deny');
    expect(fields).toContain('Policy');
    expect(fields).toContain('401');
    await page.close();
  });

  it('shows a shadow-mode receipt as answered allow, with its would-be verdict beside it', async () => {
    const { page, problems } = await openPage();
    await lookUp(page, shadowId);
    expect(await page.getAttribute('#result', 'data-state')).toBe('verified');
    const fields = await shownFields(page);
    expect(fields.verdict).toMatch(/^allow\b/);
    expect(fields.verdict).toContain('shadow mode');
    expect(await page.getAttribute('#fields dd[data-verdict]', 'data-verdict')).toBe('allow');
    expect(fields['shadow verdict']).toMatch(/^deny 403 by Policy\b/);
    expect(fields['shadow verdict']).toContain('not enforced');
    // Nothing presents the would-be deny as the answer: no plain deny status, guard or reason.
    expect(fields).not.toHaveProperty('http status');
    expect(fields).not.toHaveProperty('guard');
    expect(fields['shadow reason']).toBeTruthy();
    await page.screenshot({ path: join(ARTIFACTS, 'explorer-shadow.png'), fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('shows a corrected receipt with the answer given, deny 503 ReceiptLedger, once its correction verifies here', async () => {
    const { page, problems } = await openPage();
    await lookUp(page, correctedId);
    expect(await page.getAttribute('#result', 'data-state')).toBe('verified');
    expect(await checkStatuses(page)).toMatchObject({ correction: 'holds', inclusion: 'holds', 'receipt.signature': 'holds' });
    const fields = await shownFields(page);
    expect(fields.verdict).toMatch(/^deny 503 by ReceiptLedger\b/);
    expect(await page.getAttribute('#fields dd[data-verdict]', 'data-verdict')).toBe('deny');
    expect(fields.decided).toMatch(/^allow\b/);
    expect(fields.decided).toContain('not the answer given');
    expect(fields['corrected by']).toContain(correctionId);
    expect(await page.getAttribute('#fields a[href^="./?id="]', 'href')).toBe(`./?id=${correctionId}`);
    await page.screenshot({ path: join(ARTIFACTS, 'explorer-corrected.png'), fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('never shows a corrected receipt as a plain allow when its correction does not verify', async () => {
    for (const change of [
      // The correction served with its verdict changed: its id and signature fail.
      (page: Page) => tamper(page, correctionId, (answer) => (answer.receipt.decision.http_status = 200)),
      // The verifier names, as the correction, a receipt that corrects nothing.
      (page: Page) => tamper(page, correctedId, (answer) => (answer.corrected_by = shadowId)),
    ]) {
      const { page } = await openPage();
      await change(page);
      await lookUp(page, correctedId);
      expect(await page.getAttribute('#result', 'data-state')).toBe('failed');
      expect(await checkStatuses(page)).toMatchObject({ correction: 'fails', inclusion: 'holds' });
      const fields = await shownFields(page);
      expect(fields.verdict).not.toMatch(/^allow\b/);
      expect(await page.getAttribute('#fields dd[data-verdict]', 'data-verdict')).toBe('unknown');
      await page.close();
    }
  });

  it('shows a correction as a correction: the answer deny 503 given for the receipt it corrects', async () => {
    const { page } = await openPage();
    await lookUp(page, correctionId);
    expect(await page.getAttribute('#result', 'data-state')).toBe('verified');
    const fields = await shownFields(page);
    expect(fields.verdict).toMatch(/^deny 503 by ReceiptLedger\b/);
    expect(fields['correction of']).toContain(correctedId);
    expect(fields['correction of']).toContain('answered deny 503');
    expect(await page.getAttribute('#fields a[href^="./?id="]', 'href')).toBe(`./?id=${correctedId}`);
    await page.close();
  });

  it('turns inclusion red when the served inclusion proof is tampered with', async () => {
    const { page } = await openPage();
    await tamper(page, allowId, (answer) => {
      const first = answer.inclusion_proof[0]!;
      answer.inclusion_proof[0] = (first[0] === 'A' ? 'B' : 'A') + first.slice(1);
    });
    await lookUp(page, allowId);
    expect(await page.getAttribute('#result', 'data-state')).toBe('failed');
    expect(await page.textContent('#banner')).toContain('Does NOT verify');
    expect(await checkStatuses(page)).toMatchObject({ inclusion: 'fails', 'receipt.signature': 'holds', 'checkpoint.signature': 'holds' });
    await page.screenshot({ path: join(ARTIFACTS, 'explorer-tampered-proof.png'), fullPage: true });
    await page.close();
  });

  it('turns the id and signature red when the served receipt is tampered with', async () => {
    const { page } = await openPage();
    await tamper(page, denyId, (answer) => (answer.receipt.decision.verdict = 'allow'));
    await lookUp(page, denyId);
    expect(await page.getAttribute('#result', 'data-state')).toBe('failed');
    expect(await checkStatuses(page)).toMatchObject({ 'receipt.id': 'fails', 'receipt.signature': 'fails', inclusion: 'fails', 'checkpoint.signature': 'holds' });
    await page.close();
  });

  it('checks with the keys pinned in the URL instead of the verifier\'s: another log key turns the checkpoints red', async () => {
    const { page } = await openPage();
    const keys = (await (await fetch(`${chio.verifierUrl}/v1/keys`)).json()) as { log: string; kernels: string[] };
    const otherLog = generateSignerKey('chio.local/receipts', () => new Uint8Array(32).fill(9)).verifierKey;
    const pin = (log: string) => `&log_key=${encodeURIComponent(log)}&kernel_key=${encodeURIComponent(keys.kernels[0]!)}`;
    await page.goto(`${chio.verifierUrl}/?id=${allowId}${pin(otherLog)}`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
    expect(await page.textContent('#trust-source')).toContain('pinned');
    expect(await page.getAttribute('#checkpoint-status', 'data-status')).toBe('fails');
    expect(await checkStatuses(page)).toMatchObject({ 'checkpoint.signature': 'fails', inclusion: 'skipped', 'receipt.signature': 'holds' });
    await page.goto(`${chio.verifierUrl}/?id=${allowId}${pin(keys.log)}`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
    expect(await page.getAttribute('#result', 'data-state')).toBe('verified');
    await page.close();
  });

  it('uses a log key pinned alone in the URL (a kernel key from the verifier does not unpin it)', async () => {
    const { page } = await openPage();
    const otherLog = generateSignerKey('chio.local/receipts', () => new Uint8Array(32).fill(9)).verifierKey;
    await page.goto(`${chio.verifierUrl}/?id=${allowId}&log_key=${encodeURIComponent(otherLog)}`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
    expect(await page.textContent('#trust-source')).toBe("log key pinned by this page's URL; kernel keys as served by this verifier at /v1/keys");
    expect(await page.getAttribute('#checkpoint-status', 'data-status')).toBe('fails');
    expect(await checkStatuses(page)).toMatchObject({ 'checkpoint.signature': 'fails', inclusion: 'skipped', 'receipt.signature': 'holds' });
    await page.close();
  });

  it('says so when the id is unknown or malformed', async () => {
    const { page } = await openPage();
    await lookUp(page, 'ab'.repeat(32));
    expect(await page.getAttribute('#result', 'data-state')).toBe('error');
    expect(await page.textContent('#banner')).toContain('404');
    await lookUp(page, 'not-an-id');
    expect(await page.getAttribute('#result', 'data-state')).toBe('error');
    // What is wrong, in the words `chio prove` uses (receipt-id.ts), not only what an id is.
    expect(await page.textContent('#banner')).toBe(`That receipt id has "n" at character 1, which is no hex digit; ${RECEIPT_ID_FORM}.`);
    await lookUp(page, 'AB'.repeat(32));
    expect(await page.textContent('#banner')).toContain(`has upper-case letters; receipt ids are lower case: ${'ab'.repeat(32)}`);
    await page.close();
  });

  it('shows bidi controls and invisible characters in a receipt as visible escapes, so a signed field cannot read as something else', async () => {
    // The source principal is the caller's (Envoy's source.principal): only C0 controls are
    // refused, so a right-to-left override gets into a signed, verifying receipt. Shown raw,
    // "…/sa/\u202Enimda 10.0.0.2:51234" reads "…/sa/43215:2.0.0.01 admin".
    const spoofId = await check('/tools/hello', 'POST', {}, 'spiffe://cluster.local/ns/agents/sa/\u202Enimda\u200B\u2066');
    await publishedAtLeast(6);
    const { page, problems } = await openPage();
    await lookUp(page, spoofId);
    expect(await page.getAttribute('#result', 'data-state')).toBe('verified');
    const hidden = /[\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/u;
    const fields = await shownFields(page);
    expect(fields['source principal']).not.toMatch(hidden);
    expect(fields['source principal']).toBe('spiffe://cluster.local/ns/agents/sa/\\u{202e}nimda\\u{200b}\\u{2066}');
    expect(fields['source address']).toBe('10.0.0.2:51234');
    const json = (await page.textContent('#receipt-json'))!;
    expect(json).not.toMatch(hidden);
    expect(json).toContain('sa/\\u{202e}nimda');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('says a receipt nested too deeply to print does not verify, rather than stopping half-way', async () => {
    const { page } = await openPage();
    // A hostile verifier's answer: JSON.parse takes any depth, JSON.stringify of it overflows the stack.
    const depth = 50_000;
    await page.route(`**/v1/receipts/${allowId}`, async (route) => {
      const response = await route.fetch();
      const text = await response.text();
      await route.fulfill({ response, body: text.replace('{"receipt":{', `{"receipt":{"deep":${'['.repeat(depth)}${']'.repeat(depth)},`) });
    });
    await lookUp(page, allowId);
    expect(await page.textContent('#error')).toBe('');
    expect(await page.getAttribute('#result', 'data-state')).toBe('failed');
    expect(await checkStatuses(page)).toMatchObject({ 'receipt.form': 'fails' });
    expect(await page.textContent('#receipt-json')).toContain('not shown');
    await page.close();
  });
});

/** Change what the verifier answers for GET /v1/receipts/<id> on its way to the page. */
async function tamper(page: Page, id: string, change: (answer: ReceiptProof) => void): Promise<void> {
  await page.route(`**/v1/receipts/${id}`, async (route) => {
    const response = await route.fetch();
    const answer = (await response.json()) as ReceiptProof;
    change(answer);
    await route.fulfill({ response, json: answer });
  });
}
