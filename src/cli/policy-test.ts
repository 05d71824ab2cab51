/**
 * `chio policy test DIR` (SPEC §9): the test cases kept beside a policy set
 * (./policy-test-file.ts), each decided offline — no NATS, no receipt — by the decision
 * pipeline that serves Checks (`evaluateRequest`), and compared with what the case expects.
 *
 * The outcome of a run is one row per case: pass, fail (with what differed) or error (a test
 * file or its policy set that does not load, named with file and case). A test file that does
 * not load is reported and the others still run.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ChioError, statusOf } from '../errors/index.js';
import { listPolicyFiles, loadPolicySetFiles, TEST_FILE } from '../policy/policy-set.js';
import { evaluateRequest, type PolicyEvaluation } from './policy-eval.js';
import { forTerminal } from './terminal.js';
import { readTestFile, type Expectation, type TestFile } from './policy-test-file.js';

/** The status table's exit status for "any other failure": here, a case that fails. */
export const FAILED_EXIT = 1;

export interface TestResult {
  file: string;
  /** Absent when the whole file could not be read or its policies not loaded. */
  name?: string;
  outcome: 'pass' | 'fail' | 'error';
  /** What differed (fail) or what went wrong (error). */
  detail?: string;
}

export interface PolicyTestOptions {
  /** Where issuerKeyFiles are read unless a test file names its own keyDir. */
  keyDir: string;
  defaultVerdict: 'allow' | 'deny';
}

/** The test files of `dir` (paths joined to it): its `*.test.yaml` files, then those of its `tests/` folder, sorted. */
export function findTestFiles(dir: string): string[] {
  const inDir = (d: string) => {
    try {
      if (!statSync(d).isDirectory()) return [];
    } catch {
      return [];
    }
    return readdirSync(d).filter((f) => TEST_FILE.test(f) && !f.startsWith('.')).sort().map((f) => join(d, f));
  };
  const files = [...inDir(dir), ...inDir(join(dir, 'tests'))];
  if (files.length === 0) throw new ChioError('CONFIG_INVALID', `${dir}: no test files (*.test.yaml here or in tests/)`);
  return files;
}

/** Run every test file of `dir` against its policy set. */
export async function runPolicyTests(dir: string, options: PolicyTestOptions): Promise<TestResult[]> {
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new ChioError('CONFIG_INVALID', `${dir} is not a directory`);
  const results: TestResult[] = [];
  for (const file of findTestFiles(dir)) {
    try {
      results.push(...(await runTestFile(readTestFile(file), dir, options)));
    } catch (err) {
      results.push({ file, outcome: 'error', detail: err instanceof Error ? err.message : String(err) });
    }
  }
  return results;
}

async function runTestFile(t: TestFile, dir: string, options: PolicyTestOptions): Promise<TestResult[]> {
  // One clock per file, moved to each case's `now` before it is decided: the JWT authenticator
  // and the capability checks read it.
  let now = Date.now();
  const clock = () => now;
  let policies;
  try {
    const files = [...new Set((t.policies ?? [dir]).flatMap((path) => listPolicyFiles(path, 'policies')))];
    policies = loadPolicySetFiles(files, t.keyDir ?? options.keyDir, { now: clock });
  } catch (err) {
    throw new ChioError('CONFIG_INVALID', `${t.file}: its policy set does not load: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const results: TestResult[] = [];
  for (const c of t.cases) {
    now = c.now ?? Date.now();
    const differences = compare(c.expect, await evaluateRequest(policies, c.request, options.defaultVerdict, clock));
    results.push({ file: t.file, name: c.name, outcome: differences.length === 0 ? 'pass' : 'fail', ...(differences.length > 0 ? { detail: differences.join('; ') } : {}) });
  }
  return results;
}

/** What differs between the expectation and the evaluation, one phrase each; empty when none. */
export function compare(expected: Expectation, got: PolicyEvaluation): string[] {
  const out: string[] = [];
  const same = (what: string, want: unknown, have: unknown) => {
    if (want !== undefined && want !== have) out.push(`${what}: expected ${JSON.stringify(want)}, got ${have === undefined ? 'none' : JSON.stringify(have)}`);
  };
  same('verdict', expected.verdict, got.verdict);
  same('guard', expected.guard, got.guard);
  same('status', expected.status, got.httpStatus);
  same('reason', expected.reason, got.reason);
  same('body', expected.body, got.body);
  same('policy', expected.policy, got.policy);
  same('rule', expected.rule, got.rule);
  const added = (what: string, want: Record<string, string> | undefined, have: Record<string, string> | undefined) => {
    for (const [k, v] of Object.entries(want ?? {})) same(`${what} ${k}`, v, have?.[k]);
  };
  const removed = (what: string, want: string[] | undefined, have: readonly string[] | undefined) => {
    for (const k of want ?? []) if (!have?.includes(k)) out.push(`removed ${what} ${k}: expected removed, got kept`);
  };
  added('request header', expected.headers, got.headersToAdd);
  added('response header', expected.responseHeaders, got.responseHeadersToAdd);
  removed('header', expected.removedHeaders, got.headersToRemove);
  added('query parameter', expected.queryParameters, got.queryParametersToSet);
  removed('query parameter', expected.removedQueryParameters, got.queryParametersToRemove);
  // A deny says why, so that a wrong verdict reads as what happened instead.
  if (out.length > 0 && got.verdict === 'deny' && expected.reason === undefined) out.push(`(denied by ${got.guard}, ${got.httpStatus}: ${got.reason})`);
  return out;
}

/** The results as a table, one row per case, then the totals. */
export function formatResults(results: TestResult[]): string {
  // Names, cases and details come from the files: escaped, one line each (terminal.ts).
  const rows = results.map((r) => [r.outcome.toUpperCase(), r.file, r.name ?? '-', r.detail ?? ''].map(forTerminal));
  const width = (i: number) => Math.max(...[['RESULT', 'FILE', 'CASE'][i]!, ...rows.map((row) => row[i]!)].map((s) => s.length));
  const widths = [width(0), width(1), width(2)];
  const line = (cells: string[]) => cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c)).join('  ').trimEnd();
  const count = (o: TestResult['outcome']) => results.filter((r) => r.outcome === o).length;
  return [line(['RESULT', 'FILE', 'CASE', 'DETAIL']), ...rows.map(line), `${count('pass')} passed, ${count('fail')} failed, ${count('error')} errors`].join('\n');
}

/**
 * The exit status of a run, from the status table: 2 (CONFIG_INVALID) when a test file or its
 * policy set does not load, 1 when a case fails, 0 when every case passes.
 */
export function exitStatusOf(results: TestResult[]): number {
  if (results.some((r) => r.outcome === 'error')) return statusOf('CONFIG_INVALID').exit;
  return results.some((r) => r.outcome === 'fail') ? FAILED_EXIT : 0;
}
