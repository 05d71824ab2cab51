/**
 * The alerts as Prometheus itself reads and evaluates them, with promtool (Debian's `prometheus`
 * package; .ci/run installs it): the rules pass `promtool check rules`, every dashboard query
 * parses with Prometheus's own parser, and the rule unit tests of
 * deploy/observability/chio-alerts.test.yaml pass, each alert firing in its situation and not
 * in the healthy states that look like it. Those tests feed series by name: each must be one
 * Chio exports, with labels it (or the scrape) gives, or a test would prove an alert on a
 * series that never comes.
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { dashboardQueries, loadRule, OBSERVABILITY_DIR } from './files.js';
import { exportedSeries, problemsOf } from './exported.js';

const UNIT_TESTS = 'chio-alerts.test.yaml';
/** The name chio-alerts.test.yaml gives its rule file (rule_files). */
const RULES = 'chio-alerts.rules.yaml';

function promtool(args: string[], cwd: string): { status: number | null; output: string } {
  const run = spawnSync('promtool', args, { cwd, encoding: 'utf8', timeout: 20_000 });
  if (run.error) {
    throw new Error(`promtool could not run (${run.error.message}): install Debian's prometheus package, as .ci/run does`);
  }
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'chio-promtool-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('chio-alerts.yaml under promtool', () => {
  it('passes promtool check rules, its annotation templates included', () => {
    writeFileSync(join(dir, 'full.rules.yaml'), stringify({ groups: loadRule().spec.groups }));
    const run = promtool(['check', 'rules', 'full.rules.yaml'], dir);
    expect(run.output, run.output).toMatch(/SUCCESS/);
    expect(run.status).toBe(0);
  });

  it('passes its rule unit tests: each alert fires when it should, and only then', () => {
    // Without annotations: promtool compares them whole, and their prose is not what is tested.
    const groups = loadRule().spec.groups.map((g) => ({ ...g, rules: (g.rules ?? []).map(({ annotations: _, ...r }) => r) }));
    writeFileSync(join(dir, RULES), stringify({ groups }));
    copyFileSync(join(OBSERVABILITY_DIR, UNIT_TESTS), join(dir, UNIT_TESTS));
    const run = promtool(['test', 'rules', UNIT_TESTS], dir);
    expect(run.output, run.output).toMatch(/SUCCESS/);
    expect(run.status).toBe(0);
  });

  it('tests every alert, feeding only series that Chio exports', () => {
    const doc = parse(readFileSync(join(OBSERVABILITY_DIR, UNIT_TESTS), 'utf8')) as {
      rule_files: string[];
      tests: Array<{ input_series: Array<{ series: string }>; alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }>;
    };
    expect(doc.rule_files).toEqual([RULES]);
    const series = exportedSeries();
    for (const { input_series } of doc.tests) for (const { series: s } of input_series) expect(problemsOf(s, series), s).toEqual([]);
    // Each alert is seen both firing and quiet.
    const cases = doc.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const r of loadRule().spec.groups.flatMap((g) => g.rules ?? [])) {
      const own = cases.filter((c) => c.alertname === r.alert);
      expect(own.some((c) => c.exp_alerts.length > 0), `${r.alert} fires in a test`).toBe(true);
      expect(own.some((c) => c.exp_alerts.length === 0), `${r.alert} stays quiet in a test`).toBe(true);
    }
  });
});

describe('chio-dashboard.json under promtool', () => {
  it('has queries that Prometheus parses', () => {
    // promtool checks queries only in rules: each query becomes a recording rule.
    const rules = dashboardQueries().map(({ expr }, i) => ({ record: `chio:dashboard_query_${i}`, expr }));
    writeFileSync(join(dir, 'dashboard.rules.yaml'), stringify({ groups: [{ name: 'dashboard', rules }] }));
    const run = promtool(['check', 'rules', 'dashboard.rules.yaml'], dir);
    expect(run.output, run.output).toMatch(new RegExp(`SUCCESS: ${rules.length} rules found`));
    expect(run.status).toBe(0);
  });
});
