/**
 * The shapes of the files in deploy/observability/, as zod schemas.
 *
 * PrometheusRule follows the prometheus-operator CRD (monitoring.coreos.com/v1,
 * `prometheusrules.monitoring.coreos.com`, openAPIV3Schema): required `spec`; groups with a
 * non-empty `name`; rules with a required `expr` (int or string), `alert` or `record`, durations
 * matching the CRD's pattern, string maps for labels and annotations. Unknown fields are refused
 * (the API server prunes them, which would silently drop a typo like `annotation:`).
 *
 * The Grafana dashboard schema covers what Chio's dashboard relies on: a uid and title, the
 * Prometheus datasource variable, and panels whose targets carry a PromQL `expr`.
 */
import { z } from 'zod';

/** The CRD's duration pattern (for, keep_firing_for, interval, query_offset). */
const DURATION = /^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$/;
const duration = z.string().regex(DURATION);
const stringMap = z.record(z.string(), z.string());

const rule = z
  .strictObject({
    alert: z.string().min(1).optional(),
    record: z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/).optional(),
    expr: z.union([z.number().int(), z.string().min(1)]),
    for: duration.optional(),
    keep_firing_for: duration.min(1).optional(),
    labels: stringMap.optional(),
    annotations: stringMap.optional(),
  })
  .refine((r) => (r.alert === undefined) !== (r.record === undefined), 'exactly one of alert and record')
  .refine((r) => r.record === undefined || (r.for === undefined && r.annotations === undefined), 'for and annotations are for alerting rules only');

const group = z.strictObject({
  name: z.string().min(1),
  interval: duration.optional(),
  limit: z.number().int().optional(),
  partial_response_strategy: z.string().regex(/^(abort|warn)?$/i).optional(),
  query_offset: duration.optional(),
  labels: stringMap.optional(),
  rules: z.array(rule).optional(),
});

export const prometheusRuleSchema = z.strictObject({
  apiVersion: z.literal('monitoring.coreos.com/v1'),
  kind: z.literal('PrometheusRule'),
  metadata: z.object({
    name: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/).max(253),
    namespace: z.string().min(1).optional(),
    labels: stringMap.optional(),
  }),
  spec: z.strictObject({
    // x-kubernetes-list-type: map keyed by name: group names are unique.
    groups: z.array(group).refine((gs) => new Set(gs.map((g) => g.name)).size === gs.length, 'group names must be unique'),
  }),
});
export type PrometheusRule = z.infer<typeof prometheusRuleSchema>;

const datasource = z.object({ type: z.literal('prometheus'), uid: z.literal('${datasource}') });

const panel = z.object({
  type: z.string().min(1),
  title: z.string().min(1),
  id: z.number().int(),
  gridPos: z.object({ h: z.number().int().positive(), w: z.number().int().min(1).max(24), x: z.number().int().min(0).max(23), y: z.number().int().min(0) }),
  datasource: datasource.optional(),
  targets: z.array(z.object({ refId: z.string().min(1), expr: z.string().min(1), datasource, legendFormat: z.string().optional() })).optional(),
});

export const dashboardSchema = z.object({
  uid: z.string().regex(/^[a-zA-Z0-9_-]{1,40}$/),
  title: z.string().min(1),
  schemaVersion: z.number().int().min(36),
  templating: z.object({ list: z.array(z.object({ name: z.string(), type: z.string(), query: z.string().optional() })) }),
  panels: z.array(panel).min(1),
});
export type Dashboard = z.infer<typeof dashboardSchema>;
