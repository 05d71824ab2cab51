/**
 * The normalisation examples of the docs are what the code does, and the refusal reasons
 * docs/api.md lists for a path are the ones the code sends: every example of docs/normalization.md's
 * path and host tables (`as sent` → `normal form`, or → deny) and of policies.md's Normalisation
 * table is run through normalizeTarget / normalizeHost.
 */
import { describe, expect, it } from 'vitest';
import { normalizeTarget } from '../../../src/decision/path.js';
import { normalizeHost } from '../../../src/decision/host.js';
import { read, section } from './doc-text.js';

/** What normalising gives: the form, or `deny: <reason>`. */
function outcome(normalise: (raw: string) => string, raw: string): string {
  try {
    return normalise(raw);
  } catch (err) {
    return `deny: ${(err as Error).message}`;
  }
}

const path = (raw: string) => normalizeTarget(raw).path;
const host = (raw: string) => normalizeHost(raw);

/** `a` → `b` (or `a` → `b` (then `c`…), the final form c), and `a` → deny, in the example column. */
function examples(text: string): Array<{ raw: string; expected: string | 'deny' }> {
  const found: Array<{ raw: string; expected: string | 'deny' }> = [];
  for (const line of text.split('\n').filter((l) => l.startsWith('| ') && l.includes('→'))) {
    const cell = line.slice(0, -1).split(' | ').at(-1)!;
    for (const m of cell.matchAll(/`([^`]+)`(?:, `[^`]+`)* → (?:`([^`]+)`(?: \(then `([^`]+)`)?|deny)/g)) {
      // `a`, `b` → `c` lists several spellings of one form.
      const raws = [m[1]!, ...[...m[0].split(' → ')[0]!.matchAll(/, `([^`]+)`/g)].map((x) => x[1]!)];
      for (const raw of raws) found.push({ raw, expected: m[2] === undefined ? 'deny' : (m[3] ?? m[2]) });
    }
  }
  return found;
}

function check(normalise: (raw: string) => string, cases: Array<{ raw: string; expected: string | 'deny' }>): string[] {
  const problems: string[] = [];
  for (const { raw, expected } of cases) {
    const got = outcome(normalise, raw);
    if (expected === 'deny' ? !got.startsWith('deny: ') : got !== expected) problems.push(`${raw}: docs ${expected}, code ${got}`);
  }
  return problems;
}

describe('docs/normalization.md', () => {
  it('path examples are what normalizeTarget gives', () => {
    const cases = examples(section('docs/normalization.md', 'The path'));
    expect(cases.length).toBeGreaterThan(15);
    expect(check(path, cases)).toEqual([]);
  });

  it('host examples are what normalizeHost gives', () => {
    const cases = examples(section('docs/normalization.md', 'The host'));
    expect(cases.length).toBeGreaterThan(10);
    expect(check(host, cases)).toEqual([]);
  });
});

describe('docs/policies.md, Normalisation', () => {
  it('each "as sent" is "matched as", or refused with the reason given', () => {
    const rows = section('docs/policies.md', 'Normalisation').split('\n').filter((l) => /^\| `/.test(l));
    expect(rows.length).toBeGreaterThan(3);
    const problems: string[] = [];
    for (const row of rows) {
      const [sent, matched] = row.slice(2, -2).split(' | ') as [string, string];
      const raw = sent.replace(/`/g, '');
      const got = outcome(raw.startsWith('/') ? path : host, raw);
      const expected = matched.startsWith('refused: ') ? `deny: ${matched.replace(/^refused: `|`$/g, '')}` : matched.replace(/`/g, '');
      if (got !== expected) problems.push(`${raw}: docs ${expected}, code ${got}`);
    }
    expect(problems).toEqual([]);
  });
});

describe('docs/api.md, REQUEST_MALFORMED reasons for a path', () => {
  const row = section('docs/api.md', 'The Check (Envoy ext_authz v3, gRPC)').split('\n').find((l) => l.startsWith('| path | '))!;
  const listed = [...row.matchAll(/`(path [^`]+)`/g)].map((m) => m[1]!);
  const source = read('src/decision/path.ts');
  const sent = [...source.slice(source.indexOf('export function normalizeTarget')).matchAll(/refuse\('([^']+)'\)/g)].map((m) => `path ${m[1]}`);

  it('lists every reason normalising a path refuses with (but UTF-8, in the fields row)', () => {
    expect(sent.length).toBeGreaterThan(5);
    expect(sent.filter((r) => r !== 'path is not valid UTF-8' && !listed.includes(r))).toEqual([]);
  });

  it('lists only reasons the code sends', () => {
    expect(listed.filter((r) => !sent.includes(r))).toEqual([]);
  });

  it('gives examples that are refused with their reason', () => {
    const problems: string[] = [];
    for (const m of row.matchAll(/`(path [^`]+)` \(`(\/[^`]*)`\)/g)) {
      const got = outcome(path, m[2]!);
      if (got !== `deny: ${m[1]}`) problems.push(`${m[2]}: docs ${m[1]}, code ${got}`);
    }
    expect(problems).toEqual([]);
  });
});
