/**
 * `chio verify-proof` on files that come from elsewhere: a saved tlog-proof and the receipt it
 * is for. Whatever the files hold, the command ends and never says more than was proven.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { statusOf } from '../../../src/errors/index.js';
import { generateSignerKey } from '../../../src/tlog/index.js';
import { MAX_TLOG_PROOF_CHARS } from '../../../src/verify/tlog-proof.js';
import { canonicalize } from '../../../src/receipt/jcs.js';
import { toCorrectionDraft } from '../../../src/receipt/correction.js';
import { verifyReceiptProof, type ReceiptProof } from '../../../src/verify/receipt-proof.js';
import { formatProven, toProvenJson } from '../../../src/cli/prove.js';
import { receiptFileOf, tlogProofOf, verifyProofFiles } from '../../../src/cli/verify-proof.js';
import { tempDir } from '../../support/nats.js';
import { SPAWN_LIMIT_MS, runChioFor as runChioForIn } from '../../support/run-chio.js';
import { chainOf, kernelOf, signReceipt, thrownCode } from '../receipt/helpers.js';
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

/** bin/chio.js with `args` and this suite's key directory, killed after `ms` (support/run-chio.ts). */
const runChioFor = (ms: number, args: string[]) => runChioForIn(ms, args, { CHIO_KEY_DIR: dir });

