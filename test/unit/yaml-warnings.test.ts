/**
 * The YAML files other than policies (the config file, kernels.yaml, policy test files, request
 * and payload files): a tag or directive the YAML library does not know is refused in one line,
 * never read as if it were not there, and never printed by the library itself. It printed each
 * warning with the line it was on (process.emitWarning, to stderr): `natsPass: !secret hunter2`
 * put the NATS password on stderr, and the password was then used, tag dropped.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { parseKernelKeysFile } from '../../src/kernel-keys.js';
import { parseDataText } from '../../src/cli/policy-eval.js';
import { readTestFile } from '../../src/cli/policy-test-file.js';

const SECRET = 'hunter2-not-to-be-printed';

function fileWith(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'chio-yw-')), name);
  writeFileSync(path, text);
  return path;
}

/** What `read` threw, with every process warning emitted meanwhile. */
function refusal(read: () => unknown): { message: string; warnings: string[] } {
  const warnings: string[] = [];
  const spy = vi.spyOn(process, 'emitWarning').mockImplementation((w: string | Error) => {
    warnings.push(String(w instanceof Error ? w.message : w));
  });
  try {
    read();
    return { message: '(read)', warnings };
  } catch (err) {
    return { message: (err as Error).message, warnings };
  } finally {
    spy.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

describe('YAML files besides policies', () => {
  describe('when a value has a tag the library does not know', () => {
    it.each([
      ['the config file', () => loadConfig({ env: {}, configFile: fileWith('chio.yaml', `natsUser: chio\nnatsPass: !secret ${SECRET}\n`) }), /^config file .*chio\.yaml: Unresolved tag: !secret at line 2, column 11$/],
      ['kernels.yaml', () => parseKernelKeysFile(`kernels:\n  - key: !secret ${SECRET}\n`, '/k/kernels.yaml'), /^kernel keys file \/k\/kernels\.yaml: not YAML \(Unresolved tag: !secret at line 2, column 10\)$/],
      ['a request or payload file', () => parseDataText(`attributes: !secret ${SECRET}\n`, 'req.yaml'), /^req\.yaml: Unresolved tag: !secret at line 1, column 13$/],
      ['a policy test file', () => readTestFile(fileWith('a.test.yaml', `policies: !secret ${SECRET}\ntests: []\n`)), /a\.test\.yaml: Unresolved tag: !secret at line 1, column 11$/],
    ])('%s is refused in one line, without printing it', (_what, read, message) => {
      const { message: got, warnings } = refusal(read);
      expect(got).toMatch(message);
      expect(got).not.toContain(SECRET);
      expect(warnings).toEqual([]);
    });
  });

  it('refuses an unknown directive in the config file', () => {
    expect(refusal(() => loadConfig({ env: {}, configFile: fileWith('chio.yaml', '%FOO bar\n---\nlogLevel: info\n') })).message).toMatch(/^config file .*chio\.yaml: Unknown directive %FOO at line 1, column 1$/);
  });

  it('prints no warning for a collection key, which it refuses', () => {
    const { message, warnings } = refusal(() => parseDataText('{ ? [a, b] : 1 }\n', 'req.yaml'));
    expect(message).toMatch(/^req\.yaml: /);
    expect(warnings).toEqual([]);
  });
});
