import { configDefaults, defineConfig } from 'vitest/config';
import { CLUSTER_SUITE, PROCESS_SUITES } from './vitest.processes.config.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Run after these, alone: `vitest run --config vitest.processes.config.ts` (npm test does both).
    exclude: [...configDefaults.exclude, ...PROCESS_SUITES, CLUSTER_SUITE],
    // Integration suites each start their own nats-server; two cores, so keep files serial-ish.
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
