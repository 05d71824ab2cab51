/**
 * Compliance export on real parts: Envoy-shaped Checks over gRPC → receipts stored in a real
 * nats-server → the ledger integrates and publishes → the real `chio export` writes a bundle →
 * `chio verify-export` passes it offline (exit 0) and fails a tampered copy (exit 3). Then the
 * CronJob's own script (deploy/export/cronjob.yaml) runs against the same stack: it writes
 * yesterday's bundle, chained to an earlier one, and verifies it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestNats, tempDir, type TestNats } from '../support/nats.js';
import { REPO_ROOT, startTestChio, testConfig, type TestChio } from '../support/chio.js';
import { nodeArgsFromSrc, runChio, runNode } from '../support/run-chio.js';
import { buildCheckRequest } from '../../src/cli/envoy-request.js';
import { sendCheck } from '../../src/cli/check.js';
import { demoToken } from '../../src/up.js';
import { exportScript } from '../deploy/export-cronjob.js';

/** Each test spawns `chio` under tsx a few times: slow on a loaded machine. */
const CLI_TEST_TIMEOUT_MS = 180_000;
const ALLOWS = 12;
const DENIES = 8;

let nats: TestNats;
let chio: TestChio;
let dataDir: string;
let env: Record<string, string>;
const out = (name: string) => join(dataDir, name);

