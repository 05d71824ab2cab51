/**
 * Readiness (SPEC §1): a process is ready when every dependency it needs is usable. Each
 * dependency contributes one check that says why it is not usable, or nothing; the process is
 * ready when none says anything. `/ready` (HTTP) and gRPC Health read the same answer, and the
 * `chio_ready{component}` gauge shows it to Prometheus.
 *
 * Checks MUST be synchronous and cheap: gRPC Health and `/ready` call them on every probe. A
 * check that needs I/O keeps its answer up to date in the background (see nats-health.ts).
 */
import { watchReadiness } from '../metrics.js';

/** Why a dependency is not usable right now, or undefined when it is. */
export type ReadinessCheck = () => string | undefined;

/**
 * The readiness of one service (`authz`, `ledger`, `verifier`). A service adds a check per
 * dependency; a component with a state of its own (a standby ledger, say) adds its check the
 * same way, and `/ready` then reports its reason.
 */
export class ServiceReadiness {
  private readonly checks: ReadinessCheck[] = [];
  private readonly unwatch: () => void;

  constructor(readonly service: string, checks: readonly ReadinessCheck[] = []) {
    this.checks.push(...checks);
    this.unwatch = watchReadiness(service, () => this.reason());
  }

  /** Add a check; checks are asked in the order they were added and the first reason wins. */
  add(check: ReadinessCheck): void {
    this.checks.push(check);
  }

  /** Undefined when ready, else the first reason found. */
  reason(): string | undefined {
    for (const check of this.checks) {
      const reason = check();
      if (reason !== undefined) return reason;
    }
    return undefined;
  }

  /** Stop reporting this service in `chio_ready` (when it stops). */
  close(): void {
    this.unwatch();
  }
}
