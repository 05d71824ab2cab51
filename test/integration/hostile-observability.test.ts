/**
 * What hostile requests leave in Chio's metrics and logs: over real gRPC and HTTP, rounds of
 * Checks and verifier requests whose every request-chosen value is new (methods, hosts, paths,
 * a 90 KB header, malformed and forged credentials), then:
 *
 *   - /metrics has the same series after each round: no request-chosen value is a label, so
 *     hostile traffic cannot grow the registry (and the memory it holds) without bound;
 *   - at the default level (info) no warning or error is logged for any of them, no line names
 *     one (the ledger's own lines, a checkpoint published, go on), and no line anywhere holds a
 *     credential or the large header.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNats, tempDir, type TestNats } from '../support/nats.js';
import { startTestChio, testConfig, type TestChio } from '../support/chio.js';
import { scrape } from '../support/metrics.js';
import { captureLog } from '../support/log-capture.js';
import { sendCheck } from '../../src/cli/check.js';
import { buildCheckRequest, type EnvoyRequestOptions } from '../../src/cli/envoy-request.js';

let nats: TestNats;
let chio: TestChio;
const captured = captureLog('info');
const logLines = captured.lines;

beforeAll(async () => {
  nats = await startTestNats();
  chio = await startTestChio(testConfig(tempDir('chio-hostile-obs-'), nats.current.url, { CHIO_CHAIN_ID: 'hostile-obs' }), { log: captured.log });
}, 60_000);

afterAll(async () => {
  await chio?.stop();
  await nats?.cleanup();
});

/**
 * The series /metrics serves: each sample's name and labels, without its value. Node's own
 * (chio_nodejs_*, chio_process_*) are left out: their labels name the runtime's handles, which
 * come and go with the process's own work (a worker thread's MessagePort), not with a request.
 */
async function series(): Promise<string[]> {
  const text = await scrape(chio.authz.httpPort);
  const samples = text.split('\n').filter((l) => l !== '' && !l.startsWith('#') && !/^chio_(nodejs|process)_/.test(l));
  return samples.map((l) => l.slice(0, l.lastIndexOf(' '))).sort();
}

const b64url = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** One round of hostile traffic, every request-chosen value marked with `round`; returns the credentials sent. */
async function round(tag: string): Promise<string[]> {
  const forgedJwt = `${b64url({ alg: 'RS256', kid: `k-${tag}` })}.${b64url({ iss: `https://${tag}.evil`, sub: tag })}.c2lnLXRoYXQtaXMtbm90LSR7dGFnfQ`;
  const capability = `${b64url({ id: `cap-${tag}`, issuer: tag })}.Zm9yZ2VkLXNpZ25hdHVyZS0${tag}`;
  const apiKey = `sk_live_${tag}_0123456789abcdef`;
  const checks: EnvoyRequestOptions[] = [
    { method: `M${tag.toUpperCase()}`, host: `${tag}.example`, path: `/${tag}/a`, headers: {} },
    { method: 'GET', host: `h-${tag}.example:8443`, path: `/tools/${tag}?q=${tag}`, headers: { authorization: `Bearer ${forgedJwt}` } },
    { method: 'POST', host: 'h.example', path: `/tools/${tag};jsessionid=${tag}`, headers: { 'x-chio-capability-token': capability, 'x-api-key': apiKey } },
    { method: 'GET', host: 'h.example', path: `/${'p'.repeat(3000)}${tag}`, headers: { [`x-${tag}`]: `${tag}:${'v'.repeat(90 * 1024)}` } },
    { method: 'GET', host: 'h.example', path: `/%zz/${tag}`, headers: { authorization: `Bearer not-a-jwt-${tag}` } },
  ];
  const answers = await Promise.all(checks.map((c) => sendCheck(chio.grpcAddr, buildCheckRequest(c))));
  for (const a of answers) expect(a.verdict).toBe('deny');
  const paths = [`/v1/receipts/${tag}`, `/tile/0/${tag}`, `/v1/policies/sha256:${tag}`, `/${tag}/${'x'.repeat(4000)}`, `/checkpoint?access_token=${apiKey}`];
  for (const p of paths) await (await fetch(`${chio.verifierUrl}${p}`)).arrayBuffer();
  return [forgedJwt, capability, apiKey, forgedJwt.split('.')[2]!];
}

describe('hostile requests', () => {
  it('add no metric series and no log line, whatever values they choose', async () => {
    await round('warmup');
    const before = await series();
    const from = logLines.length;
    const secrets = [...(await round('alpha')), ...(await round('bravo'))];
    expect(await series()).toEqual(before);
    const logged = logLines.slice(from);
    expect(logged.filter((l) => (JSON.parse(l) as { level: number }).level >= 40), 'warnings and errors for hostile requests').toEqual([]);
    expect(logged.filter((l) => /alpha|bravo/.test(l)), 'lines about a hostile request').toEqual([]);
    for (const line of logLines) {
      expect(line.length, 'a log line as long as a request-chosen header').toBeLessThan(4096);
      for (const s of secrets) expect(line).not.toContain(s);
    }
  });
});
