/** The `chio` command line run in this process, for tests of a command's wiring. */
import { vi } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';

/** Run `chio args…`; its stdout is returned, a failure rejects with what was thrown. */
export async function chio(...args: string[]): Promise<string> {
  let out = '';
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((out += String(chunk)), true));
  try {
    await buildProgram().exitOverride().parseAsync(['node', 'chio', ...args]);
  } finally {
    write.mockRestore();
  }
  return out;
}
