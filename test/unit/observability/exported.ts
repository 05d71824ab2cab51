/**
 * What Chio exports, read from the registry in code, and the check that a PromQL query (or a
 * series of a rule unit test) names only that: for the files in deploy/observability/.
 */
import { registry } from '../../../src/metrics.js';
import { parsePromQL } from './promql.js';

/** Labels Prometheus attaches to every scraped series (the target's), not Chio's own. */
export const TARGET_LABELS = ['job', 'instance', 'namespace', 'pod', 'service', 'container', 'endpoint'];

/** Every series name Chio exports, with the label names each carries: from the registry itself. */
export function exportedSeries(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const metric of registry.getMetricsAsArray()) {
    const { name, labelNames = [] } = metric as unknown as { name: string; labelNames?: string[] };
    const type = (metric as unknown as { type?: string }).type;
    if (type === 'histogram') {
      out.set(`${name}_bucket`, new Set([...labelNames, 'le']));
      out.set(`${name}_sum`, new Set(labelNames));
      out.set(`${name}_count`, new Set(labelNames));
    } else if (type === 'summary') {
      out.set(name, new Set([...labelNames, 'quantile']));
      out.set(`${name}_sum`, new Set(labelNames));
      out.set(`${name}_count`, new Set(labelNames));
    } else {
      out.set(name, new Set(labelNames));
    }
  }
  return out;
}

/** What is wrong with a query: parse errors, unknown metrics, labels its metric does not carry. */
export function problemsOf(query: string, series: Map<string, Set<string>>): string[] {
  const { errors, selectors } = parsePromQL(query);
  const problems = errors.map((at) => `does not parse at ${at}`);
  for (const { metric, labels } of selectors) {
    if (metric === undefined) {
      problems.push('selects by labels only: name the metric');
      continue;
    }
    const known = series.get(metric);
    if (!known) {
      problems.push(`${metric} is not a metric Chio registers`);
      continue;
    }
    for (const label of labels) if (!known.has(label) && !TARGET_LABELS.includes(label)) problems.push(`${metric} has no label ${label}`);
  }
  return problems;
}
