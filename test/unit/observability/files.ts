/** The files of deploy/observability/, read and checked against their schemas. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../../support/chio.js';
import { dashboardSchema, prometheusRuleSchema } from './schemas.js';

export const OBSERVABILITY_DIR = join(REPO_ROOT, 'deploy/observability');

/** Grafana's variables, as they expand in a query. */
const GRAFANA_VARIABLES: Record<string, string> = { $__rate_interval: '5m', $__interval: '1m', $__range: '1h' };

/** chio-alerts.yaml: one YAML document, a PrometheusRule. */
export function loadRule() {
  const docs = parseAllDocuments(readFileSync(join(OBSERVABILITY_DIR, 'chio-alerts.yaml'), 'utf8'));
  if (docs.length !== 1) throw new Error(`chio-alerts.yaml holds ${docs.length} documents, not one`);
  if (docs[0]!.errors.length > 0) throw new Error(`chio-alerts.yaml: ${docs[0]!.errors.join('; ')}`);
  return prometheusRuleSchema.parse(docs[0]!.toJS());
}

export function loadDashboard() {
  return dashboardSchema.parse(JSON.parse(readFileSync(join(OBSERVABILITY_DIR, 'chio-dashboard.json'), 'utf8')));
}

/** Every query of the dashboard, its Grafana variables expanded as Grafana would. */
export function dashboardQueries(): Array<{ panel: string; expr: string }> {
  return loadDashboard().panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr.replace(/\$__[a-z_]+/g, (v) => GRAFANA_VARIABLES[v] ?? v) })),
  );
}
