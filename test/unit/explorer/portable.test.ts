/**
 * The explorer page's script runs in a browser: its module graph (the page, src/verify and what
 * they import) reaches no Node builtin and no Node global. esbuild's browser build refuses a
 * builtin too; this also catches a global such as Buffer, which a bundle would carry silently.
 */
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { moduleGraph, nodeGlobalsIn } from '../surface/module-graph.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const here = (file: string) => relative(ROOT, file);

describe('the explorer page module graph', () => {
  const graph = moduleGraph(join(ROOT, 'src/explorer/page.ts'));

  it('reaches the portable verify code it runs', () => {
    expect(graph.files.map(here)).toEqual(expect.arrayContaining(['src/explorer/served-proof.ts', 'src/verify/report.ts', 'src/tlog/bundle.ts', 'node_modules/@noble/ed25519/index.js']));
    expect(graph.unresolved).toEqual([]);
  });

  it('imports no Node builtin and uses no Node global', () => {
    expect(graph.builtins.map((b) => `${here(b.file)} imports ${b.specifier}`)).toEqual([]);
    const used = graph.files.filter((f) => f.startsWith(join(ROOT, 'src'))).flatMap((f) => nodeGlobalsIn(f).map((g) => `${here(f)} uses ${g}`));
    expect(used).toEqual([]);
  });
});
