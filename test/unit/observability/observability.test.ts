/**
 * deploy/observability/: the PrometheusRule parses as one (the CRD's structure), its alerts are
 * the ones operators need, and every query there and in the Grafana dashboard parses as PromQL
 * and names only metrics (and labels) that Chio registers — read from the registry in code.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../../support/chio.js';
import { aggregationsOf } from './promql.js';
import { exportedSeries, problemsOf } from './exported.js';
import { dashboardQueries, loadDashboard, loadRule } from './files.js';

describe('the registry the checks read', () => {
  it('holds the metrics of every service, histograms as their series', () => {
    const series = exportedSeries();
    for (const name of ['chio_decisions_total', 'chio_check_duration_seconds_bucket', 'chio_ledger_lag_messages', 'chio_verifier_request_duration_seconds_count', 'chio_ready']) {
      expect(series.has(name), name).toBe(true);
    }
    expect(series.get('chio_decisions_total')).toEqual(new Set(['verdict', 'guard', 'shadow']));
  });
});

/**
 * Every ledger replica exports chio_ledger_lag_messages, and a standby's is its own cursor, which
 * never moves (its integrator is not open: the whole stream length). Only the least lag of a
 * log's ledgers is the log's: any other aggregation of it (max, sum, avg, or none) reads a
 * standby's and says receipts wait when none do.
 */
function lagProblems(query: string): string[] {
  return aggregationsOf(query, 'chio_ledger_lag_messages').filter((op) => op !== 'min').map((op) => `chio_ledger_lag_messages aggregated by ${op ?? 'nothing'}, not min`);
}

describe('the ledger lag, wherever it is read', () => {
  it('is the least over a log\'s ledgers in every alert', () => {
    for (const r of loadRule().spec.groups.flatMap((g) => g.rules ?? [])) expect(lagProblems(String(r.expr)), r.alert).toEqual([]);
  });

  it('is the least over a log\'s ledgers in every dashboard panel', () => {
    for (const p of loadDashboard().panels) for (const t of p.targets ?? []) expect(lagProblems(t.expr), p.title).toEqual([]);
  });

  it('is told apart by the check', () => {
    expect(lagProblems('min by (origin) (min_over_time(chio_ledger_lag_messages[10m])) > 0')).toEqual([]);
    expect(lagProblems('max(chio_ledger_lag_messages) > 0')).toHaveLength(1);
    expect(lagProblems('chio_ledger_lag_messages > 0')).toHaveLength(1);
  });
});

describe('the quarantine count, in its alert', () => {
  // Every ledger replica reads the same CHIO_QUARANTINE stream: one alert per log, not per replica.
  it('is taken once per log', () => {
    const rule = loadRule().spec.groups.flatMap((g) => g.rules ?? []).find((r) => r.alert === 'ChioReceiptsQuarantined');
    expect(aggregationsOf(String(rule?.expr), 'chio_quarantine_receipts')).toEqual(['max']);
    expect(String(rule?.expr)).toMatch(/by \(origin\)/);
  });
});

describe('chio-alerts.yaml', () => {
  it('is a PrometheusRule', () => {
    expect(loadRule().kind).toBe('PrometheusRule');
  });

  it('alerts on what an operator must know: authz not ready, ReceiptLedger denials, a JWKS that cannot be refreshed or fetched, ledger lag, quarantine, a stale checkpoint, a halted ledger, a filling store', () => {
    const alerts = loadRule().spec.groups.flatMap((g) => g.rules ?? []).map((r) => r.alert);
    expect(alerts.sort()).toEqual(['ChioAuthzNotReady', 'ChioCheckpointStale', 'ChioJwksFetchFailing', 'ChioJwksStale', 'ChioLedgerHalted', 'ChioLedgerLagGrowing', 'ChioReceiptLedgerDenials', 'ChioReceiptsQuarantined', 'ChioStoreAlmostFull', 'ChioStoreFilling']);
  });

  it('measures the store alerts against the file store deploy/istio gives nats-server', () => {
    const nats = readFileSync(join(REPO_ROOT, 'deploy/istio/01-nats.yaml'), 'utf8');
    const gib = Number(/^\s*max_file_store: (\d+)GB$/m.exec(nats)?.[1]);
    expect(gib).toBeGreaterThan(0);
    const store = loadRule().spec.groups.flatMap((g) => g.rules ?? []).filter((r) => /^ChioStore/.test(String(r.alert)));
    expect(store).toHaveLength(2);
    for (const r of store) {
      expect(String(r.expr), r.alert).toContain(`${gib} * 1024 * 1024 * 1024`);
      // Each ledger replica reports the same streams: taken once per stream, then summed.
      expect(aggregationsOf(String(r.expr), 'chio_jetstream_stream_bytes'), r.alert).toEqual(['max']);
    }
  });

  it('has expressions that parse and name only metrics and labels Chio registers', () => {
    const series = exportedSeries();
    for (const r of loadRule().spec.groups.flatMap((g) => g.rules ?? [])) {
      expect(problemsOf(String(r.expr), series), r.alert).toEqual([]);
    }
  });

  it('gives every alert a severity and a summary', () => {
    for (const r of loadRule().spec.groups.flatMap((g) => g.rules ?? [])) {
      expect(r.labels?.severity, r.alert).toMatch(/^(critical|warning|info)$/);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
    }
  });
});

describe('chio-dashboard.json', () => {
  it('is a Grafana dashboard on a Prometheus datasource variable', () => {
    const d = loadDashboard();
    expect(d.templating.list).toContainEqual(expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }));
    expect(dashboardQueries().length).toBeGreaterThan(10);
  });

  it('has queries that parse and name only metrics and labels Chio registers', () => {
    const series = exportedSeries();
    for (const { panel, expr } of dashboardQueries()) expect(problemsOf(expr, series), panel).toEqual([]);
  });

  it('lays panels out without overlap, ids unique', () => {
    const panels = loadDashboard().panels;
    expect(new Set(panels.map((p) => p.id)).size).toBe(panels.length);
    const cells = new Set<string>();
    for (const { gridPos: g, title } of panels) {
      expect(g.x + g.w, title).toBeLessThanOrEqual(24);
      for (let x = g.x; x < g.x + g.w; x++) for (let y = g.y; y < g.y + g.h; y++) {
        expect(cells.has(`${x},${y}`), `${title} overlaps at ${x},${y}`).toBe(false);
        cells.add(`${x},${y}`);
      }
    }
  });
});
