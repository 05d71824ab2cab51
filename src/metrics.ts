/**
 * Prometheus metrics (prom-client, the library the Node ecosystem uses for this). One registry
 * per process; `chio up` runs every service in one process and so serves one set. Names follow
 * the receipt lifecycle: decided → signed → stored → integrated → published → proven.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'chio_process_' });

export const decisionsTotal = new Counter({
  name: 'chio_decisions_total',
  help: 'Check decisions answered, by verdict answered and deciding guard',
  labelNames: ['verdict', 'guard', 'shadow'] as const,
  registers: [registry],
});

export const checkDuration = new Histogram({
  name: 'chio_check_duration_seconds',
  help: 'Time from Check received to answer, including storing the receipt',
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1],
  registers: [registry],
});

export const receiptsStoredTotal = new Counter({ name: 'chio_receipts_stored_total', help: 'Receipts signed and stored (PubAck)', registers: [registry] });
export const receiptStoreFailuresTotal = new Counter({ name: 'chio_receipt_store_failures_total', help: 'Receipts not stored by their deadline (answered deny 503)', registers: [registry] });

export const receiptsIntegratedTotal = new Counter({ name: 'chio_receipts_integrated_total', help: 'Receipts integrated as leaves', registers: [registry] });
export const receiptsQuarantinedTotal = new Counter({
  name: 'chio_receipts_quarantined_total',
  help: 'Receipts refused by the ledger, by reason code',
  labelNames: ['code'] as const,
  registers: [registry],
});
export const receiptsDuplicateTotal = new Counter({ name: 'chio_receipts_duplicate_total', help: 'Receipts skipped as duplicates', registers: [registry] });
export const treeSize = new Gauge({ name: 'chio_tree_size', help: 'Leaves integrated into the log', registers: [registry] });
export const checkpointsPublishedTotal = new Counter({ name: 'chio_checkpoints_published_total', help: 'Checkpoints signed and published', registers: [registry] });
export const publishedTreeSize = new Gauge({ name: 'chio_published_tree_size', help: 'Tree size of the latest published checkpoint', registers: [registry] });
export const proofsServedTotal = new Counter({
  name: 'chio_proofs_served_total',
  help: 'Receipt lookups answered by the verifier, by outcome',
  labelNames: ['outcome'] as const,
  registers: [registry],
});

export const policyReloadsTotal = new Counter({
  name: 'chio_policy_reloads_total',
  help: 'Policy set reloads (after a file change, and every 10 s as a backstop), by result (swapped, unchanged, refused)',
  labelNames: ['result'] as const,
  registers: [registry],
});

export const ledgerWriter = new Gauge({ name: 'chio_ledger_writer', help: 'Writer lease state of this ledger: 1 writer (holds the lease), 0 standby', registers: [registry] });
export const ledgerTakeoversTotal = new Counter({ name: 'chio_ledger_takeovers_total', help: 'Times this ledger took the writer lease over from a holder that stopped renewing it', registers: [registry] });
