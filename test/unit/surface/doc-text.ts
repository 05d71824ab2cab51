/**
 * Reading the README and docs/ as a reader does, for the tests that hold what they say equal to
 * what the code does: a page, one `## heading`'s section of it, the first table under a heading.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { REPO_ROOT } from '../../support/chio.js';

export const read = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');

/**
 * The text of a page from `#… heading` to the next heading of that level or higher; a `# line`
 * in a fenced block (a YAML comment) is no heading.
 */
export function section(page: string, heading: string, level = 2): string {
  const lines = read(page).split('\n');
  const start = lines.indexOf(`${'#'.repeat(level)} ${heading}`);
  expect(start, `${page}: ${'#'.repeat(level)} ${heading}`).toBeGreaterThanOrEqual(0);
  let fenced = false;
  let end = start + 1;
  for (; end < lines.length; end++) {
    if (lines[end]!.startsWith('```')) fenced = !fenced;
    const marks = /^(#{1,6}) /.exec(lines[end]!)?.[1];
    if (!fenced && marks !== undefined && marks.length <= level) break;
  }
  return lines.slice(start, end).join('\n');
}

/** The rows of the first table of `text`: cells trimmed, backticks kept; a `\|` stays in its cell. */
export function firstTable(text: string): string[][] {
  const lines = text.split('\n');
  const first = lines.findIndex((l) => l.startsWith('|'));
  expect(first, 'a table').toBeGreaterThanOrEqual(0);
  const rows: string[][] = [];
  for (const line of lines.slice(first + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(line.slice(1, -1).split(/(?<!\\) \| /).map((c) => c.trim()));
  }
  return rows;
}

/** The rows of the first table under `## heading` of a page. */
export function tableUnder(page: string, heading: string, level = 2): string[][] {
  return firstTable(section(page, heading, level));
}

/** What a cell puts in backticks, in order. */
export const ticked = (cell: string): string[] => [...cell.matchAll(/`([^`]*)`/g)].map((m) => m[1]!);
