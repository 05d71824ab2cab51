/**
 * The kyverno-envoy-plugin Istio tutorial (../shared/seeds): testapp-1 allows GET /book only,
 * testapp-2 GET /movie only, selected by match on the request host; CheckRequests shaped as
 * Envoy sends them under Istio (socket addresses, :authority, x-request-id,
 * x-forwarded-proto). A failed assert denies with its message. Every receipt is proven.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScenario, denial, type Scenario } from '../support/scenario.js';
import { buildCheckRequest } from '../../src/cli/envoy-request.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/chio.js';

let s: Scenario;

beforeAll(async () => {
  // The same file `chio policy test` checks offline (test/fixtures/policy-tests/kyverno).
  s = await startScenario(readFileSync(join(REPO_ROOT, 'test/fixtures/policy-tests/kyverno/policies.yaml'), 'utf8'));
}, 60_000);

afterAll(() => s?.stop());

// As Envoy sends it under Istio (the tutorial's example request, no mTLS principal).
const envoy = (app: string, method: string, path: string) =>
  s.checkRaw(buildCheckRequest({
    method, path, host: `${app}.demo.svc.cluster.local:8080`,
    sourceAddress: '10.244.0.71:33880', destinationAddress: '10.244.0.65:8080',
    headers: { 'user-agent': 'Wget' },
  }));

describe('the kyverno Istio tutorial', () => {
  it('testapp-1 GET /book: allow', async () => {
    expect((await envoy('testapp-1', 'GET', '/book')).verdict).toBe('allow');
  });
  it('testapp-1 GET /movie: deny with the assert message', async () => {
    expect(denial(await envoy('testapp-1', 'GET', '/movie'))).toEqual({ status: 403, guard: 'Policy', reason: 'The GET method is restricted to the /book path.' });
  });
  it('testapp-1 POST /book: deny', async () => {
    expect((await envoy('testapp-1', 'POST', '/book')).verdict).toBe('deny');
  });
  it('testapp-2 GET /movie: allow', async () => {
    expect((await envoy('testapp-2', 'GET', '/movie')).verdict).toBe('allow');
  });
  it('testapp-2 GET /book: deny with its message', async () => {
    expect(denial(await envoy('testapp-2', 'GET', '/book')).reason).toContain('The GET method is restricted to the /movies path.');
  });
  it('a host no policy matches: denied by default', async () => {
    expect(denial(await envoy('testapp-3', 'GET', '/book')).reason).toContain('no policy applies; denied by default');
  });
  it('has a provable receipt for every answer', async () => {
    expect(await s.proveAll()).toBe(6);
  });
});
