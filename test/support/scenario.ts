/**
 * A scenario: one policy set (YAML written to a temp dir), its own nats-server, the three
 * services in-process, and helpers to send Envoy-shaped Checks and to prove their receipts.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { startTestNats, tempDir, type TestNats } from './nats.js';
import { startTestChio, testConfig, type TestChio } from './chio.js';
import { generateKeys } from '../../src/keys.js';
import { sendCheck, type CheckAnswer } from '../../src/cli/check.js';
import { buildCheckRequest, type EnvoyRequestOptions } from '../../src/cli/envoy-request.js';
import { proveReceipt } from '../../src/cli/prove.js';
import type { CheckRequest } from '../../src/authz/wire.js';

export interface Scenario {
  chio: TestChio;
  nats: TestNats;
  dataDir: string;
  policyDir: string;
  check(o: Partial<EnvoyRequestOptions>): Promise<CheckAnswer>;
  checkRaw(req: CheckRequest): Promise<CheckAnswer>;
  /** Prove every receipt id handed out so far; returns how many. */
  proveAll(): Promise<number>;
  stop(): Promise<void>;
}

/** Start a scenario; `policies` may be a function of the key dir (to embed generated keys). */
export async function startScenario(policies: string | ((keyDir: string) => string), env: Record<string, string> = {}): Promise<Scenario> {
  const dataDir = tempDir('chio-scenario-');
  const keyDir = join(dataDir, 'keys');
  const policyDir = join(dataDir, 'policies');
  mkdirSync(policyDir, { recursive: true });
  generateKeys(keyDir, 'chio.local/receipts');
  writeFileSync(join(policyDir, 'policies.yaml'), typeof policies === 'function' ? policies(keyDir) : policies);
  const nats = await startTestNats();
  const chio = await startTestChio(testConfig(dataDir, nats.current.url, { CHIO_POLICIES: policyDir, CHIO_CHAIN_ID: 'scenario', ...env }));
  const ids: string[] = [];
  const remember = (a: CheckAnswer) => {
    if (a.receiptId) ids.push(a.receiptId);
    return a;
  };
  const key = (name: string) => readFileSync(join(keyDir, name), 'utf8').trim();
  return {
    chio, nats, dataDir, policyDir,
    check: async (o) => remember(await sendCheck(chio.grpcAddr, buildCheckRequest({ method: 'GET', path: '/', host: 'svc.example.com', ...o }))),
    checkRaw: async (req) => remember(await sendCheck(chio.grpcAddr, req)),
    async proveAll() {
      for (const id of ids) {
        const proven = await proveReceipt(id, { verifierUrl: chio.verifierUrl, logKey: key('log.pub'), kernelKeys: [key('kernel.pub')], waitMs: 10_000 });
        expect(proven.receipt.id).toBe(id);
      }
      return ids.length;
    },
    async stop() {
      await chio.stop();
      await nats.cleanup();
    },
  };
}

/** The answer's deny guard and reason, for compact assertions. */
export function denial(a: CheckAnswer): { status: number; guard?: string; reason?: string } {
  return { status: a.httpStatus, guard: a.headers['x-chio-denial-guard'], reason: a.headers['x-chio-denial-reason'] };
}
