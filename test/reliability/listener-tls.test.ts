/**
 * TLS and mutual TLS on Chio's listeners (CHIO_TLS_CERT, CHIO_TLS_KEY, CHIO_TLS_CLIENT_CA), with
 * real certificates made by openssl for this run: the authz gRPC port and every HTTP port
 * (authz, ledger, verifier) speak TLS only; with a client CA, a client without a certificate
 * that CA signed is refused at the handshake, on every port.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import * as grpc from '@grpc/grpc-js';
import { startTestNats, tempDir, type TestNats } from '../support/nats.js';
import { startTestChio, testConfig, type TestChio } from '../support/chio.js';
import { makeTestPki, type TestPki } from '../support/pki.js';
import { buildCheckRequest } from '../../src/cli/envoy-request.js';
import { checkClientCredentials, sendCheck } from '../../src/cli/check.js';

// Each Chio has its own NATS: two ledgers with different log keys cannot share one log.
let nats: TestNats;
let mutualNats: TestNats;
let pki: TestPki;
let tlsChio: TestChio;
let mutualChio: TestChio;

beforeAll(async () => {
  pki = makeTestPki();
  nats = await startTestNats();
  mutualNats = await startTestNats();
  const tls = { CHIO_TLS_CERT: pki.serverCert, CHIO_TLS_KEY: pki.serverKey };
  tlsChio = await startTestChio(testConfig(tempDir('chio-tls-'), nats.current.url, { ...tls, CHIO_CHAIN_ID: 'tls', CHIO_LANES: '1' }));
  mutualChio = await startTestChio(testConfig(tempDir('chio-mtls-'), mutualNats.current.url, { ...tls, CHIO_TLS_CLIENT_CA: pki.caCert, CHIO_CHAIN_ID: 'mtls', CHIO_LANES: '1' }));
});

afterAll(async () => {
  await tlsChio?.stop();
  await mutualChio?.stop();
  await nats?.cleanup();
  await mutualNats?.cleanup();
});

const request = () => buildCheckRequest({ method: 'POST', path: '/tools/x', host: 'tools.chio.local' });
const httpPorts = (chio: TestChio) => [chio.authz.httpPort, chio.ledger.httpPort, chio.verifier.httpPort];

interface ClientTls {
  ca?: string;
  cert?: string;
  key?: string;
}

/** GET /health over HTTPS trusting `tls.ca`; resolves the status, rejects when the connection fails. */
function httpsHealth(port: number, tls: ClientTls): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsGet({
      host: '127.0.0.1', servername: 'localhost', port, path: '/health', timeout: 5_000,
      ...(tls.ca ? { ca: readFileSync(tls.ca) } : {}), ...(tls.cert ? { cert: readFileSync(tls.cert) } : {}), ...(tls.key ? { key: readFileSync(tls.key) } : {}),
    }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

function plainHealth(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpGet({ host: '127.0.0.1', port, path: '/health', timeout: 5_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

/** A Check's gRPC failure code, or 'answered' when it got a CheckResponse. */
async function checkOutcome(addr: string, credentials: grpc.ChannelCredentials): Promise<number | 'answered'> {
  try {
    await sendCheck(addr, request(), 5_000, credentials);
    return 'answered';
  } catch (err) {
    return (err as grpc.ServiceError).code;
  }
}

describe('TLS (CHIO_TLS_CERT, CHIO_TLS_KEY)', () => {
  it('answers a Check from a client that trusts the CA, with a stored receipt', async () => {
    const answer = await sendCheck(tlsChio.grpcAddr, request(), 5_000, checkClientCredentials({ ca: pki.caCert }));
    expect(answer).toMatchObject({ verdict: 'deny', httpStatus: 401 });
    expect(answer.receiptId).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses a plain-text gRPC client', async () => {
    expect(await checkOutcome(tlsChio.grpcAddr, grpc.credentials.createInsecure())).toBe(grpc.status.UNAVAILABLE);
  });

  it('refuses a client that does not trust the server certificate', async () => {
    expect(await checkOutcome(tlsChio.grpcAddr, grpc.credentials.createSsl())).toBe(grpc.status.UNAVAILABLE);
  });

  it('serves every HTTP port over HTTPS only', async () => {
    for (const port of httpPorts(tlsChio)) {
      expect(await httpsHealth(port, { ca: pki.caCert })).toBe(200);
      await expect(plainHealth(port)).rejects.toThrow();
    }
  });
});

describe('mutual TLS (CHIO_TLS_CLIENT_CA)', () => {
  it('answers a Check from a client with a certificate the CA signed', async () => {
    const answer = await sendCheck(mutualChio.grpcAddr, request(), 5_000, checkClientCredentials({ ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey }));
    expect(answer).toMatchObject({ verdict: 'deny', httpStatus: 401 });
    expect(answer.receiptId).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses a gRPC client without a certificate', async () => {
    expect(await checkOutcome(mutualChio.grpcAddr, checkClientCredentials({ ca: pki.caCert }))).toBe(grpc.status.UNAVAILABLE);
  });

  it('refuses a gRPC client whose certificate another CA signed', async () => {
    expect(await checkOutcome(mutualChio.grpcAddr, checkClientCredentials({ ca: pki.caCert, cert: pki.rogueCert, key: pki.rogueKey }))).toBe(grpc.status.UNAVAILABLE);
  });

  it('applies the same rule on every HTTP port', async () => {
    for (const port of httpPorts(mutualChio)) {
      expect(await httpsHealth(port, { ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey })).toBe(200);
      await expect(httpsHealth(port, { ca: pki.caCert })).rejects.toThrow();
      await expect(httpsHealth(port, { ca: pki.caCert, cert: pki.rogueCert, key: pki.rogueKey })).rejects.toThrow();
    }
  });
});
