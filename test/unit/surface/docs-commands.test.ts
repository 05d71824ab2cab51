/**
 * The README's Commands table is the `chio` command as built: a usage for every command that
 * runs something (and none that is not one), each naming every option of its command and no
 * option the command does not take, in brackets when it may be left out and only then.
 */
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../../src/cli/program.js';
import { tableUnder, ticked } from './doc-text.js';

/** Every command with an action, by its path (`token issue`), with its long options. */
function leaves(command: Command, path: string[] = []): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const sub of command.commands) {
    const at = [...path, sub.name()];
    if (sub.commands.length > 0) for (const [k, v] of leaves(sub, at)) out.set(k, v);
    else out.set(at.join(' '), sub.options.map((o) => (o.mandatory ? o.long! : `[${o.long!}]`)).sort());
  }
  return out;
}

/** Each usage of the table, `chio token issue --subject S …`, as its command path and options. */
function documented(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [cell] of tableUnder('README.md', 'Commands')) {
    for (const usage of ticked(cell!.replace(/\\\|/g, '|'))) {
      const words = usage.split(' ').slice(1);
      const end = words.findIndex((w) => !/^[a-z][a-z-]*$/.test(w));
      const path = (end < 0 ? words : words.slice(0, end)).join(' ');
      out.set(path, [...new Set(optionsOf(usage))].sort());
    }
  }
  return out;
}

/** The options a usage names, `[--x]` when it puts them in brackets (optional), `--x` when not. */
function optionsOf(usage: string): string[] {
  const out: string[] = [];
  let depth = 0;
  for (const m of usage.matchAll(/\[|\]|--[a-z][a-z-]*/g)) {
    if (m[0] === '[') depth++;
    else if (m[0] === ']') depth--;
    else out.push(depth > 0 ? `[${m[0]}]` : m[0]);
  }
  return out;
}

describe('README.md, Commands', () => {
  const built = leaves(buildProgram());
  const table = documented();

  it('has a usage for every command, and for no other', () => {
    expect([...table.keys()].filter((path) => path !== '').sort()).toEqual([...built.keys()].sort());
  });

  it('has `chio --version`, the one option that runs without a command', () => {
    expect(buildProgram().options.map((o) => o.long)).toContain('--version');
    expect(table.get('')).toEqual(['--version']);
  });

  it("names each command's options, and only those, in brackets when they may be left out", () => {
    const problems: string[] = [];
    for (const [path, options] of built) {
      const named = table.get(path) ?? [];
      for (const o of options) if (!named.includes(o)) problems.push(`chio ${path}: ${o} not named so`);
      for (const o of named) if (!options.includes(o)) problems.push(`chio ${path}: ${o} is no option of it`);
    }
    expect(problems).toEqual([]);
  });
});