beforeAll(async () => {
  nats = await startTestNats();
  dataDir = tempDir('chio-export-it-');
  chio = await startTestChio(testConfig(dataDir, nats.current.url));
  env = { NATS_URL: nats.current.url, CHIO_DATA_DIR: dataDir, CHIO_KEY_DIR: join(dataDir, 'keys'), CHIO_LOG_LEVEL: 'silent' };
  const token = demoToken(chio.config);
  const check = (headers: Record<string, string>) => sendCheck(chio.grpcAddr, buildCheckRequest({ method: 'POST', path: '/tools/hello', host: 'tools.chio.local', headers }));
  const answers = await Promise.all([
    ...Array.from({ length: ALLOWS }, () => check({ 'x-chio-capability-token': token })),
    ...Array.from({ length: DENIES }, () => check({})),
  ]);
  expect(answers.filter((a) => a.verdict === 'allow')).toHaveLength(ALLOWS);
  const deadline = Date.now() + 15_000;
  while (chio.ledger.ledger.publishedSize < ALLOWS + DENIES && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  expect(chio.ledger.ledger.publishedSize).toBe(ALLOWS + DENIES);
});

afterAll(async () => {
  await chio?.stop();
  await nats?.cleanup();
});

describe('chio export → chio verify-export', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  it('exports every receipt with its proof and the policy that decided it, and the bundle verifies offline', async () => {
    const exported = await runChio(['export', '--out', out('all')], env);
    expect(exported, exported.stderr).toMatchObject({ exit: 0 });
    expect(exported.stdout).toContain(`${ALLOWS + DENIES} receipts`);
    expect(exported.stderr).toMatch(/export: 20\/20 leaves read \(100%\)/);
    const lines = readFileSync(join(out('all'), 'receipts.jsonl'), 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(ALLOWS + DENIES);
    expect(existsSync(join(out('all'), 'policies', `${chio.authz.policyHash.slice('sha256:'.length)}.json`))).toBe(true);
    // Offline: no NATS_URL in the environment.
    const verified = await runChio(['verify-export', out('all')], { CHIO_KEY_DIR: env.CHIO_KEY_DIR!, CHIO_DATA_DIR: dataDir });
    expect(verified, verified.stderr).toMatchObject({ exit: 0 });
    expect(verified.stdout).toContain(`OK — ${ALLOWS + DENIES} receipts`);
    expect(verified.stdout).toContain('; holds every leaf of the tree;');
  });

  it('exports the denies only with --verdict deny, chained to the first bundle', async () => {
    const exported = await runChio(['export', '--verdict', 'deny', '--out', out('denies'), '--previous', out('all')], env);
    expect(exported, exported.stderr).toMatchObject({ exit: 0 });
    const verified = await runChio(['verify-export', out('denies'), '--log-key', join(dataDir, 'keys/log.pub'), '--kernel-key', join(dataDir, 'keys/kernel.pub')], env);
    expect(verified, verified.stderr).toMatchObject({ exit: 0 });
    expect(verified.stdout).not.toMatch(/not given with --(log|kernel)-key/);
    expect(verified.stdout).toContain(`OK — ${DENIES} receipts`);
    expect(verified.stdout).toContain('; holds receipts of filter verdict=deny, not checked to be all of them;');
    expect(verified.stdout).toContain('extends the previous bundle');
  });

  it('fails a tampered bundle with exit 3, naming the file, line and receipt id', async () => {
    cpSync(out('all'), out('tampered'), { recursive: true });
    const file = join(out('tampered'), 'receipts.jsonl');
    const lines = readFileSync(file, 'utf8').split('\n');
    const id = (JSON.parse(lines[4]!) as { receipt: { id: string } }).receipt.id;
    lines[4] = lines[4]!.replace('"verdict":"', '"verdict":"x');
    writeFileSync(file, lines.join('\n'));
    const verified = await runChio(['verify-export', out('tampered')], env);
    expect(verified.exit).toBe(3);
    expect(verified.stderr).toMatch(new RegExp(`^chio: receipts.jsonl line 5, receipt ${id}: `));
  });

  it('prints a file name that holds control characters escaped, so that it cannot fake a line of its own', async () => {
    cpSync(out('all'), out('renamed'), { recursive: true });
    writeFileSync(join(out('renamed'), 'x\rbundle: OK \u001b[32m'), 'hi');
    const verified = await runChio(['verify-export', out('renamed')], env);
    expect(verified.exit).toBe(3);
    expect(verified.stderr).toBe('chio: x\\u{d}bundle: OK \\u{1b}[32m: in the bundle but not named in manifest.json\n');
  });
});

describe('the CronJob script (deploy/export/cronjob.yaml)', { timeout: CLI_TEST_TIMEOUT_MS }, () => {
  it('writes yesterday\'s bundle into the volume, chained to the last one, and verifies it', async () => {
    const exports = out('volume');
    mkdirSync(exports);
    cpSync(out('all'), join(exports, '2000-01-01'), { recursive: true });
    // `node` in the script is this Node with bin/chio.js's imports read from src/.
    const bin = out('bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'node'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${nodeArgsFromSrc().map((a) => `'${a}'`).join(' ')} "$@"\n`);
    chmodSync(join(bin, 'node'), 0o755);
    const script = exportScript().replaceAll('/exports', exports);
    const scriptEnv = { ...env, PATH: `${bin}:${process.env.PATH}` };
    const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    // What a run killed outright leaves: its staging directory, hidden beside the day's.
    const staged = join(exports, `.${day}.chio-export-Ab12Cd`);
    mkdirSync(staged);
    writeFileSync(join(staged, 'checkpoint'), 'half');
    const run = await runNode('/bin/sh', ['-c', script], scriptEnv, REPO_ROOT);
    expect(run, run.stderr).toMatchObject({ exit: 0 });
    expect(existsSync(staged)).toBe(false);
    const manifest = JSON.parse(readFileSync(join(exports, day, 'manifest.json'), 'utf8')) as { previous?: { size: number }; filter: { since: string } };
    expect(manifest.filter.since).toBe(`${day}T00:00:00.000Z`);
    expect(manifest.previous?.size).toBe(ALLOWS + DENIES);
    expect(run.stdout).toContain(`${join(exports, day)}: OK`);
    // Held to the cluster's kernel keys, not the manifest's.
    expect(run.stdout).not.toContain('kernel keys are the ones the bundle names');
    const again = await runNode('/bin/sh', ['-c', script], scriptEnv, REPO_ROOT);
    expect(again.stdout).toContain('exists already');
  });
});
