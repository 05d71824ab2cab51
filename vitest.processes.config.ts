import { defineConfig } from 'vitest/config';

/**
 * The suites that kill and restart real processes (chio children, nats-servers, a 3-node
 * cluster) and measure what they answer meanwhile. They run after the rest, one file at a
 * time: on two cores, running them beside other suites starves both and turns receipt
 * deadlines into false failures.
 */
export const PROCESS_SUITES = [
  'test/integration/ledger-kill9.test.ts',
  'test/integration/ledger-standby.test.ts',
  'test/reliability/authz-killed.test.ts',
  'test/reliability/authz-workers.test.ts',
  'test/reliability/authz-workers-metrics.test.ts',
  'test/reliability/nats-dies.test.ts',
  'test/reliability/store-full.test.ts',
  'test/reliability/up-restart-lease.test.ts',
  'test/reliability/export-interrupted.test.ts',
  'test/integration/silent-partition.test.ts',
  'test/reliability/jetstream-cluster.test.ts',
];

/** The 3-node JetStream cluster suite alone (`npm run test:cluster`), to run it many times over. */
export const CLUSTER_SUITE = 'test/reliability/jetstream-cluster.test.ts';

export default defineConfig({
  test: {
    include: process.env.CHIO_CLUSTER_SUITE ? [CLUSTER_SUITE] : PROCESS_SUITES,
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
