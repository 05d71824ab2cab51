/**
 * Policies and credentials change while Chio runs: a valid policy change is swapped in, an
 * invalid one is refused with the old set kept; a revoked capability is denied within a
 * second; shadow mode (global and per policy) records the would-be deny and answers allow.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startScenario, denial, type Scenario } from '../support/scenario.js';
import { demoToken } from '../../src/up.js';
import { fromBase64Url } from '../../src/encoding.js';
import { openRevocationsBucket } from '../../src/store/resources.js';
import { revokeCapability } from '../../src/store/revocations.js';
import { proveReceipt } from '../../src/cli/prove.js';
import { readFileSync } from 'node:fs';
import { DEMO_AUTHORITY, allowTools } from '../support/policies.js';

const AUTHORITY = DEMO_AUTHORITY;

const waitFor = async (cond: () => boolean | Promise<boolean>, ms: number) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
};

describe('a running policy set', () => {
  let s: Scenario;
  let token: string;
  beforeAll(async () => {
    s = await startScenario(allowTools('"/tools/*"'));
    token = demoToken(s.chio.config);
  });
  afterAll(() => s?.stop());

  const call = (path: string, t = token) => s.check({ method: 'POST', path, headers: { 'x-chio-capability-token': t } });

  it('swaps in a valid change, with a new policy hash on answers', async () => {
    const before = s.chio.authz.policyHash;
    expect((await call('/invoke/x')).verdict).toBe('deny');
    writeFileSync(join(s.policyDir, 'policies.yaml'), allowTools('"/tools/*", "/invoke/*"'));
    expect(await waitFor(async () => (await call('/invoke/x')).verdict === 'allow', 5_000)).toBe(true);
    const a = await call('/invoke/x');
    expect(a.headers['x-chio-policy-hash']).not.toBe(before);
    expect(a.headers['x-chio-policy-hash']).toBe(s.chio.authz.policyHash);
  });

  it('refuses an invalid change and keeps the old set', async () => {
    const hash = s.chio.authz.policyHash;
    writeFileSync(join(s.policyDir, 'policies.yaml'), `${AUTHORITY}---\napiVersion: chio.dev/v1\nkind: AuthorizationPolicy\nmetadata: { name: broken }\nspec: { action: MAYBE }\n`);
    expect(await s.chio.authz.policies.reload()).toBe('refused');
    expect(s.chio.authz.policyHash).toBe(hash);
    expect((await call('/invoke/x')).verdict).toBe('allow');
    const metrics = await (await fetch(`http://127.0.0.1:${s.chio.authz.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/chio_policy_reloads_total\{result="refused"\} [1-9]/);
  });

  it('denies a revoked capability within a second of the revocation', async () => {
    const own = demoToken(s.chio.config);
    expect((await call('/tools/a', own)).verdict).toBe('allow');
    const id = (JSON.parse(new TextDecoder().decode(fromBase64Url(own))) as { id: string }).id;
    await revokeCapability(await openRevocationsBucket(s.chio.nc), id, 'test');
    const revokedAt = Date.now();
    expect(await waitFor(async () => denial(await call('/tools/a', own)).reason === 'capability is revoked', 1_000)).toBe(true);
    expect(Date.now() - revokedAt).toBeLessThan(1_000);
    expect(denial(await call('/tools/a', own))).toEqual({ status: 401, guard: 'Capability', reason: 'capability is revoked' });
    expect((await call('/tools/a')).verdict).toBe('allow'); // other tokens unaffected
  });

  it('has a provable receipt for every answer above', async () => {
    expect(await s.proveAll()).toBeGreaterThan(5);
  });
});

describe('shadow mode', () => {
  it('globally: runs every guard, records the would-be deny, answers allow', async () => {
    const s = await startScenario(allowTools('"/tools/*"'), { CHIO_MODE: 'shadow' });
    try {
      const a = await s.check({ method: 'POST', path: '/admin' });
      expect(a.verdict).toBe('allow');
      expect(a.headers['x-chio-shadow-verdict']).toBe('deny');
      const key = (n: string) => readFileSync(join(s.dataDir, 'keys', n), 'utf8').trim();
      const proven = await proveReceipt(a.receiptId!, { verifierUrl: s.chio.verifierUrl, logKey: key('log.pub'), kernelKeys: [key('kernel.pub')], waitMs: 5_000 });
      expect(proven.receipt.decision).toMatchObject({ verdict: 'deny', guard: 'Policy', shadow: true, http_status: 401 });
    } finally {
      await s.stop();
    }
  });

  it('per policy: a shadow DENY policy does not deny but is recorded', async () => {
    const s = await startScenario(`${allowTools('"/tools/*"')}---
apiVersion: chio.dev/v1
kind: AuthorizationPolicy
metadata:
  name: no-deletes
  annotations: { chio.dev/shadow: "true" }
spec:
  action: DENY
  rules: [{ to: [{ operation: { paths: ["/tools/delete*"] } }] }]
`);
    try {
      const token = demoToken(s.chio.config);
      const a = await s.check({ method: 'POST', path: '/tools/delete-all', headers: { 'x-chio-capability-token': token } });
      expect(a.verdict).toBe('allow');
      expect(a.headers['x-chio-shadow-verdict']).toBe('deny');
      const b = await s.check({ method: 'POST', path: '/tools/list', headers: { 'x-chio-capability-token': token } });
      expect(b.headers['x-chio-shadow-verdict']).toBeUndefined();
      const key = (n: string) => readFileSync(join(s.dataDir, 'keys', n), 'utf8').trim();
      const proven = await proveReceipt(a.receiptId!, { verifierUrl: s.chio.verifierUrl, logKey: key('log.pub'), kernelKeys: [key('kernel.pub')], waitMs: 5_000 });
      expect(proven.receipt.decision).toMatchObject({ verdict: 'deny', guard: 'Policy', shadow: true });
      expect(proven.receipt.evidence.find((e) => e.guard === 'Policy')?.details).toMatchObject({ shadow_policy: 'no-deletes' });
    } finally {
      await s.stop();
    }
  });
});
