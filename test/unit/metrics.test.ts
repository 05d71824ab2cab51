import { describe, expect, it } from 'vitest';
import { registry } from '../../src/metrics.js';

describe('the metrics registry', () => {
  it("names Node's process and runtime metrics chio_process_… and chio_nodejs_…, the prefix said once", async () => {
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names).toContain('chio_process_cpu_seconds_total');
    expect(names).toContain('chio_process_resident_memory_bytes');
    expect(names).toContain('chio_nodejs_heap_size_used_bytes');
    expect(names).toContain('chio_nodejs_eventloop_lag_p99_seconds');
    expect(names.filter((n) => /process_process_|process_nodejs_/.test(n))).toEqual([]);
  });
});
