/**
 * The explorer page showing receipts whose text an attacker wrote, in headless Chromium: a CEL
 * policy that denies with a reason quoting a request header (`.WithMessage`), and a caller's
 * source principal, both reaching signed, verifying receipts through a real chio. Markup,
 * scripts and `javascript:` URLs must stay text; characters that draw nothing must be shown as
 * escapes, so a reason or a principal cannot read as another; long values must stay inside
 * the page.
 *
 * Needs Debian's chromium at /usr/bin/chromium (`.ci/run` installs it).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../support/browser.js';
import { buildExplorer } from '../../scripts/build-explorer.js';
import { startScenario, type Scenario } from '../support/scenario.js';
import { REPO_ROOT } from '../support/chio.js';

const ARTIFACTS = join(REPO_ROOT, 'test/artifacts');


/** Denies any request with `x-evil`, its reason quoting the header as sent. */
const POLICIES = `
apiVersion: policies.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata: { name: echo-evil }
spec:
  evaluation: { mode: Envoy }
  validations:
  - expression: >
      object.attributes.request.http.headers[?"x-evil"].hasValue()
        ? envoy.Denied(403).Response().WithMessage("evil " + object.attributes.request.http.headers["x-evil"])
        : envoy.Allowed().Response()
`;

const MARKUP = `<script>window.pwned=1</script>"><img src=x onerror="window.pwned=2"> <a href="javascript:window.pwned=3">x</a>`;

let s: Scenario;
let browser: Browser;
let published = 0;
beforeAll(async () => {
  await buildExplorer();
  mkdirSync(ARTIFACTS, { recursive: true });
  s = await startScenario(POLICIES);
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await s?.stop();
});

/** A Check's receipt id, once a published checkpoint covers it. */
async function receiptOf(o: Parameters<Scenario['check']>[0]): Promise<string> {
  const answer = await s.check(o);
  published++;
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${s.chio.verifierUrl}/checkpoint`);
    if (res.status === 200 && Number((await res.text()).split('\n')[1]) >= published) return answer.receiptId!;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no checkpoint of ${published} leaves was published`);
}

/** The page of `id`, verified in the browser, with what went wrong on it (errors, dialogs). */
async function shown(id: string): Promise<{ page: Page; problems: string[]; fields: Record<string, string> }> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 1400 } });
  const problems: string[] = [];
  page.on('console', (m) => void (m.type() === 'error' && problems.push(m.text())));
  page.on('pageerror', (e) => problems.push(String(e)));
  page.on('dialog', (d) => void problems.push(`dialog: ${d.message()}`));
  await page.goto(`${s.chio.verifierUrl}/?id=${id}`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
  expect(await page.getAttribute('#result', 'data-state')).toBe('verified');
  const fields = await page.$$eval('#fields dt', (dts) => Object.fromEntries(dts.map((dt) => [dt.textContent, dt.nextElementSibling?.textContent ?? ''])));
  return { page, problems, fields };
}

