/**
 * Prometheus metrics (prom-client, the library the Node ecosystem uses for this). One registry
 * per process; `chio up` runs every service in one process and so serves one set. Names follow
 * the receipt lifecycle: decided → signed → stored → integrated → published → proven.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
/**
 * The prefix of Node's process and runtime metrics (prom-client's defaults), whose own names
 * already say which: chio_process_cpu_seconds_total, chio_nodejs_heap_size_used_bytes, …
 */
export const DEFAULT_METRICS_PREFIX = 'chio_';
collectDefaultMetrics({ register: registry, prefix: DEFAULT_METRICS_PREFIX });

export const decisionsTotal = new Counter({
  name: 'chio_decisions_total',
  help: 'Check decisions answered, by verdict answered and deciding guard',
  labelNames: ['verdict', 'guard', 'shadow'] as const,
  registers: [registry],
});

// Present from the start at 0, so that the first ReceiptLedger denial is an increase a rule sees.
for (const shadow of ['false', 'true']) decisionsTotal.inc({ verdict: 'deny', guard: 'ReceiptLedger', shadow }, 0);

export const checkDuration = new Histogram({
  name: 'chio_check_duration_seconds',
  help: 'Time from Check received to answer, including storing the receipt',
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1],
  registers: [registry],
});

export const receiptsStoredTotal = new Counter({ name: 'chio_receipts_stored_total', help: 'Receipts signed and stored (PubAck)', registers: [registry] });
export const receiptStoreDuration = new Histogram({
  name: 'chio_receipt_store_duration_seconds',
  help: 'Time from a decided receipt handed to the chain publisher to its PubAck (signed and stored)',
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1],
  registers: [registry],
});
export const receiptStoreFailuresTotal = new Counter({ name: 'chio_receipt_store_failures_total', help: 'Receipts whose store failed or missed its deadline (their Checks answered deny 503, or unanswered when the client had gone)', registers: [registry] });
export const checksUnansweredTotal = new Counter({
  name: 'chio_checks_unanswered_total',
  help: 'Checks whose client went away before their answer (a receipt stored for one is corrected)',
  registers: [registry],
});

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
  help: 'Policy set reloads (after a file change, and every 10 s as a backstop), by result (swapped, unchanged, refused; unarchived: valid, but the archive did not take it, so the current set stays)',
  labelNames: ['result'] as const,
  registers: [registry],
});

export const cacheLookupsTotal = new Counter({
  name: 'chio_cache_lookups_total',
  help: 'Cache lookups on the Check path, by cache (capability: verified capability tokens; jwt: verified JWTs; jwks: key sets) and result (hit, miss; stale: a JWKS past its TTL answered while a fetch was due)',
  labelNames: ['cache', 'result'] as const,
  registers: [registry],
});

export const jwksFetchesTotal = new Counter({
  name: 'chio_jwks_fetches_total',
  help: 'Fetches of a RequestAuthentication jwksUri, by result (ok; failed: no answer in time, an HTTP error, or not a usable JWKS)',
  labelNames: ['result'] as const,
  registers: [registry],
});

export const integrationBatchDuration = new Histogram({
  name: 'chio_ledger_batch_duration_seconds',
  help: 'Time to integrate one batch of stored receipts (checks, writes, commit)',
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [registry],
});

export const verifierRequestDuration = new Histogram({
  name: 'chio_verifier_request_duration_seconds',
  help: 'Verifier HTTP requests, received to answered, by route',
  labelNames: ['route'] as const,
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [registry],
});

/**
 * Gauges read when scraped: each running service registers what it can tell, and stops when it
 * stops, so that a process (or a test) that starts several services reports each once.
 */
const readinessSources = new Map<string, Set<() => string | undefined>>();

/** Report `service`'s readiness as chio_ready{component=service}; returns the function that stops it. */
export function watchReadiness(service: string, reason: () => string | undefined): () => void {
  const set = readinessSources.get(service) ?? new Set();
  readinessSources.set(service, set);
  set.add(reason);
  return () => set.delete(reason);
}

