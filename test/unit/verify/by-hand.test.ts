/**
 * The by-hand verifier of docs/receipts.md ("By hand"), run as a reader would run it: with
 * node, a saved GET /v1/receipts/<id> answer and the two verifier keys. It is what an auditor
 * without Chio's code copies, so it must refuse what chio/verify refuses: here, an inclusion
 * proof whose index is outside the checkpoint's tree (RFC 9162 §2.1.3.2, step 1), which the
 * path climb alone does not notice (leaf 0 of a tree of 2 also climbs to the root "at index 2").
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { toBase64 } from '../../../src/encoding.js';
import { proveRecord } from '../../../src/tlog/index.js';
import { REPO_ROOT } from '../../support/chio.js';
import { chain, kernel, logKey, treeOf } from './bundle.js';

const script = /```js\n(\/\/ verify-by-hand\.mjs[\s\S]*?)```/.exec(readFileSync(join(REPO_ROOT, 'docs/receipts.md'), 'utf8'))?.[1];
const dir = mkdtempSync(join(tmpdir(), 'chio-by-hand-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the docs' script on `answer`; its stdout, or the error it threw. */
function byHand(answer: unknown): { ok: boolean; output: string } {
  writeFileSync(join(dir, 'verify-by-hand.mjs'), script!);
  writeFileSync(join(dir, 'answer.json'), JSON.stringify(answer));
  try {
    const out = execFileSync(process.execPath, [join(dir, 'verify-by-hand.mjs'), join(dir, 'answer.json'), kernel.verifierKey, logKey.verifierKey], { encoding: 'utf8', stdio: 'pipe' });
    return { ok: true, output: out };
  } catch (err) {
    return { ok: false, output: String((err as { stderr?: string }).stderr ?? err) };
  }
}

describe('the by-hand verifier of docs/receipts.md', async () => {
  const receipts = chain(2);
  const { store, size, checkpoint } = await treeOf(receipts);
  const answerAt = async (leaf: number, index: number) => ({
    receipt: receipts[leaf],
    index,
    checkpoint,
    inclusion_proof: (await proveRecord(size, leaf, store.readHashes)).map(toBase64),
  });

  it('is in the docs', () => expect(script).toBeDefined());

  it('holds for a genuine answer', async () => {
    const r = byHand(await answerAt(0, 0));
    expect(r.output).toContain('inclusion at 0 of 2 hold');
    expect(r.ok).toBe(true);
  });

  it('refuses an index outside the tree, though the path climbs to the root', async () => {
    const r = byHand(await answerAt(0, 2));
    expect(r.ok).toBe(false);
    expect(r.output).not.toContain('hold');
  });
});
