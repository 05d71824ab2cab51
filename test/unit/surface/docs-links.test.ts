/**
 * The README and docs/ are for users and stay inside the repository: every link in them names
 * a file of the repository that exists (and a heading of it, when it names one), and none leads
 * outside (a loopback address in an example is Chio itself, running).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../support/chio.js';

const pages = ['README.md', ...readdirSync(join(REPO_ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** The page's prose: fenced blocks and inline code left out (their text is not a link). */
function prose(markdown: string): string {
  return markdown.replace(/^```[^\n]*\n[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
}

/** GitHub's anchor of a heading: lower case, spaces to hyphens, punctuation dropped. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/`/g, '').replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-');
}

function anchorsOf(file: string): Set<string> {
  // Fenced blocks left out (a `# comment` there is no heading), inline code kept: GitHub's
  // anchor of "Trying a policy: `chio policy eval`" is trying-a-policy-chio-policy-eval.
  const headings = readFileSync(file, 'utf8').replace(/^```[^\n]*\n[\s\S]*?^```/gm, '').match(/^#{1,6} .*$/gm) ?? [];
  return new Set(headings.map((h) => slug(h.replace(/^#+ /, ''))));
}

/** Every link target of a page: [text](target), <scheme://…> and bare http(s) addresses. */
function linksOf(markdown: string): string[] {
  const text = prose(markdown);
  const inline = [...text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]!);
  const auto = [...text.matchAll(/<([a-z][a-z0-9+.-]*:[^>\s]+)>/gi)].map((m) => m[1]!);
  const bare = [...text.matchAll(/(?<![(<])\bhttps?:\/\/[^\s)>\]]+/g)].map((m) => m[0]);
  return [...inline, ...auto, ...bare];
}

const LOOPBACK = /^https?:\/\/(?:127\.0\.0\.1|localhost|\[::1\])(?::\d+)?(?:\/|$)/;

describe('links in the README and docs/', () => {
  it('finds links the way a reader sees them', () => {
    expect(linksOf('see [a](b.md#c) and <https://x.example/> or https://y.example/z.\n```\n[no](code.md)\n```\n`[no](inline.md)`')).toEqual(['b.md#c', 'https://x.example/', 'https://y.example/z.']);
    expect(slug('ValidatingPolicy (kyverno-authz, CEL)')).toBe('validatingpolicy-kyverno-authz-cel');
  });

  for (const page of pages) {
    it(`${page}: every link stays in the repository and resolves`, () => {
      const file = join(REPO_ROOT, page);
      const problems: string[] = [];
      for (const link of linksOf(readFileSync(file, 'utf8'))) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(link)) {
          if (!LOOPBACK.test(link)) problems.push(`${link}: leads outside the repository`);
          continue;
        }
        const [path, anchor] = link.split('#') as [string, string | undefined];
        const target = path === '' ? file : resolve(dirname(file), decodeURI(path));
        if (!target.startsWith(REPO_ROOT) || !existsSync(target)) problems.push(`${link}: no such file in the repository`);
        else if (anchor !== undefined && target.endsWith('.md') && !anchorsOf(target).has(anchor)) problems.push(`${link}: no such heading`);
      }
      expect(problems).toEqual([]);
    });
  }
});