describe('the explorer page showing what an attacker wrote into a receipt', { timeout: 90_000 }, () => {
  it('shows markup, scripts and javascript: URLs as text: nothing runs, and no element or link is made of them', async () => {
    const id = await receiptOf({ method: 'POST', path: '/x/<script>', headers: { 'x-evil': MARKUP }, principal: `spiffe://c/ns/a/sa/${MARKUP.slice(0, 60)}` });
    const { page, problems, fields } = await shown(id);
    expect(fields.reason).toBe(`evil ${MARKUP}`);
    expect(fields['source principal']).toContain('"><img src=x onerror=');
    await page.click('#result summary');
    expect(await page.evaluate(() => (window as { pwned?: unknown }).pwned)).toBeUndefined();
    expect(await page.$$eval('main img, main script, main iframe, main object', (found) => found.length)).toBe(0);
    // The only links are the page's own: the policy set and other receipts.
    for (const href of await page.$$eval('main a', (links) => links.map((a) => a.getAttribute('href')))) expect(href).toMatch(/^(v1\/policies\/sha256:[0-9a-f]{64}|\.\/\?id=[0-9a-f]{64})$/);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('shows every character that draws nothing as an escape: word joiner, soft hyphen, tag characters, invisible operators', async () => {
    // Each reads "admin" when drawn: U+2060 word joiner, U+00AD soft hyphen, U+E0061 tag
    // latin small letter a, U+180E Mongolian vowel separator, U+2062 invisible times.
    const hidden = 'a\u2060d\u00adm\u{e0061}i\u180en\u2062';
    const id = await receiptOf({ headers: { 'x-evil': hidden }, principal: `spiffe://c/ns/a/sa/${hidden}` });
    const { page, problems, fields } = await shown(id);
    const invisible = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
    expect(fields.reason).toBe('evil a\\u{2060}d\\u{ad}m\\u{e0061}i\\u{180e}n\\u{2062}');
    expect(fields['source principal']).not.toMatch(invisible);
    await page.click('#result summary');
    // Its lines apart, the JSON holds none either.
    expect((await page.textContent('#receipt-json'))!.replaceAll('\n', '')).not.toMatch(invisible);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('marks non-ASCII letters that pass for ASCII ones, and styles its escapes apart from escapes typed as text', async () => {
    // Cyrillic а (U+0430) and fullwidth ａ (U+FF41): drawn, both principals read "…/sa/admin".
    const id = await receiptOf({ headers: { 'x-evil': 'p\u0430ypal typed \\u{202e} real \u202e' }, principal: 'spiffe://c/ns/a/sa/\u0430dm\uff49n' });
    const { page, problems, fields } = await shown(id);
    expect(fields['source principal']).toBe('spiffe://c/ns/a/sa/\u0430dm\uff49n');
    const marks = (field: string) =>
      page.$$eval(`#fields dd[data-field="${field}"] .non-ascii`, (found) => found.map((m) => [m.textContent, m.getAttribute('title')]));
    expect(await marks('source principal')).toEqual([
      ['\u0430', 'non-ASCII: U+0430'],
      ['\uff49', 'non-ASCII: U+FF49'],
    ]);
    expect(await marks('reason')).toEqual([['\u0430', 'non-ASCII: U+0430']]);
    // The escape the page made is an element of its own; the one the header typed is text.
    expect(fields.reason).toBe('evil p\u0430ypal typed \\u{202e} real \\u{202e}');
    expect(await page.$$eval('#fields dd[data-field="reason"] .escape', (found) => found.map((e) => [e.textContent, e.getAttribute('title')]))).toEqual([
      ['\\u{202e}', 'U+202E, shown as an escape: it draws nothing, reorders or breaks the text'],
    ]);
    await page.click('#result summary');
    expect(await page.$$eval('#receipt-json .non-ascii', (found) => found.map((m) => m.textContent))).toEqual(expect.arrayContaining(['\u0430', '\uff49']));
    // A signed note's "— " before each signature is the format's own, not marked.
    expect(await page.$$eval('#checkpoint .non-ascii', (found) => found.length)).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, 'explorer-marked.png'), fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  it("shows a non-ASCII host beside its ASCII (punycode) form, as a receipt that does not verify may record it", async () => {
    // chio records every host in its ASCII form (decision/host.ts): only a receipt changed on
    // its way to the page can hold another, and the page shows its fields all the same.
    const id = await receiptOf({ path: '/homoglyph' });
    const page = await browser.newPage();
    await page.route(`**/v1/receipts/${id}`, async (route) => {
      const answer = (await (await route.fetch()).json()) as { receipt: { request: { host: string } } };
      answer.receipt.request.host = '\u0430dmin.example.com';
      await route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(answer) });
    });
    await page.goto(`${s.chio.verifierUrl}/?id=${id}`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
    expect(await page.getAttribute('#result', 'data-state')).toBe('failed');
    expect(await page.textContent('#fields dd[data-field="request"]')).toBe('GET \u0430dmin.example.com (ASCII form: xn--dmin-43d.example.com) /homoglyph');
    expect(await page.$$eval('#fields dd[data-field="request"] .non-ascii', (found) => found.map((m) => m.textContent))).toEqual(['\u0430']);
    await page.close();
  });

  it('says that a long path is cut, and keeps it, a long principal and a reason inside the page width', async () => {
    // A receipt records the first 2,048 characters of the path (path_truncated): shown bare,
    // "/public/<2,040 characters>" reads as the whole path of a request that went on to "/admin".
    const path = `/public/${'p'.repeat(2_040)}/admin/delete`;
    const id = await receiptOf({ path, principal: `spiffe://c/ns/a/sa/${'s'.repeat(900)}`, headers: { 'x-evil': 'r'.repeat(400) } });
    const { page, problems, fields } = await shown(id);
    expect(fields.request).not.toContain('/admin');
    expect(fields.request).toMatch(/^cut: only the start of the path is recorded \(path_sha256 is the SHA-256 of the whole\) GET svc\.example\.com \/public\/p+$/);
    await page.click('#result summary');
    const width = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
    expect(width.scroll).toBeLessThanOrEqual(width.client);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('shows the source principal and address apart: a principal with a space cannot pass for an address', async () => {
    const principal = 'spiffe://c/ns/a/sa/x 10.9.9.9:1';
    const id = await receiptOf({ principal });
    const { page, fields } = await shown(id);
    expect(fields['source principal']).toBe(principal);
    expect(fields['source address']).toMatch(/^[0-9.:[\]a-f]+$/);
    expect(fields['source address']).not.toContain('10.9.9.9');
    await page.close();
  });

  it("shows pinned keys and the checkpoint's lines with every character that draws nothing escaped", async () => {
    const keys = (await (await fetch(`${s.chio.verifierUrl}/v1/keys`)).json()) as { log: string };
    const note = await (await fetch(`${s.chio.verifierUrl}/checkpoint`)).text();
    const page = await browser.newPage();
    // A signature line of another key, past the signed body: the server's to write.
    await page.route('**/checkpoint', (route) => route.fulfill({ status: 200, contentType: 'text/plain; charset=utf-8', body: `${note}\u2014 other\u202Ekey AAAAAA==\n` }));
    // A key holding a right-to-left override, as a link someone else wrote could pin it.
    await page.goto(`${s.chio.verifierUrl}/?log_key=${encodeURIComponent(keys.log)}&kernel_key=${encodeURIComponent('chio-kernel+\u202Eabc+xyz')}`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
    const invisible = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
    expect(await page.textContent('#keys')).toContain('chio-kernel+\\u{202e}abc+xyz');
    expect((await page.textContent('#keys'))!).not.toMatch(invisible);
    expect(await page.textContent('#checkpoint')).toContain('other\\u{202e}key');
    expect((await page.textContent('#checkpoint'))!.replaceAll('\n', '')).not.toMatch(invisible);
    await page.close();
  });

  it('says nothing is cut of a path recorded whole', async () => {
    const id = await receiptOf({ path: `/public/${'p'.repeat(2_000)}` });
    const { page, fields } = await shown(id);
    expect(fields.request).toBe(`GET svc.example.com /public/${'p'.repeat(2_000)}`);
    await page.close();
  });
});
