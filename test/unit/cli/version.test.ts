/** `chio --version`: package.json's version, as commander prints it, exit 0. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../../src/cli/program.js';
import { REPO_ROOT } from '../../support/chio.js';

const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

describe('chio --version', () => {
  it.each(['--version', '-V'])('%s prints the version of package.json and nothing else', async (flag) => {
    let out = '';
    const program = buildProgram().exitOverride().configureOutput({ writeOut: (text) => void (out += text), writeErr: () => undefined });
    // exitOverride: commander's exit 0 after printing is thrown instead of ending the test.
    await expect(program.parseAsync(['node', 'chio', flag])).rejects.toMatchObject({ code: 'commander.version', exitCode: 0 });
    expect(out).toBe(`${VERSION}\n`);
  });
});
