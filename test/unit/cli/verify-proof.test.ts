/**
 * `chio verify-proof` on files that come from elsewhere: a saved tlog-proof and the receipt it
 * is for. Whatever the files hold, the command ends and never says more than was proven.
 */
import { execFile, execFileSync } from 'node:child_process';
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateSignerKey } from '../../../src/tlog/index.js';
import { tlogProofOf, verifyProofFiles } from '../../../src/cli/verify-proof.js';
import { REPO_ROOT } from '../../support/chio.js';
import { tempDir } from '../../support/nats.js';
import { nodeArgsFromSrc } from '../../support/run-chio.js';
import { chainOf, kernelOf } from '../receipt/helpers.js';
import { receiptProofOf } from '../verify/proofs.js';

const ORIGIN = 'chio.local/receipts';
const LOG = generateSignerKey(ORIGIN, () => new Uint8Array(32).fill(71));
const KERNEL = kernelOf(73);
const TRUST = { logKey: LOG.verifierKey, kernelKeys: [KERNEL.verifierKey] };
const RECEIPTS = chainOf(3, KERNEL);
const KEYS = ['--log-key', LOG.verifierKey, '--kernel-key', KERNEL.verifierKey];

let dir: string;
/** A file in `dir` holding `text`; its path. */
const saved = (name: string, text: string) => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};
let proofFile: string;
let receiptFile: string;

beforeAll(async () => {
  dir = tempDir('chio-verify-proof-');
  proofFile = saved('receipt.tlog-proof', tlogProofOf(await receiptProofOf(RECEIPTS, 1, LOG.signerKey)));
  receiptFile = saved('receipt.json', JSON.stringify(RECEIPTS[1]));
});

/** bin/chio.js with `args`, killed after `ms`: exit status (null when killed), signal, stderr. */
function runChioFor(ms: number, args: string[]): Promise<{ exit: number | null; signal: string | null; stderr: string }> {
  return new Promise((done) => {
    const child = execFile(process.execPath, [...nodeArgsFromSrc(), join(REPO_ROOT, 'bin/chio.js'), ...args], { timeout: ms, killSignal: 'SIGKILL', env: { ...process.env, CHIO_KEY_DIR: dir } }, (_err, _out, stderr) => {
      done({ exit: child.exitCode, signal: child.signalCode, stderr });
    });
  });
}

describe('verifyProofFiles', () => {
  it('verifies a saved proof for its receipt', () => {
    expect(verifyProofFiles(proofFile, receiptFile, TRUST)).toEqual({ receipt: RECEIPTS[1], index: 1, treeSize: 3, origin: ORIGIN });
  });

  describe('when a file is not a plain file', () => {
    // A link to /dev/zero has size 0 and never ends; a FIFO waits for a writer for ever.
    const special = {
      'a link to /dev/zero': (name: string) => symlinkSync('/dev/zero', join(dir, name)),
      'a FIFO': (name: string) => execFileSync('mkfifo', [join(dir, name)]),
    };
    it.each(Object.keys(special).flatMap((kind) => [{ kind, file: 'proof' }, { kind, file: 'receipt' }]))(
      'refuses the $file file when it is $kind, at once', async ({ kind, file }) => {
        const name = `${file}-${kind.replace(/\W/g, '')}`;
        special[kind as keyof typeof special](name);
        const [proof, receipt] = file === 'proof' ? [join(dir, name), receiptFile] : [proofFile, join(dir, name)];
        const run = await runChioFor(10_000, ['verify-proof', proof, '--receipt', receipt, ...KEYS]);
        expect(run.signal).toBeNull();
        expect(run.stderr).toContain(`${join(dir, name)}: not a plain file`);
      }, 20_000);
  });
});
