/**
 * A flood of distinct, valid capability tokens through the decision pipeline authz runs
 * (the demo policy set, the demo issuer): every one is verified and allowed, and the cache of
 * verified tokens never holds more than DEFAULT_VERIFICATION_CACHE_SIZE entries, so memory
 * per token seen stays bounded however many distinct tokens arrive. Sizes are measured, not
 * times or RSS: the cache is the only per-token state a Check leaves behind.
 *
 * Each token costs an Ed25519 signature to make and one to verify, about 1–2 ms here on a
 * shared machine: the suite floods 1.5 times the cache bound (enough to see it fill and stay
 * flat); CHIO_FLOOD_TOKENS=50000 runs the full flood (about 20 s of CPU).
 */
import { describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { DecisionPipeline } from '../../src/decision/pipeline.js';
import { DEFAULT_VERIFICATION_CACHE_SIZE } from '../../src/credentials/verification-cache.js';
import { issueCapability } from '../../src/credentials/capability.js';
import { loadPolicySet } from '../../src/policy/policy-set.js';
import { generateKeys, loadKey } from '../../src/keys.js';
import { buildCheckRequest } from '../../src/cli/envoy-request.js';
import { REPO_ROOT } from '../support/chio.js';
import { tempDir } from '../support/nats.js';

const TOKENS = Number(process.env.CHIO_FLOOD_TOKENS ?? (DEFAULT_VERIFICATION_CACHE_SIZE * 3) / 2);
const SAMPLE_EVERY = 5_000;

describe('a flood of distinct capability tokens', () => {
  it(`keeps at most ${DEFAULT_VERIFICATION_CACHE_SIZE} verified tokens cached through ${TOKENS} distinct ones`, async () => {
    const keyDir = tempDir('chio-flood-keys-');
    generateKeys(keyDir, 'chio.local/receipts');
    const policies = loadPolicySet(join(REPO_ROOT, 'deploy/policies'), keyDir);
    const pipeline = new DecisionPipeline({ policies: () => policies, mode: 'enforce', defaultVerdict: 'deny', onInternalError: (err) => { throw err; } });
    const issuer = loadKey(keyDir, 'demo-issuer');
    const now = Math.floor(Date.now() / 1000);
    const sizes: number[] = [];
    let allowed = 0;
    for (let i = 1; i <= TOKENS; i++) {
      const token = issueCapability({
        schema: 'chio.capability.v1', id: randomUUID(), issuer: issuer.verifierKey, subject: `agent-${i}`,
        scope: { grants: [{ methods: ['POST'], paths: ['/tools/*'] }] }, issued_at: now, expires_at: now + 3600,
      }, issuer.signer);
      const decision = await pipeline.decide(buildCheckRequest({ method: 'POST', path: '/tools/x', host: 'tools.chio.local', headers: { 'x-chio-capability-token': token } }), Date.now() + 10_000);
      if (decision.verdict === 'allow') allowed += 1;
      if (i % SAMPLE_EVERY === 0) sizes.push(pipeline.cachedCapabilities);
    }
    expect(allowed).toBe(TOKENS);
    // Filled once, then flat: the oldest entry leaves as each new one comes.
    expect(sizes.slice(1)).toEqual(sizes.slice(1).map(() => DEFAULT_VERIFICATION_CACHE_SIZE));
    expect(Math.max(...sizes)).toBe(DEFAULT_VERIFICATION_CACHE_SIZE);
  }, 300_000);
});
