/**
 * `--help` states each default as the user writes the value (docs/policies.md: `--ttl`
 * "default `1h`"), never as the internal form a parser made of it: `--ttl` showed
 * `(default: 3600)`, seconds a user cannot pass back, and verify-export's repeatable
 * `--kernel-key` showed `(default: [])` where the default is the keys the bundle names.
 */
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../../src/cli/program.js';

function commandAt(path: string[]): Command {
  let cmd: Command = buildProgram();
  for (const name of path) cmd = cmd.commands.find((c) => c.name() === name)!;
  return cmd;
}

function everyCommand(cmd: Command): Command[] {
  return [cmd, ...cmd.commands.flatMap(everyCommand)];
}

describe('chio --help defaults', () => {
  it('token issue states the --ttl default as a duration, 1h', () => {
    const help = commandAt(['token', 'issue']).helpInformation();
    expect(help).toMatch(/--ttl <duration>[^]*\(default: 1h\)/);
    expect(help).not.toContain('3600');
  });

  it('verify-export states what --kernel-key defaults to: the keys the bundle names', () => {
    const help = commandAt(['verify-export']).helpInformation().replace(/\s+/g, ' ');
    expect(help).toContain('(default: the kernel keys the bundle names)');
  });

  it('no command shows an internal default such as an empty list', () => {
    for (const cmd of everyCommand(buildProgram())) expect(cmd.helpInformation(), cmd.name()).not.toContain('(default: [])');
  });
});
