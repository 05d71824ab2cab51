/**
 * The storage boundary (docs/design.md): src/store is the only code that knows JetStream
 * stream, bucket and object-store names; the ledger and the verifier both go through it and
 * import nothing from each other, so either can change (a standby ledger, verifier export)
 * without the other.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as resources from '../../../src/store/resources.js';

const SRC = resolve(import.meta.dirname, '../../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Module specifiers of a file's static and dynamic imports and re-exports. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
}

/** The top folder under src/ a relative import of `file` lands in ('' for src/*.ts). */
function targetFolder(file: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const target = relative(SRC, resolve(dirname(file), specifier));
  return target.includes('/') ? target.split('/')[0] : '';
}

function folderOf(file: string): string {
  return relative(SRC, file).split('/')[0]!;
}

const files = sourceFiles(SRC);

describe('the storage boundary', () => {
  it.each([
    ['verifier', 'ledger'],
    ['ledger', 'verifier'],
  ])('src/%s imports nothing from src/%s', (from, to) => {
    const offending = files
      .filter((f) => folderOf(f) === from)
      .flatMap((f) => importsOf(f).filter((s) => targetFolder(f, s) === to).map((s) => `${relative(SRC, f)} → ${s}`));
    expect(offending).toEqual([]);
  });

  it('names no JetStream stream, bucket or subject outside src/store', () => {
    const names = Object.values(resources as Record<string, unknown>).filter((v): v is string => typeof v === 'string');
    expect(names).toContain('chio-index');
    const quoted = new RegExp(`['"\`](?:${names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})\\b`);
    const offending = files.filter((f) => folderOf(f) !== 'store' && quoted.test(readFileSync(f, 'utf8'))).map((f) => relative(SRC, f));
    expect(offending).toEqual([]);
  });

  it('keeps the ledger and the verifier off the raw names in src/store/resources.ts', () => {
    const offending = files
      .filter((f) => ['ledger', 'verifier'].includes(folderOf(f)))
      .filter((f) => /\b(?:[A-Z]+_(?:STREAM|SUBJECT|SUBJECT_PREFIX|BUCKET|STORE))\b/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(SRC, f));
    expect(offending).toEqual([]);
  });
});
