/**
 * What the policy commands print in text comes from files written elsewhere (a policy or test
 * file in a pull request, a file name, a YAML error quoting the line it failed on): printed with
 * control characters escaped (terminal.ts), as bin/chio.js prints its `chio:` messages, so that
 * an escape sequence cannot restyle the terminal, erase an ERROR row or fake an `ok` line.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatEvaluation } from '../../../src/cli/policy-eval.js';
import { formatScan } from '../../../src/cli/policy-scan.js';
import { formatResults } from '../../../src/cli/policy-test.js';
import { tempDir } from '../../support/nats.js';
import { runChio } from '../../support/run-chio.js';
import { HEADER_GATE_POLICY as POLICY } from '../../fixtures/kyverno-authz.js';

/** Erase the line, go to its start and write a verdict of our own, then hide what follows. */
const FAKE = '\u001b[2K\r\u001b[1A\u001b[2Kall good: ok\u001b[8m';
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

describe('chio policy check', () => {
  const dir = tempDir('chio-policy-terminal-');
  const env = { CHIO_KEY_DIR: join(dir, 'keys') };

  it('tells a YAML error on a line with an escape sequence without quoting the line, exit 2', async () => {
    writeFileSync(join(dir, 'bad.yaml'), `kind: "${FAKE}" : x: [\n`);
    const run = await runChio(['policy', 'check', join(dir, 'bad.yaml')], env);
    expect(run.exit).toBe(2);
    expect(run.stderr).toMatch(/bad\.yaml document 1: .* at line 1, column \d+\n$/);
    expect(run.stderr).not.toContain('all good');
    expect(run.stderr).not.toMatch(CONTROL);
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
  }, 30_000);

  it('escapes a file name in its ok line', async () => {
    const name = join(dir, 'p\u001b[31m.yaml');
    writeFileSync(name, POLICY);
    const run = await runChio(['policy', 'check', name], env);
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/^[^\n]*p\\u\{1b\}\[31m\.yaml: ok, 1 document\(s\), sha256:[0-9a-f]{64}\n$/);
    expect(run.exit).toBe(0);
  }, 30_000);
});

describe('the text of chio policy test', () => {
  it('escapes file, case and detail, one line each', () => {
    const text = formatResults([
      { file: `t${FAKE}.test.yaml`, outcome: 'error', detail: `t.test.yaml: bad at line 1:\n\ntests: "${FAKE}"\n       ^` },
      { file: 't.test.yaml', name: `case ${FAKE}`, outcome: 'pass' },
    ]);
    expect(text).not.toMatch(CONTROL);
    expect(text.split('\n')).toHaveLength(4);
    expect(text).toContain('\\u{1b}[8m');
  });
});

describe('the text of chio policy eval', () => {
  it('escapes what a policy said: reason, rule, headers, body', () => {
    const text = formatEvaluation({
      verdict: 'deny', guard: 'Policy', reason: `denied ${FAKE}`, httpStatus: 403, policy: `p${FAKE}`, rule: `r${FAKE}`,
      headersToAdd: {}, headersToRemove: [], responseHeadersToAdd: {}, body: `b${FAKE}`,
    });
    expect(text).not.toMatch(CONTROL);
    expect(formatEvaluation({ verdict: 'allow', httpStatus: 200, headersToAdd: { [`h${FAKE}`]: `v${FAKE}` }, headersToRemove: [`x${FAKE}`], responseHeadersToAdd: { r: FAKE } })).not.toMatch(CONTROL);
  });

  it('escapes a scan: policy, rule, messages and failure paths', () => {
    const text = formatScan([{ policy: `p${FAKE}`, rule: `r${FAKE}`, result: 'fail', violations: [{ message: `m${FAKE}`, failures: [{ path: `a${FAKE}`, reason: `why${FAKE}` }] }] }]);
    expect(text).not.toMatch(CONTROL);
    expect(text.split('\n')).toHaveLength(4);
  });
});
