/**
 * The explorer page behind a gateway that serves the verifier under a path prefix
 * (https://gw.example/chio/ → the verifier's /), in headless Chromium: a tiny node:http proxy
 * strips `/chio` and answers 404 for anything outside it, as such a gateway does. The page must
 * reach its own API, script, checkpoint, entry bundles and links under the prefix, with no
 * setting telling it the prefix.
 *
 * Needs Debian's chromium at /usr/bin/chromium (`.ci/run` installs it).
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../support/browser.js';
import { buildExplorer } from '../../scripts/build-explorer.js';
import { allowTools } from '../support/policies.js';
import { startScenario, type Scenario } from '../support/scenario.js';

const PREFIX = '/chio';

let s: Scenario;
let proxy: Server;
/** The page's address behind the proxy: http://127.0.0.1:<port>/chio/ */
let pageUrl: string;
let browser: Browser;
let denyId: string;

/** Forwards `/chio/…` to the verifier as `/…`; anything else is not the verifier's: 404. */
function startPrefixProxy(target: URL): Promise<Server> {
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    if (!path.startsWith(`${PREFIX}/`)) return void res.writeHead(404).end('not under the prefix');
    const upstream = request({ host: target.hostname, port: target.port, method: req.method, path: path.slice(PREFIX.length), headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

beforeAll(async () => {
  await buildExplorer();
  s = await startScenario(allowTools('"/tools/*"'));
  denyId = (await s.check({ method: 'DELETE', path: '/admin' })).receiptId!;
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${s.chio.verifierUrl}/checkpoint`);
    if (res.status === 200 && Number((await res.text()).split('\n')[1]) >= 1) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  proxy = await startPrefixProxy(new URL(s.chio.verifierUrl));
  pageUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}${PREFIX}/`;
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => (proxy ? proxy.close(r) : r(undefined)));
  await s?.stop();
});

/** The page at `url`, with every answer of 400 or more, console error and exception it met. */
async function open(url: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('console', (m) => void (m.type() === 'error' && problems.push(m.text())));
  page.on('pageerror', (e) => problems.push(String(e)));
  page.on('response', (r) => void (r.status() >= 400 && problems.push(`${r.status()} ${r.url()}`)));
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
  return { page, problems };
}

describe('the explorer page under a path prefix', { timeout: 90_000 }, () => {
  it('loads a receipt and its proof, the checkpoint and the chart through the prefix', async () => {
    const { page, problems } = await open(`${pageUrl}?id=${denyId}`);
    expect(await page.getAttribute('#result', 'data-state')).toBe('verified');
    expect(await page.getAttribute('#checks li[data-check="inclusion"]', 'data-status')).toBe('holds');
    expect(await page.getAttribute('#checkpoint-status', 'data-status')).toBe('holds');
    expect(await page.textContent('#chart-note')).toMatch(/^The last 1 leaves/);
    // The policy link leads to the policy set through the prefix too.
    const policy = await page.$eval('#fields a', (a) => (a as HTMLAnchorElement).href);
    expect(policy).toBe(`${pageUrl}v1/policies/${s.chio.authz.policyHash}`);
    expect((await fetch(policy)).status).toBe(200);
    expect(problems).toEqual([]);
    await page.close();
  });

  it("names the paths the browser requested under the prefix when the verifier's keys cannot be read", async () => {
    const page = await browser.newPage();
    await page.route(`**${PREFIX}/v1/keys`, (route) => route.fulfill({ status: 502, body: 'bad gateway' }));
    await page.goto(pageUrl);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
    expect(await page.textContent('#error')).toBe(`The page could not read the verifier's keys: GET ${PREFIX}/v1/keys answered 502.`);
    await page.close();
  });

  it('names the paths the browser requested under the prefix when a receipt or the checkpoint cannot be read', async () => {
    const keys = (await (await fetch(`${pageUrl}v1/keys`)).json()) as { log: string; kernels: string[] };
    const page = await browser.newPage();
    const unknown = 'f'.repeat(64);
    await page.route(`**${PREFIX}/checkpoint`, (route) => route.fulfill({ status: 503, body: '' }));
    await page.route(`**${PREFIX}/v1/receipts/${unknown}`, (route) => route.fulfill({ status: 404, contentType: 'application/json', body: JSON.stringify({ error: 'no such receipt', code: 'NOT_FOUND' }) }));
    await page.goto(`${pageUrl}?id=${unknown}&log_key=${encodeURIComponent(keys.log)}&kernel_key=${encodeURIComponent(keys.kernels[0]!)}`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
    expect(await page.textContent('#checkpoint-status')).toBe(`The latest checkpoint could not be read: GET ${PREFIX}/checkpoint answered 503.`);
    expect(await page.textContent('#banner')).toBe(`The receipt could not be read: GET ${PREFIX}/v1/receipts/${unknown} answered 404: no such receipt.`);
    await page.close();
  });

  it("says where the keys came from as the browser requested them", async () => {
    const { page, problems } = await open(pageUrl);
    expect(await page.textContent('#trust-source')).toBe(`as served by this verifier at ${PREFIX}/v1/keys`);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('looks an id up from the form without leaving the prefix', async () => {
    const { page, problems } = await open(pageUrl);
    await page.fill('#id', denyId);
    await Promise.all([page.waitForURL(`${pageUrl}?id=${denyId}`), page.click('button[type="submit"]')]);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
    expect(await page.getAttribute('#result', 'data-state')).toBe('verified');
    expect(problems).toEqual([]);
    await page.close();
  });
});
