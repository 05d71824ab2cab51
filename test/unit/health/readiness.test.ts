import { describe, expect, it } from 'vitest';
import { ServiceReadiness } from '../../../src/health/readiness.js';
import { registry } from '../../../src/metrics.js';

async function readyGauge(): Promise<Record<string, number>> {
  const metric = await registry.getSingleMetric('chio_ready')!.get();
  return Object.fromEntries(metric.values.map((v) => [String(v.labels.component), v.value]));
}

describe('ServiceReadiness', () => {
  it('is ready when no check has a reason, else gives the first reason in the order checks were added', () => {
    let nats: string | undefined;
    let standby: string | undefined;
    const readiness = new ServiceReadiness('unit-a', [() => nats]);
    readiness.add(() => standby);
    try {
      expect(readiness.reason()).toBeUndefined();
      standby = 'standby: another ledger holds the lease';
      expect(readiness.reason()).toBe(standby);
      nats = 'NATS is disconnected';
      expect(readiness.reason()).toBe(nats);
    } finally {
      readiness.close();
    }
  });

  it('shows each running service in chio_ready, and forgets it once closed', async () => {
    let problem: string | undefined;
    const a = new ServiceReadiness('unit-b', [() => problem]);
    const b = new ServiceReadiness('unit-c');
    expect(await readyGauge()).toMatchObject({ 'unit-b': 1, 'unit-c': 1 });
    problem = 'JetStream is not usable: timeout';
    expect(await readyGauge()).toMatchObject({ 'unit-b': 0, 'unit-c': 1 });
    a.close();
    b.close();
    const after = await readyGauge();
    expect(after).not.toHaveProperty('unit-b');
    expect(after).not.toHaveProperty('unit-c');
  });
});