/** The code verifyProofFiles fails with, and that its exit status is 3: did not verify. */
function failure(proof: string, receipt: string) {
  const code = thrownCode(() => verifyProofFiles(proof, receipt, TRUST));
  expect(statusOf(code).exit).toBe(3);
  return code;
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
        const run = await runChioFor(SPAWN_LIMIT_MS, ['verify-proof', proof, '--receipt', receipt, ...KEYS]);
        expect(run.signal).toBeNull();
        expect(run.stderr).toContain(`${join(dir, name)}: not a plain file`);
        expect(run.exit).toBe(3);
      }, SPAWN_LIMIT_MS + 15_000);
  });

  // Saved side by side, the proof of one receipt given with another's file: the verdict
  // held, but "record proof does not match the tree root" did not say what was wrong.
  it('says when the proof is of another receipt, naming the receipt and the leaf the proof is for', () => {
    const other = saved('other.json', JSON.stringify(RECEIPTS[2]));
    expect(failure(proofFile, other)).toBe('PROOF_INVALID');
    expect(() => verifyProofFiles(proofFile, other, TRUST)).toThrow(
      `${proofFile}: does not prove receipt ${RECEIPTS[2]!.id} at leaf 1 (record proof does not match the tree root): is it the proof of another receipt?`,
    );
  });

  describe('when a file was tampered with', () => {
    let good: string;
    beforeAll(() => {
      good = readFileSync(proofFile, 'utf8');
    });

    it.each<[string, (proof: string) => string]>([
      ['a proof hash has a character outside base64', (p) => p.replace(/\nindex 1\n./, '\nindex 1\n!')],
      ['the checkpoint signature line has a character outside base64', (p) => p.replace(/(\u2014 \S+ )./, '$1*')],
      ['the header is another', (p) => p.replace('tlog-proof@v1', 'tlog-proof@v2')],
      ['the checkpoint note lost its last newline', (p) => p.slice(0, -1)],
      ['a proof hash is there twice', (p) => p.replace(/\nindex 1\n([^\n]+)\n/, '\nindex 1\n$1\n$1\n')],
    ])('fails with PROOF_INVALID when %s', (_what, tamper) => {
      const text = tamper(good);
      expect(text).not.toBe(good);
      expect(failure(saved('tampered.tlog-proof', text), receiptFile)).toBe('PROOF_INVALID');
    });

    it('fails with PROOF_INVALID when the proof file is not UTF-8', () => {
      writeFileSync(join(dir, 'latin1.tlog-proof'), Buffer.concat([Buffer.from(good), Buffer.from([0xff])]));
      expect(failure(join(dir, 'latin1.tlog-proof'), receiptFile)).toBe('PROOF_INVALID');
    });

    it('fails with PROOF_INVALID when the proof file is larger than a proof can be', () => {
      expect(failure(saved('large.tlog-proof', good.padEnd(MAX_TLOG_PROOF_CHARS + 1, 'x')), receiptFile)).toBe('PROOF_INVALID');
    });

    it.each<[string, Buffer]>([
      ['is not JSON', Buffer.from(JSON.stringify(RECEIPTS[1]).slice(0, -1))],
      ['holds a string with no JCS form (a lone surrogate)', Buffer.from(JSON.stringify({ ...RECEIPTS[1], chain: '\ud800' }))],
      ['is not UTF-8', Buffer.from(JSON.stringify({ ...RECEIPTS[1], chain: '\u00ff' }), 'latin1')],
    ])('fails with RECEIPT_INVALID when the receipt file %s', (_what, bytes) => {
      writeFileSync(join(dir, 'tampered.json'), bytes);
      expect(failure(proofFile, join(dir, 'tampered.json'))).toBe('RECEIPT_INVALID');
    });

    it('fails with RECEIPT_INVALID when the receipt file names a member twice: it would read otherwise than the receipt proven', () => {
      // A reader sees the first decision (deny 403); JSON.parse keeps the last, the genuine allow.
      const genuine = JSON.stringify(RECEIPTS[1]);
      const twice = `{"decision":{"verdict":"deny","guard":"Policy","http_status":403,"shadow":false},${genuine.slice(1)}`;
      expect(failure(proofFile, saved('twice.json', twice))).toBe('RECEIPT_INVALID');
      const answer = `{"receipt":${genuine},"receipt":${genuine}}`;
      expect(failure(proofFile, saved('twice-answer.json', answer))).toBe('RECEIPT_INVALID');
    });

    it('exits 3 from the command line too', async () => {
      const proof = saved('bad-hash.tlog-proof', good.replace(/\nindex 1\n./, '\nindex 1\n!'));
      const run = await runChioFor(SPAWN_LIMIT_MS, ['verify-proof', proof, '--receipt', receiptFile, ...KEYS]);
      expect(run.stderr).toContain(`${proof}: tlog-proof: line 3 is not a base64 proof hash`);
      expect(run.exit).toBe(3);
    }, SPAWN_LIMIT_MS + 15_000);

    it('still fails as bad configuration (exit 2) for a log key that is not a key', () => {
      expect(statusOf(thrownCode(() => verifyProofFiles(proofFile, receiptFile, { ...TRUST, logKey: 'not a key' }))).exit).toBe(2);
    });

    it('fails as bad configuration (exit 2) for a file that is not there, saying so in words', () => {
      expect(thrownCode(() => verifyProofFiles(join(dir, 'missing'), receiptFile, TRUST))).toBe('CONFIG_INVALID');
      // Not the system's code ("cannot be read (ENOENT)"): the words a config file's refusal uses.
      expect(() => verifyProofFiles(join(dir, 'missing'), receiptFile, TRUST)).toThrow(`${join(dir, 'missing')}: cannot be read (no such file)`);
      expect(() => verifyProofFiles(proofFile, dir, TRUST)).toThrow(`${dir}: not a plain file`);
    });
  });

  describe('when the receipt was corrected (stored, but answered deny 503)', () => {
    const correction = signReceipt(toCorrectionDraft(RECEIPTS[1]!, '2025-01-01T00:59:00.000Z'), { chain: RECEIPTS[1]!.chain, seq: 3, prev: RECEIPTS[1]!.id }, KERNEL);
    const log = [RECEIPTS[0]!, RECEIPTS[1]!, correction];
    let answer: ReceiptProof;
    let correctionAnswer: ReceiptProof;
    let correctedProof: string;
    beforeAll(async () => {
      answer = { ...(await receiptProofOf(log, 1, LOG.signerKey)), corrected_by: correction.id };
      correctionAnswer = await receiptProofOf(log, 2, LOG.signerKey);
      correctedProof = saved('corrected.tlog-proof', tlogProofOf(answer));
    });
    /** What chio prove --receipt-out saves for it, after proving both. */
    const savedByProve = () => {
      const proven = verifyReceiptProof(answer, TRUST);
      return receiptFileOf({ ...proven, correction: verifyReceiptProof(correctionAnswer, TRUST), answer, correctionAnswer });
    };

    it("shows the answer given, proven by the correction's proof that chio prove saves, never a plain allow", () => {
      const shown = verifyProofFiles(correctedProof, saved('corrected.json', savedByProve()), TRUST);
      expect(shown.correction?.receipt).toEqual(correction);
      expect(formatProven(shown)).toContain(`receipt ${RECEIPTS[1]!.id}: decided allow, stored, but answered deny 503 by ReceiptLedger (corrected by ${correction.id})`);
      expect(toProvenJson(shown)).toEqual({ id: RECEIPTS[1]!.id, index: 1, tree_size: 3, verdict: 'deny', corrected_by: correction.id, ok: true });
    });

    it('saves canonical JSON, with only what proved the correction', () => {
      const text = savedByProve();
      expect(text).toBe(`${canonicalize(JSON.parse(text))}\n`);
      expect(Object.keys(JSON.parse(text).correction)).toEqual(['checkpoint', 'inclusion_proof', 'index', 'receipt']);
    });

    it('refuses, exit 3, a saved answer that names the correction without its proof', async () => {
      const file = saved('answer-only.json', JSON.stringify(answer));
      expect(failure(correctedProof, file)).toBe('CORRECTION_INVALID');
      const run = await runChioFor(SPAWN_LIMIT_MS, ['verify-proof', correctedProof, '--receipt', file, ...KEYS, '--json']);
      expect(run.exit).toBe(3);
      expect(run.stdout).toBe('');
      expect(run.stderr).toContain(`receipt ${RECEIPTS[1]!.id} was corrected by ${correction.id}, but the file holds no proof of the correction`);
    }, SPAWN_LIMIT_MS + 15_000);

    it('refuses a correction that does not correct this receipt', async () => {
      const other = await receiptProofOf(RECEIPTS, 2, LOG.signerKey);
      const file = saved('other.json', JSON.stringify({ ...answer, corrected_by: RECEIPTS[2]!.id, correction: other }));
      expect(failure(proofFile, file)).toBe('CORRECTION_INVALID');
    });

    it("refuses a correction whose proof does not verify, or is of no form", () => {
      const bad = (c: unknown) => failure(correctedProof, saved('bad.json', JSON.stringify({ ...answer, correction: c })));
      expect(bad({ ...correctionAnswer, index: 0 })).toBe('PROOF_INVALID');
      expect(bad({ ...correctionAnswer, inclusion_proof: ['!'] })).toBe('CORRECTION_INVALID');
      expect(bad('a correction')).toBe('CORRECTION_INVALID');
    });

    it('refuses a correction that no corrected_by names, and a corrected_by that is no receipt id', () => {
      const { corrected_by: _named, ...unnamed } = answer;
      expect(failure(correctedProof, saved('unnamed.json', JSON.stringify({ ...unnamed, correction: correctionAnswer })))).toBe('RECEIPT_INVALID');
      expect(failure(correctedProof, saved('not-id.json', JSON.stringify({ ...answer, corrected_by: 'x', correction: correctionAnswer })))).toBe('RECEIPT_INVALID');
    });

    it('still reads a saved answer of a receipt that was not corrected as its own verdict', async () => {
      const plain = await receiptProofOf(RECEIPTS, 1, LOG.signerKey);
      expect(toProvenJson(verifyProofFiles(proofFile, saved('plain-answer.json', JSON.stringify(plain)), TRUST)).verdict).toBe('allow');
    });
  });
});
