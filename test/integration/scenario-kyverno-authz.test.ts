/**
 * kyverno-authz's CEL policy examples (its "Envoy policy breakdown" docs) over real gRPC: the
 * force-authorized header, 401/403 with bodies, an allow with headers and metadata, match
 * conditions, both failure policies, and a policy in another evaluation mode (ignored). Each
 * example is scoped to its own host by a match condition. Every receipt is proven.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { denial, startScenario, type Scenario } from '../support/scenario.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/chio.js';

let s: Scenario;

// The same file `chio policy test` checks offline (test/fixtures/policy-tests/kyverno-authz).
const POLICIES = readFileSync(join(REPO_ROOT, 'test/fixtures/policy-tests/kyverno-authz/policies.yaml'), 'utf8');

beforeAll(async () => {
  s = await startScenario(POLICIES);
}, 60_000);

afterAll(() => s?.stop());

const check = (host: string, headers: Record<string, string> = {}) => s.check({ host, path: '/api/items', headers });

describe('kyverno-authz CEL policies over gRPC', () => {
  it('force-authorized: allow with the header', async () => {
    const a = await check('a.example', { 'x-force-authorized': 'true' });
    expect(a.verdict).toBe('allow');
  });
  it('force-authorized: 403 without it, guard Policy', async () => {
    expect(denial(await check('a.example'))).toEqual({ status: 403, guard: 'Policy', reason: 'denied by ValidatingPolicy force-authorized' });
  });
  it('advanced: 401 with its body', async () => {
    const a = await check('b.example', { 'x-force-unauthenticated': 'true' });
    expect(a).toMatchObject({ verdict: 'deny', grpcCode: 7, httpStatus: 401, body: 'Authentication Failed' });
    expect(a.headers['x-chio-denial-guard']).toBe('Policy');
  });
  it('advanced: 403 with its body', async () => {
    expect(await check('b.example')).toMatchObject({ verdict: 'deny', httpStatus: 403, body: 'Unauthorized Request' });
  });
  it('advanced: allow adds and removes request headers and adds a response header', async () => {
    const a = await check('b.example', { 'x-force-authorized': 'enabled' });
    expect(a.verdict).toBe('allow');
    expect(a.headers['x-validated-by']).toBe('my-security-checkpoint');
    expect(a.removedHeaders).toContain('x-force-authorized');
    expect(a.responseHeaders?.['x-add-custom-response-header']).toBe('added');
  });
  it('match conditions: the policy applies only with x-force-deny', async () => {
    expect(denial(await check('c.example', { 'x-force-deny': '1' }))).toEqual({ status: 403, guard: 'Policy', reason: 'denied by ValidatingPolicy match-conditions' });
    // Skipped: no policy decides, Chio stays default-deny (no credentials: 401).
    expect(denial(await check('c.example'))).toMatchObject({ status: 401, guard: 'Policy', reason: expect.stringContaining('denied by default') });
  });
  it('failurePolicy Fail: an evaluation error denies', async () => {
    expect(denial(await check('d.example'))).toEqual({ status: 403, guard: 'Policy', reason: 'ValidatingPolicy fails-closed could not be evaluated' });
  });
  it('failurePolicy Ignore: an evaluation error skips the policy, never allows', async () => {
    expect(denial(await check('e.example'))).toMatchObject({ status: 401, reason: expect.stringContaining('denied by default') });
  });
  it('a policy in another evaluation mode is ignored', async () => {
    expect((await check('a.example', { 'x-force-authorized': 'true' })).verdict).toBe('allow');
  });
  it('has a provable receipt for every answer', async () => {
    expect(await s.proveAll()).toBe(10);
  });
});