// `component`, not `service`: Prometheus's Kubernetes discovery adds a `service` target label.
export const ready = new Gauge({
  name: 'chio_ready',
  help: '1 when the service is ready (its dependencies usable, as /ready says), else 0',
  labelNames: ['component'] as const,
  registers: [registry],
  collect() {
    this.reset();
    for (const [component, reasons] of readinessSources) {
      if (reasons.size > 0) this.set({ component }, [...reasons].every((r) => r() === undefined) ? 1 : 0);
    }
  },
});

/** What a running ledger tells the scrape: how far behind the stream it is, how old its checkpoint. */
export interface LedgerView {
  /** The log origin (CHIO_LOG_ORIGIN): the `origin` label. */
  origin: string;
  /** Stream messages not yet integrated (or skipped): receipts-stream last sequence − integrated sequence. A message holds one or more receipts of a chain. */
  lagMessages(): number;
  /** Seconds since the latest checkpoint was published; undefined before any. */
  checkpointAgeSeconds(): number | undefined;
  /** Messages held in the quarantine stream (one per receipts-stream message with refused receipts); undefined when it cannot be read now. */
  quarantinedReceipts(): Promise<number | undefined>;
  /** Bytes each of Chio's streams holds; undefined when they cannot be read now. */
  streamBytes(): Promise<ReadonlyMap<string, number> | undefined>;
}

const ledgerViews = new Set<LedgerView>();

/** Report a running ledger's lag and checkpoint age; returns the function that stops it. */
export function watchLedger(view: LedgerView): () => void {
  ledgerViews.add(view);
  return () => ledgerViews.delete(view);
}

// Labelled by origin, so that a process without a ledger (authz, verifier) exports no sample
// rather than a 0 that a min() or an alert would mistake for a ledger's.
export const ledgerLag = new Gauge({
  name: 'chio_ledger_lag_messages',
  help: 'Messages of the receipts stream (each one or more receipts) not yet integrated by the ledger: stream last sequence − integrated sequence',
  labelNames: ['origin'] as const,
  registers: [registry],
  collect() {
    this.reset();
    for (const v of ledgerViews) this.set({ origin: v.origin }, v.lagMessages());
  },
});

export const checkpointAge = new Gauge({
  name: 'chio_checkpoint_age_seconds',
  help: 'Seconds since the latest checkpoint was published (a ledger publishes only while the tree grows)',
  labelNames: ['origin'] as const,
  registers: [registry],
  collect() {
    this.reset();
    for (const v of ledgerViews) {
      const age = v.checkpointAgeSeconds();
      if (age !== undefined) this.set({ origin: v.origin }, age);
    }
  },
});

export const quarantinedReceipts = new Gauge({
  name: 'chio_quarantine_receipts',
  help: 'Messages held in the quarantine stream (CHIO_QUARANTINE), one per receipts-stream message with refused receipts, read when scraped; it only grows',
  labelNames: ['origin'] as const,
  registers: [registry],
  async collect() {
    this.reset();
    for (const v of ledgerViews) {
      const count = await v.quarantinedReceipts();
      if (count !== undefined) this.set({ origin: v.origin }, count);
    }
  },
});

export const streamBytes = new Gauge({
  name: 'chio_jetstream_stream_bytes',
  help: "Bytes each of Chio's JetStream streams holds (one replica), read when scraped; nothing expires, so it only grows: size nats-server's file store by it",
  labelNames: ['origin', 'stream'] as const,
  registers: [registry],
  async collect() {
    this.reset();
    for (const v of ledgerViews) {
      const bytes = await v.streamBytes();
      for (const [stream, n] of bytes ?? []) this.set({ origin: v.origin, stream }, n);
    }
  },
});

export const ledgerWriter = new Gauge({ name: 'chio_ledger_writer', help: 'Writer lease state of this ledger: 1 writer (holds the lease), 0 standby', registers: [registry] });
export const ledgerHalted = new Gauge({ name: 'chio_ledger_halted', help: 'Whether this writer integrates nothing because the receipts stream no longer holds what the log integrated (deleted and made again, restored from an older copy): 1 halted, 0 not', registers: [registry] });
export const ledgerTakeoversTotal = new Counter({ name: 'chio_ledger_takeovers_total', help: 'Times this ledger took the writer lease over from a holder that stopped renewing it', registers: [registry] });
