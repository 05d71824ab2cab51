/**
 * WorkerMetricSums, with real prom-client registries standing for the workers' (what each sends
 * the primary is its registry's getMetricsAsJSON()): counters and histograms of a worker that
 * has gone stay in the sums, series by series; its gauges do not; a worker that did not answer
 * is summed with its last counts only.
 */
import { describe, expect, it } from 'vitest';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { WorkerMetricSums, type MetricJson } from '../../../src/authz/worker-metrics.js';
import { sample } from '../../support/metrics.js';

/** A worker process's registry: a labelled counter, a histogram and a gauge. */
function worker() {
  const registry = new Registry();
  const decisions = new Counter({ name: 'decisions_total', help: 'decisions', labelNames: ['verdict', 'guard'] as const, registers: [registry] });
  const duration = new Histogram({ name: 'duration_seconds', help: 'duration', buckets: [0.1, 1], registers: [registry] });
  const inFlight = new Gauge({ name: 'in_flight', help: 'in flight', registers: [registry] });
  const metrics = async () => (await registry.getMetricsAsJSON()) as unknown as MetricJson[];
  return { decisions, duration, inFlight, metrics };
}

describe('WorkerMetricSums', () => {
  it('sums the workers that answered, all their metrics', async () => {
    const sums = new WorkerMetricSums();
    const [a, b] = [worker(), worker()];
    a.decisions.inc({ verdict: 'allow', guard: 'x' }, 3);
    b.decisions.inc({ guard: 'x', verdict: 'allow' }, 4);
    a.inFlight.set(2);
    b.inFlight.set(5);
    sums.collected(a, await a.metrics());
    sums.collected(b, await b.metrics());
    const text = await sums.text([a, b], new Set([a, b]));
    expect(sample(text, 'decisions_total', { verdict: 'allow', guard: 'x' })).toBe(7);
    expect(sample(text, 'in_flight')).toBe(7);
  });

  it("keeps a gone worker's counters and histograms, series by series, and drops its gauges", async () => {
    const sums = new WorkerMetricSums();
    const [a, b] = [worker(), worker()];
    a.decisions.inc({ verdict: 'allow', guard: 'x' }, 10);
    a.decisions.inc({ verdict: 'deny', guard: 'ReceiptLedger' }, 2);
    a.duration.observe(0.05);
    a.duration.observe(0.5);
    a.inFlight.set(3);
    b.decisions.inc({ verdict: 'deny', guard: 'ReceiptLedger' }, 1);
    b.inFlight.set(1);
    sums.collected(a, await a.metrics());
    sums.collected(b, await b.metrics());
    const before = await sums.text([a, b], new Set([a, b]));
    expect(sample(before, 'decisions_total', { guard: 'ReceiptLedger' })).toBe(3);

    // a dies; its slot's new worker starts at 0 and counts on.
    sums.gone(a);
    const a2 = worker();
    a2.decisions.inc({ verdict: 'allow', guard: 'x' }, 1);
    a2.duration.observe(2);
    a2.inFlight.set(4);
    sums.collected(a2, await a2.metrics());
    const after = await sums.text([a2, b], new Set([a2, b]));
    expect(sample(after, 'decisions_total', { verdict: 'allow', guard: 'x' })).toBe(11);
    expect(sample(after, 'decisions_total', { verdict: 'deny', guard: 'ReceiptLedger' }), 'no reset: increase() sees 0').toBe(3);
    expect(sample(after, 'duration_seconds_bucket', { le: '0.1' })).toBe(1);
    expect(sample(after, 'duration_seconds_bucket', { le: '1' })).toBe(2);
    expect(sample(after, 'duration_seconds_bucket', { le: '+Inf' })).toBe(3);
    expect(sample(after, 'duration_seconds_count')).toBe(3);
    expect(sample(after, 'duration_seconds_sum')).toBeCloseTo(2.55);
    expect(sample(after, 'in_flight'), "the gone worker's gauge is not summed").toBe(5);
    expect(after.split('\n').filter((l) => l.startsWith('decisions_total{')).sort(), 'each series once, its labels whole').toEqual([
      'decisions_total{verdict="allow",guard="x"} 11',
      'decisions_total{verdict="deny",guard="ReceiptLedger"} 3',
    ]);

    // Every worker that goes adds what it had counted; a worker that never answered, nothing.
    sums.gone(a2);
    sums.gone(worker());
    const last = await sums.text([b], new Set([b]));
    expect(sample(last, 'decisions_total', { verdict: 'allow', guard: 'x' })).toBe(11);
    expect(sample(last, 'duration_seconds_count')).toBe(3);
    expect(sample(last, 'in_flight')).toBe(1);
  });

  it('sums a worker that did not answer with the counts of its last answer, without its gauges', async () => {
    const sums = new WorkerMetricSums();
    const [a, b] = [worker(), worker()];
    a.decisions.inc({ verdict: 'allow', guard: 'x' }, 6);
    a.inFlight.set(9);
    b.inFlight.set(1);
    sums.collected(a, await a.metrics());
    sums.collected(b, await b.metrics());
    const text = await sums.text([a, b], new Set([b]));
    expect(sample(text, 'decisions_total', { verdict: 'allow' })).toBe(6);
    expect(sample(text, 'in_flight')).toBe(1);
    // It then goes: the same counts, carried, not twice.
    sums.gone(a);
    expect(sample(await sums.text([b], new Set([b])), 'decisions_total', { verdict: 'allow' })).toBe(6);
  });
});
