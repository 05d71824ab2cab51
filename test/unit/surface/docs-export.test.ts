/**
 * An auditor checks a bundle from docs/export.md alone, without Chio's code: the table "What a
 * bundle holds" must name every member a manifest.json and a consistency.json can hold, each
 * member of their objects too (`filter`'s, `previous`'s), and every file `files` names. The
 * bundle checked against the table is one ExportBundleVerifier accepts, with every optional
 * part present (a filter of all four members, a previous tree).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../support/chio.js';
import { bundleOf, chain, verifyBundle } from '../verify/bundle.js';

/** Row `file` of the table under "## What a bundle holds": the names it puts in backticks. */
function documented(file: string): Set<string> {
  const text = readFileSync(join(REPO_ROOT, 'docs/export.md'), 'utf8');
  const start = text.indexOf('\n## What a bundle holds\n');
  expect(start, 'docs/export.md: ## What a bundle holds').toBeGreaterThanOrEqual(0);
  const row = text.slice(start).split('\n').find((l) => l.startsWith(`| \`${file}\` |`));
  expect(row, `a row for ${file}`).toBeDefined();
  return new Set([...row!.matchAll(/`([^`]*)`/g)].map((m) => m[1]!));
}

/** Member names of a JSON object and of the objects it holds, as `name` (arrays not entered). */
function members(value: unknown, skip: ReadonlySet<string>): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  return Object.entries(value).flatMap(([k, v]) => [k, ...(skip.has(k) ? [] : members(v, skip))]);
}

const asDocumented = (path: string) => path.replace(/^policies\/[0-9a-f]{64}\.json$/, 'policies/<hex>.json');

describe('docs/export.md, What a bundle holds', async () => {
  const receipts = chain(4);
  const filter = { since: '2025-01-01T00:00:00.000Z', until: '2025-01-02T00:00:00.000Z', verdict: 'allow' as const, host: 'api.example' };
  const bundle = await bundleOf(receipts, { filter, previousSize: 2 });
  const manifest = JSON.parse(new TextDecoder().decode(bundle.manifest)) as { files: Record<string, string> };
  const consistency = JSON.parse(new TextDecoder().decode(bundle.files['consistency.json']!)) as Record<string, unknown>;

  it('is a bundle chio verify-export accepts', () => {
    expect(() => verifyBundle(bundle)).not.toThrow();
  });

  it('names every member of manifest.json', () => {
    const names = documented('manifest.json');
    expect(members(manifest, new Set(['files'])).filter((m) => !names.has(m))).toEqual([]);
  });

  it('names every file the manifest digests, and says manifest.sig is not one', () => {
    const names = documented('manifest.json');
    expect(Object.keys(manifest.files).map(asDocumented).filter((f) => !names.has(f))).toEqual([]);
    expect(Object.keys(manifest.files)).not.toContain('manifest.sig');
    expect(names.has('manifest.sig')).toBe(true);
  });

  it('names every member of consistency.json', () => {
    const names = documented('consistency.json');
    expect(Object.keys(consistency).filter((m) => !names.has(m))).toEqual([]);
  });
});
