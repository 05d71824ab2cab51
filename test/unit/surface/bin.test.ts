/**
 * bin/chio.js, the `chio` command as installed: a ChioError exits with its code's exit status
 * from the status table (2 bad configuration, 3 did not verify), anything else with 1, and
 * stderr says `chio: <message>`. The real bin file runs, its dist/ imports loaded from src/.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSignerKey } from '../../../src/tlog/index.js';
import { chainOf, kernelOf } from '../receipt/helpers.js';
import { receiptProofOf } from '../verify/proofs.js';
import { runChio, type Run } from '../../support/run-chio.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const LOG = generateSignerKey('chio.local/receipts', () => new Uint8Array(32).fill(61));
const KERNEL = kernelOf(62);
const [PROVEN, TAMPERED, UNKNOWN] = chainOf(3, KERNEL).map((r) => r.id);

describe('bin/chio.js', () => {
  const dir = mkdtempSync(join(tmpdir(), 'chio-bin-'));
  const env = { CHIO_DATA_DIR: dir, CHIO_KEY_DIR: dir };
  let verifier: Server;
  const runs: Record<string, Run> = {};

  beforeAll(async () => {
    const receipts = chainOf(3, KERNEL);
    const good = await receiptProofOf(receipts, 0, LOG.signerKey);
    const tampered = await receiptProofOf(receipts, 1, LOG.signerKey);
    tampered.index = 2; // the proof of leaf 1, claimed for leaf 2
    verifier = createServer((req, res) => {
      const answer = req.url === `/v1/receipts/${PROVEN}` ? good : req.url === `/v1/receipts/${TAMPERED}` ? tampered : undefined;
      res.writeHead(answer ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify(answer ?? { error: 'no receipt with this id is stored', code: 'NOT_FOUND' }));
    });
    await new Promise<void>((r) => verifier.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(verifier.address() as AddressInfo).port}`;
    const prove = (id: string) => ['prove', id!, '--url', url, '--log-key', LOG.verifierKey, '--kernel-key', KERNEL.verifierKey, '--wait', '0'];
    // One process per case, all at once: each spends most of its time loading the CLI.
    const cases: Record<string, Promise<Run>> = {
      proven: runChio(prove(PROVEN!), env),
      tampered: runChio(prove(TAMPERED!), env),
      unknown: runChio(prove(UNKNOWN!), env),
      badSetting: runChio(['keygen'], { ...env, CHIO_REPLICAS: '2' }),
      noNats: runChio(['authz'], env),
      badPolicy: runChio(['policy', 'check', join(ROOT, 'package.json')], env),
      // package.json found from the installed command, wherever it is run from.
      version: runChio(['--version'], env),
      // A proof that verifies, saved into a folder that is not there: writeFileSync's own Error.
      plainError: runChio([...prove(PROVEN!), '--out', join(dir, 'no-such-folder', 'proof')], env),
    };
    for (const [name, run] of Object.entries(cases)) runs[name] = await run;
    // Seven CLI processes at once: about a second each alone, far more on a busy machine.
  }, 180_000);

  afterAll(async () => {
    await new Promise<void>((r) => verifier.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('exits 0 when the proof verifies', () => {
    expect(runs.proven).toMatchObject({ exit: 0, stderr: '' });
    expect(runs.proven!.stdout).toContain(`receipt ${PROVEN}`);
  });

  it('exits 3, the exit status of PROOF_INVALID, when the proof does not verify', () => {
    expect(runs.tampered!.exit).toBe(3);
    expect(runs.tampered!.stderr).toMatch(/^chio: [^\n]+\n$/);
  });

  it('exits 1, the exit status of NOT_FOUND, for a receipt the verifier does not know', () => {
    expect(runs.unknown!.exit).toBe(1);
    expect(runs.unknown!.stderr).toBe('chio: verifier answered 404 NOT_FOUND: no receipt with this id is stored\n');
  });

  it("--version prints package.json's version and exits 0", () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(runs.version).toEqual({ exit: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('exits 2, the exit status of CONFIG_INVALID, for a bad setting', () => {
    expect(runs.badSetting!.exit).toBe(2);
    expect(runs.badSetting!.stderr).toMatch(/^chio: setting CHIO_REPLICAS[^\n]*\n$/);
  });

  it('exits 2 when a service is started without NATS_URL', () => {
    expect(runs.noNats!.exit).toBe(2);
    expect(runs.noNats!.stderr).toMatch(/^chio: chio authz needs NATS_URL[^\n]*\n$/);
  });

  it('exits 2 when policy check finds an invalid policy file', () => {
    expect(runs.badPolicy!.exit).toBe(2);
  });

  it('exits 1 for an error that is not a ChioError', () => {
    expect(runs.plainError!.exit).toBe(1);
    expect(runs.plainError!.stderr).toMatch(/^chio: [^\n]+\n$/);
  });
});
