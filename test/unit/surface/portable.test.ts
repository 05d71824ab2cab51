/**
 * `chio/verify` (src/verify/index.ts) runs in any JavaScript runtime: no module in its graph may
 * import a Node builtin or use a Node global (issue #6, SPEC §5).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { generateSignerKey } from '../../../src/tlog/index.js';
import { chainOf, kernelOf } from '../receipt/helpers.js';
import { receiptProofOf } from '../verify/proofs.js';
import { moduleGraph, nodeGlobalsIn } from './module-graph.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const ENTRY = join(ROOT, 'src/verify/index.ts');
const here = (file: string) => relative(ROOT, file);

describe('moduleGraph', () => {
  const dir = mkdtempSync(join(tmpdir(), 'chio-graph-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds a builtin imported two hops away, through a multi-line type import and a re-export', () => {
    writeFileSync(join(dir, 'entry.ts'), "import type {\n  B,\n} from './b.js';\nexport * from './c.js';\n");
    writeFileSync(join(dir, 'b.ts'), 'export type B = number;\n');
    writeFileSync(join(dir, 'c.ts'), "export const c = await import('node:fs');\nimport 'path';\n");
    const graph = moduleGraph(join(dir, 'entry.ts'));
    expect(graph.files.map((f) => relative(dir, f))).toEqual(['entry.ts', 'b.ts', 'c.ts']);
    expect(graph.builtins).toEqual([{ file: join(dir, 'c.ts'), specifier: 'node:fs' }, { file: join(dir, 'c.ts'), specifier: 'path' }]);
  });

  it('finds Node globals in code but not in comments, strings or property names', () => {
    writeFileSync(join(dir, 'globals.ts'), "// Buffer\nconst s = 'process';\nconst o = { require: 1 };\no.require;\nexport const b = Buffer.from(s);\n");
    expect(nodeGlobalsIn(join(dir, 'globals.ts'))).toEqual(['Buffer']);
  });
});

describe('the chio/verify module graph', () => {
  const graph = moduleGraph(ENTRY);

  it('reaches the receipt, tlog and verify modules and the @noble packages they use', () => {
    const files = graph.files.map(here);
    for (const f of ['src/receipt/verify.ts', 'src/receipt/jcs.ts', 'src/tlog/note.ts', 'src/tlog/tree.ts', 'src/verify/receipt-proof.ts', 'src/verify/consistency-proof.ts', 'node_modules/@noble/ed25519/index.js', 'node_modules/@noble/hashes/sha2.js']) {
      expect(files).toContain(f);
    }
    expect(graph.unresolved).toEqual([]);
  });

  it('imports no Node builtin, in Chio or in the packages it uses', () => {
    expect(graph.builtins.map((b) => `${here(b.file)} imports ${b.specifier}`)).toEqual([]);
  });

  it("uses no Node global (Buffer, process, require, …) in Chio's own modules", () => {
    const used = graph.files.filter((f) => f.startsWith(join(ROOT, 'src'))).flatMap((f) => nodeGlobalsIn(f).map((g) => `${here(f)} uses ${g}`));
    expect(used).toEqual([]);
  });
});

describe('chio/verify in a Node that refuses every builtin', () => {
  it('loads and verifies a receipt proof', async () => {
    const log = generateSignerKey('chio.local/receipts', () => new Uint8Array(32).fill(41));
    const kernel = kernelOf(42);
    const proof = await receiptProofOf(chainOf(3, kernel), 1, log.signerKey);

    const script = `
      const { verifyReceiptProof } = await import(process.env.ENTRY);
      const { proof, trust } = JSON.parse(process.env.FIXTURE);
      const proven = verifyReceiptProof(proof, trust, proof.receipt.id);
      console.log(JSON.stringify({ index: proven.index, treeSize: proven.treeSize }));`;
    const refuse = pathToFileURL(join(import.meta.dirname, 'refuse-builtins.mjs')).href;
    const { stdout } = await promisify(execFile)(process.execPath, [
      '--import', 'tsx',
      '--import', `data:text/javascript,import{register}from"node:module";register(${JSON.stringify(refuse)})`,
      '--input-type=module', '-e', script,
    ], {
      cwd: ROOT,
      env: { ...process.env, ENTRY: pathToFileURL(ENTRY).href, FIXTURE: JSON.stringify({ proof, trust: { logKey: log.verifierKey, kernelKeys: [kernel.verifierKey] } }) },
    });
    expect(JSON.parse(stdout)).toEqual({ index: 1, treeSize: 3 });
  });
});
