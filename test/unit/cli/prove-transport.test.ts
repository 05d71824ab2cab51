/**
 * How `chio prove` reaches its verifier: a kept-alive connection the server closed just as it was
 * reused (ECONNRESET, "other side closed") costs one more try on another connection, not the
 * command; and a --url with a path (a verifier behind a gateway's prefix) keeps it in every
 * request.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { NO_SUCH_ROUTE, isChioError } from '../../../src/errors/index.js';
import { proveReceipt, type ProveOptions } from '../../../src/cli/prove.js';
import { generateSignerKey } from '../../../src/tlog/index.js';
import { chainOf, kernelOf } from '../receipt/helpers.js';
import { receiptProofOf } from '../verify/proofs.js';
import { keepAliveAnswer, resettingServer } from '../../support/resetting-server.js';

const LOG = generateSignerKey('chio.local/receipts', () => new Uint8Array(32).fill(71));
const KERNEL = kernelOf(72);
const RECEIPTS = chainOf(2, KERNEL);
const ID = RECEIPTS[1]!.id;
const PENDING = JSON.stringify({ error: 'stored, not yet in a checkpoint', code: 'PENDING' });

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

const options = (verifierUrl: string, waitMs = 5_000): ProveOptions => ({ verifierUrl, logKey: LOG.verifierKey, kernelKeys: [KERNEL.verifierKey], waitMs });

/**
 * A verifier that answers 202 pending on the first connection, the proof on any other, and
 * resets a connection for a request `resets` holds for (see test/support/resetting-server.ts).
 */
async function resettingVerifier(resets: (connection: number, request: number) => boolean): Promise<{ url: string; log: string[] }> {
  const body = JSON.stringify(await receiptProofOf(RECEIPTS, 1, LOG.signerKey));
  const server = await resettingServer((connection) => (connection === 1 ? keepAliveAnswer(202, PENDING) : keepAliveAnswer(200, body)), resets);
  closers.push(server.close);
  return server;
}

describe('chio prove and a kept-alive connection reset as it is reused', () => {
  const path = `/v1/receipts/${ID}`;

  it('sends the GET once more, on a new connection, and proves the receipt', async () => {
    const verifier = await resettingVerifier((connection, request) => connection === 1 && request === 2);
    const proven = await proveReceipt(ID, options(verifier.url));
    expect(proven.receipt.id).toBe(ID);
    expect(verifier.log).toEqual([`connection 1 request 1: ${path}`, `connection 1 request 2: ${path}`, `connection 2 request 1: ${path}`]);
  });

  it('sends it once more only: reset again, the verifier is said to be unreachable', async () => {
    const verifier = await resettingVerifier((connection, request) => connection > 1 || request > 1);
    const err = await proveReceipt(ID, options(verifier.url)).then(() => undefined, (e: unknown) => e);
    expect(isChioError(err, 'UNAVAILABLE')).toBe(true);
    expect((err as Error).message).toContain('cannot reach the verifier');
    expect(verifier.log).toEqual([`connection 1 request 1: ${path}`, `connection 1 request 2: ${path}`, `connection 2 request 1: ${path}`]);
  });
});

describe('chio prove --url with a path', () => {
  /** A verifier that answers only under `/chio/` (a gateway's prefix), 404 elsewhere. */
  async function prefixed(): Promise<{ url: string; asked: string[] }> {
    const body = JSON.stringify(await receiptProofOf(RECEIPTS, 1, LOG.signerKey));
    const asked: string[] = [];
    const server: Server = createHttpServer((req, res) => {
      asked.push(req.url ?? '');
      const ok = req.url === `/chio/v1/receipts/${ID}`;
      res.writeHead(ok ? 200 : 404, { 'content-type': 'application/json' }).end(ok ? body : JSON.stringify({ error: NO_SUCH_ROUTE, code: 'NOT_FOUND' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, asked };
  }

  it.each(['/chio/', '/chio'])('asks under the prefix (%s)', async (prefix) => {
    const verifier = await prefixed();
    const proven = await proveReceipt(ID, options(`${verifier.url}${prefix}`, 0));
    expect(proven.receipt.id).toBe(ID);
    expect(verifier.asked).toEqual([`/chio/v1/receipts/${ID}`]);
  });

  it('asks for the checkpoint under the prefix too, and names the --url it was given', async () => {
    const verifier = await prefixed();
    const err = await proveReceipt(ID, options(`${verifier.url}/wrong/`, 0)).then(() => undefined, (e: unknown) => e);
    expect(isChioError(err, 'NOT_FOUND')).toBe(true);
    expect(verifier.asked).toEqual([`/wrong/v1/receipts/${ID}`, '/wrong/checkpoint']);
    expect((err as Error).message).toContain(`--url ${verifier.url}/wrong/ does not look like a Chio verifier`);
  });
});
