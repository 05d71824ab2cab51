/**
 * The primary's `/metrics` for `chio authz --workers`: the workers' registries summed as
 * prom-client's cluster aggregation sums them, plus what the workers that have gone had counted.
 *
 * A sum over the live workers goes down when one of them dies and is started again at 0, and
 * Prometheus takes any decrease of a counter as a reset: increase() and rate() then count the
 * whole surviving total again (an alert on `increase(...) > 0` fires with nothing new, a
 * dashboard shows a spike). So every counter and histogram (buckets, sum, count) a worker sent
 * last stays in the sums once it has gone, and they go down only when the primary restarts, as
 * one process's counters do. What a worker counted after its last collection is lost, as a
 * single process's counts since its last scrape are lost when it dies. A gauge is a present
 * state: a gone worker's gauges are dropped, and so are those of a worker that did not answer
 * this collection (its counters are still served, from its last answer).
 */
import { AggregatorRegistry } from 'prom-client';

/** One sample of a metric as a registry gives it (`getMetricsAsJSON()`), sent over IPC. */
export interface SampleJson {
  value: number;
  labels: Record<string, string | number>;
  /** A histogram's `<name>_bucket`, `_sum` or `_count`. */
  metricName?: string;
}

/** One metric as a registry gives it (`getMetricsAsJSON()`), sent over IPC. */
export interface MetricJson {
  name: string;
  help: string;
  /** 'counter', 'gauge', 'histogram' or 'summary'. */
  type: string;
  /** How prom-client combines workers' samples: 'sum' for counters and histograms. */
  aggregator: string;
  values: SampleJson[];
}

/**
 * The metrics whose samples only go up and are summed over workers: counters and histograms.
 * A summary's quantiles are not summable; none is registered.
 */
function countsOf(metrics: readonly MetricJson[]): MetricJson[] {
  return metrics.filter((m) => (m.type === 'counter' || m.type === 'histogram') && m.aggregator === 'sum');
}

/** A sample's series: its name and its labels, in an order that does not depend on how they were set. */
function seriesKey(metric: MetricJson, sample: SampleJson): string {
  return JSON.stringify([sample.metricName ?? metric.name, Object.entries(sample.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]);
}

export class WorkerMetricSums {
  /** The registry each worker process sent last. */
  private readonly last = new WeakMap<object, readonly MetricJson[]>();
  /** What the gone workers had counted, summed: by metric name, then by series. */
  private readonly carried = new Map<string, { metric: MetricJson; samples: Map<string, SampleJson> }>();

  /** `worker` answered a collection with its registry. */
  collected(worker: object, metrics: readonly MetricJson[]): void {
    this.last.set(worker, metrics);
  }

  /** `worker` has exited (it sends nothing more): its counts from its last answer stay in the sums. */
  gone(worker: object): void {
    const last = this.last.get(worker);
    this.last.delete(worker);
    for (const metric of countsOf(last ?? [])) {
      const carried = this.carried.get(metric.name) ?? { metric: { ...metric, values: [] }, samples: new Map<string, SampleJson>() };
      this.carried.set(metric.name, carried);
      for (const sample of metric.values) {
        const key = seriesKey(metric, sample);
        const sum = carried.samples.get(key);
        if (sum) sum.value += sample.value;
        else carried.samples.set(key, { ...sample, labels: { ...sample.labels } });
      }
    }
  }

  /**
   * The exposition text: the sum over the `running` workers (all their metrics for those that
   * answered this collection, `answered`; their counts from their last answer for the others)
   * and what the gone workers had counted.
   */
  async text(running: Iterable<object>, answered: ReadonlySet<object>): Promise<string> {
    const registries: MetricJson[][] = [[...this.carried.values()].map(({ metric, samples }) => ({ ...metric, values: [...samples.values()] }))];
    for (const worker of running) {
      const last = this.last.get(worker);
      if (last) registries.push(answered.has(worker) ? [...last] : countsOf(last));
    }
    return AggregatorRegistry.aggregate(registries).metrics();
  }
}
