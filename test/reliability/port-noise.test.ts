/**
 * Random bytes on every port (issue #12): the gRPC port and the HTTP ports of authz, ledger and
 * verifier each get random byte strings, an HTTP/2 preface followed by garbage, oversized and
 * malformed HTTP/1.1 requests, and connections left half-written then cut. The services stay
 * up (an uncaught error would fail this file), and afterwards a real Check is allowed with a
 * receipt that is proven, and every /health answers 200.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { startTestNats, tempDir, type TestNats } from '../support/nats.js';
import { startTestChio, testConfig, type TestChio } from '../support/chio.js';
import { buildCheckRequest } from '../../src/cli/envoy-request.js';
import { sendCheck } from '../../src/cli/check.js';
import { proveReceipt } from '../../src/cli/prove.js';
import { demoToken } from '../../src/up.js';

let nats: TestNats;
let chio: TestChio;
let dataDir: string;

const HTTP2_PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';

/** Write `data` to 127.0.0.1:`port`, read whatever comes back for a moment, then cut the connection. */
function poke(port: number, data: Uint8Array | string, linger = 30): Promise<void> {
  return new Promise((done) => {
    const socket = connect({ host: '127.0.0.1', port });
    const finish = () => {
      socket.destroy();
      done();
    };
    socket.on('error', finish);
    socket.on('connect', () => {
      socket.write(data);
      setTimeout(finish, linger);
    });
    socket.on('data', () => undefined);
  });
}

const noise = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 4096 }),
  fc.uint8Array({ maxLength: 2048 }).map((b) => new Uint8Array([...new TextEncoder().encode(HTTP2_PREFACE), ...b])),
  fc.string({ maxLength: 200 }).map((s) => `GET /${s} HTTP/1.1\r\nHost: x\r\n\r\n`),
  fc.nat({ max: 200_000 }).map((n) => `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(n)}\r\n\r\n`),
  fc.string({ maxLength: 100 }).map((s) => `POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n${s}`),
  fc.constant(`GET /v1/receipts/${'a'.repeat(64)} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzzzz\r\n`),
);

beforeAll(async () => {
  nats = await startTestNats();
  dataDir = tempDir('chio-port-noise-');
  chio = await startTestChio(testConfig(dataDir, nats.current.url));
});

afterAll(async () => {
  await chio?.stop();
  await nats?.cleanup();
});

describe('random bytes on every port', () => {
  it('leave every service up, answering and proving', async () => {
    const ports = { grpc: chio.authz.grpcPort, authz: chio.authz.httpPort, ledger: chio.ledger.httpPort, verifier: Number(new URL(chio.verifierUrl).port) };
    for (const port of Object.values(ports)) {
      await fc.assert(fc.asyncProperty(noise, (data) => poke(port, data)), { numRuns: Number(process.env.FUZZ_RUNS ?? 60) });
    }

    const token = demoToken(chio.config);
    const answer = await sendCheck(chio.grpcAddr, buildCheckRequest({ method: 'POST', path: '/tools/hello', host: 'tools.chio.local', headers: { 'x-chio-capability-token': token } }));
    expect(answer.verdict).toBe('allow');
    const key = (name: string) => readFileSync(join(dataDir, 'keys', name), 'utf8').trim();
    const proven = await proveReceipt(answer.receiptId!, { verifierUrl: chio.verifierUrl, logKey: key('log.pub'), kernelKeys: [key('kernel.pub')], waitMs: 10_000 });
    expect(proven.receipt.id).toBe(answer.receiptId);
    for (const [name, port] of Object.entries(ports)) {
      if (name === 'grpc') continue;
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      expect(health.status, `${name} /health`).toBe(200);
    }
  });
});
