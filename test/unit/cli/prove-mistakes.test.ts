/**
 * `chio prove` given what a person easily gets wrong: an id that is no receipt id (said in
 * words, before anything is sent), a verifier's error answer (its text and code, not its JSON),
 * and a --url that is no verifier (authz's HTTP port, anything else that answers 404).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isChioError, statusOf } from '../../../src/errors/index.js';
import { proveReceipt, type ProveOptions } from '../../../src/cli/prove.js';
import { startHttpServer, type RunningHttpServer } from '../../../src/http.js';
import { createLogger } from '../../../src/log.js';
import { generateSignerKey } from '../../../src/tlog/index.js';
import { chainOf, kernelOf } from '../receipt/helpers.js';
import { chio } from '../../support/chio-cli.js';
import { tempDir } from '../../support/nats.js';

const KERNEL = kernelOf(61);
const ID = chainOf(1, KERNEL)[0]!.id;
const LOG_KEY = generateSignerKey('chio.local/receipts', () => new Uint8Array(32).fill(62)).verifierKey;

/** A server answering every request with `status` and `body`; the paths asked are in `asked`. */
async function answering(answer: (path: string) => { status: number; body: string; type?: string }): Promise<{ url: string; asked: string[]; server: Server }> {
  const asked: string[] = [];
  const server = createServer((req, res) => {
    asked.push(req.url ?? '');
    const { status, body, type } = answer(req.url ?? '');
    res.writeHead(status, { 'content-type': type ?? 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, asked, server };
}

const servers: Server[] = [];
const chioPorts: RunningHttpServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise<void>((resolve) => s.close(() => resolve()));
  for (const h of chioPorts.splice(0)) await h.stop();
});

const options = (verifierUrl: string): ProveOptions => ({ verifierUrl, logKey: LOG_KEY, kernelKeys: [KERNEL.verifierKey], waitMs: 0 });

/** What proveReceipt fails with. */
async function failure(id: string, opts: ProveOptions): Promise<{ code: string; message: string }> {
  const err = await proveReceipt(id, opts).then(() => undefined, (e: unknown) => e);
  if (!isChioError(err)) throw new Error(`expected a ChioError, got ${String(err)}`);
  return { code: err.code, message: err.message };
}

describe('chio prove <id> with an id that is no receipt id', () => {
  it.each([
    ['upper-case hex', ID.toUpperCase(), `has upper-case letters; receipt ids are lower case: ${ID}`],
    ['one digit short', ID.slice(0, 63), 'is 63 hex digits, not 64 (cut short'],
    ['one digit long', `${ID}0`, 'is 65 hex digits, not 64'],
    ['pasted with its header', `x-chio-receipt-id: ${ID}`, 'has "x" at character 1, which is no hex digit'],
    ['a UUID (a capability id)', 'b8948f65-0f45-43ca-a652-5ec04481f539', 'is a UUID (a capability or request id?)'],
    ['empty', '', 'is empty'],
  ])('says what is wrong (%s) and asks no verifier', async (_what, id, said) => {
    const verifier = await answering(() => ({ status: 400, body: '{"error":"a receipt id is 64 lower-case hex digits","code":"MALFORMED"}' }));
    const { code, message } = await failure(id, options(verifier.url));
    expect(code).toBe('CONFIG_INVALID');
    expect(message).toContain(said);
    expect(message).toContain('a receipt id is 64 lower-case hex digits');
    expect(verifier.asked).toEqual([]);
  });

  it('exits 2 from the command line, as for any bad argument', async () => {
    const verifier = await answering(() => ({ status: 400, body: '{}' }));
    const err = await chio('prove', ID.slice(1), '--url', verifier.url, '--log-key', LOG_KEY, '--kernel-key', KERNEL.verifierKey).then(() => undefined, (e: unknown) => e);
    expect(isChioError(err, 'CONFIG_INVALID')).toBe(true);
    expect(statusOf('CONFIG_INVALID').exit).toBe(2);
  });

  it('says so before it looks for keys: with none in CHIO_KEY_DIR, the id is what is wrong', async () => {
    vi.stubEnv('CHIO_KEY_DIR', tempDir('chio-prove-no-keys-'));
    try {
      const err = await chio('prove', ID.slice(1), '--url', 'http://127.0.0.1:9').then(() => undefined, (e: unknown) => e);
      expect(isChioError(err, 'CONFIG_INVALID')).toBe(true);
      expect((err as Error).message).toContain('that receipt id is 63 hex digits, not 64');
    } finally {
      vi.unstubAllEnvs();
    }
  });
});

describe("chio prove and the verifier's error answers", () => {
  it.each([
    [404, 'NOT_FOUND', 'no receipt with this id is stored'],
    [503, 'UNAVAILABLE', 'the ledger is behind; try again shortly'],
    [400, 'MALFORMED', 'size is a tree size: a decimal number from 1'],
  ])('says the %i answer as its error text and code, not as JSON', async (status, code, error) => {
    const verifier = await answering(() => ({ status, body: JSON.stringify({ error, code }) }));
    const said = await failure(ID, options(verifier.url));
    expect(said).toEqual({ code, message: `verifier answered ${status} ${code}: ${error}` });
    // The verifier's own 404: no need to ask whether it is one.
    expect(verifier.asked).toEqual([`/v1/receipts/${ID}`]);
  });

  it('quotes an answer that is no Chio error as it came (a proxy in between)', async () => {
    const proxy = await answering(() => ({ status: 502, body: 'Bad Gateway', type: 'text/plain' }));
    expect(await failure(ID, options(proxy.url))).toEqual({ code: 'UNAVAILABLE', message: 'verifier answered 502: Bad Gateway' });
  });
});

describe('chio prove --url that is no verifier', () => {
  const NOT_A_VERIFIER = /does not look like a Chio verifier: it has no GET \/v1\/receipts\/<id> nor GET \/checkpoint.*the verifier is http:\/\/127\.0\.0\.1:9093 unless CHIO_VERIFIER_PORT is set/;

  it("says so for another Chio HTTP port (authz's, 9090 by default), naming the verifier's default URL", async () => {
    // What authz's HTTP port is: /health, /ready, /metrics, and 404 for the rest.
    const authz = await startHttpServer({ bind: '127.0.0.1', port: 0, log: createLogger('silent'), ready: () => undefined });
    chioPorts.push(authz);
    const { code, message } = await failure(ID, options(`http://127.0.0.1:${authz.port}`));
    expect(code).toBe('NOT_FOUND');
    expect(message).toMatch(NOT_A_VERIFIER);
    expect(message).toContain(`http://127.0.0.1:${authz.port}`);
    expect(message).not.toContain('{');
  });

  it('says so for any other server that answers 404 to both', async () => {
    const other = await answering(() => ({ status: 404, body: '<html>Not Found</html>', type: 'text/html' }));
    const { code, message } = await failure(ID, options(other.url));
    expect(code).toBe('NOT_FOUND');
    expect(message).toMatch(NOT_A_VERIFIER);
    expect(other.asked).toEqual([`/v1/receipts/${ID}`, '/checkpoint']);
  });

  it('quotes the 404 as it came when GET /checkpoint is there: a verifier, whatever rewrote its 404', async () => {
    const verifier = await answering((path) => (path === '/checkpoint' ? { status: 200, body: 'chio.local/receipts\n1\nAAAA\n', type: 'text/plain' } : { status: 404, body: 'Not Found', type: 'text/plain' }));
    expect(await failure(ID, options(verifier.url))).toEqual({ code: 'NOT_FOUND', message: 'verifier answered 404: Not Found' });
  });
});
