/**
 * What the docs say about metrics and alerts is what Chio exports and ships: the metrics table of
 * docs/configuration.md has a row for every metric of the registry (and none else), with its
 * type and label names and, where the code fixes a label's values, each of them; every `chio_…`
 * name the README and docs/ mention is one of them; the alerts table of docs/operations.md
 * names exactly the alerts of deploy/observability/chio-alerts.yaml.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { DEFAULT_METRICS_PREFIX, registry } from '../../../src/metrics.js';
import { VERIFIER_ROUTES } from '../../../src/verifier/request-metrics.js';
import { REPO_ROOT } from '../../support/chio.js';
import { read, tableUnder, ticked } from './doc-text.js';

/** Label values the code fixes, by metric and label: read from the code that sets them. */
function valuesSet(): Record<string, Record<string, string[]>> {
  const quoted = (file: string, re: RegExp) => [...new Set([...read(file).matchAll(re)].map((m) => m[1]!))];
  return {
    chio_policy_reloads_total: { result: quoted('src/policy/policy-watcher.ts', /policyReloadsTotal\.inc\(\{ result: '(\w+)' \}\)/g) },
    chio_cache_lookups_total: {
      cache: ['capability', 'jwks', 'jwt'],
      result: [...quoted('src/credentials/jwks.ts', /cacheLookupsTotal\.labels\('jwks', '(\w+)'\)/g), ...quoted('src/credentials/verification-cache.ts', /cacheLookupsTotal\.labels\(name, '(\w+)'\)/g)],
    },
    chio_proofs_served_total: { outcome: [...quoted('src/verifier/receipt-routes.ts', /refuse\('(\w+)'/g), ...quoted('src/verifier/receipt-routes.ts', /proofsServedTotal\.inc\(\{ outcome: '(\w+)' \}\)/g)] },
    chio_verifier_request_duration_seconds: { route: [...VERIFIER_ROUTES] },
    chio_ready: { component: ['authz', 'ledger', 'verifier'] },
  };
}

/** The names of prom-client's default metrics under Chio's prefix, from a registry of their own. */
async function defaultMetricNames(): Promise<Set<string>> {
  const own = new Registry();
  collectDefaultMetrics({ register: own, prefix: DEFAULT_METRICS_PREFIX });
  return new Set((await own.getMetricsAsJSON()).map((m) => m.name));
}

describe('docs/configuration.md, Metrics', async () => {
  const defaults = await defaultMetricNames();
  const metrics = (await registry.getMetricsAsJSON()).filter((m) => !defaults.has(m.name));
  const rows = new Map(tableUnder('docs/configuration.md', 'Metrics').map((r) => [r[0]!.replace(/`/g, ''), r]));
  // Rows like `chio_process_*` stand for prom-client's defaults, by prefix.
  const wildcards = [...rows.keys()].filter((n) => n.endsWith('*')).map((n) => n.slice(0, -1));

  it('has a row for every metric Chio registers, and for no other', () => {
    expect([...rows.keys()].filter((n) => !n.endsWith('*')).sort()).toEqual(metrics.map((m) => m.name).sort());
  });

  it("covers Node's default metrics with its wildcard rows, each of which names some", () => {
    expect([...defaults].filter((n) => !wildcards.some((w) => n.startsWith(w)))).toEqual([]);
    expect(wildcards.filter((w) => ![...defaults].some((n) => n.startsWith(w)))).toEqual([]);
  });

  it('gives each its type and label names', () => {
    const problems: string[] = [];
    for (const m of metrics) {
      const row = rows.get(m.name);
      if (!row) continue;
      if (row[1] !== String(m.type)) problems.push(`${m.name}: type ${row[1]}, registered ${m.type}`);
      const labels = new Set(ticked(row[2]!));
      for (const label of (m as unknown as { labelNames?: string[] }).labelNames ?? []) if (!labels.has(label)) problems.push(`${m.name}: label ${label} not named`);
    }
    expect(problems).toEqual([]);
  });

  it('lists every value the code gives a label', () => {
    const problems: string[] = [];
    for (const [name, byLabel] of Object.entries(valuesSet())) {
      const named = new Set(ticked(rows.get(name)?.[2] ?? ''));
      for (const [label, values] of Object.entries(byLabel)) {
        expect(values.length, `${name}{${label}}: values read from the code`).toBeGreaterThan(0);
        for (const v of values) if (!named.has(v)) problems.push(`${name}{${label}="${v}"} not listed`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('is where every chio_… metric the README and docs/ name is', () => {
    const pages = ['README.md', ...readdirSync(join(REPO_ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
    const known = new Set([...metrics.map((m) => m.name), ...defaults]);
    const problems: string[] = [];
    for (const page of pages) {
      // Metric names, as written in code spans or queries; a NATS inbox (`_INBOX_chio_authz`) is no metric.
      for (const m of read(page).matchAll(/(?<![\w])chio_[a-z0-9_]+/g)) {
        const name = m[0].replace(/_(bucket|count|sum)$/, '');
        if (known.has(name) || wildcards.includes(name) || /^chio_(authz|ledger|verifier|operator)$/.test(name)) continue;
        problems.push(`${page}: ${name}`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('docs/operations.md, Alerts', () => {
  it('names exactly the alerts deploy/observability/chio-alerts.yaml holds', () => {
    const rule = parse(read('deploy/observability/chio-alerts.yaml')) as { spec: { groups: Array<{ rules: Array<{ alert: string }> }> } };
    const shipped = rule.spec.groups.flatMap((g) => g.rules.map((r) => r.alert)).sort();
    const documented = tableUnder('docs/operations.md', 'Alerts').map((r) => r[0]!.replace(/`/g, '')).sort();
    expect(documented).toEqual(shipped);
  });
});
