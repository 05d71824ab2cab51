/**
 * Keeps the live policy set (SPEC §4): watches CHIO_POLICIES and, on a change, loads the whole
 * set again. A valid set is swapped in atomically (one reference; a Check in flight keeps the
 * set it started with); an invalid one is refused, logged and counted, and the old set stays.
 *
 * fs.watch misses changes on some file systems and with Kubernetes ConfigMap symlink swaps
 * it reports the directory, not the file, so the directory is watched and a slow poll backs
 * it up. A reload that yields the same hash changes nothing.
 */
import { watch, statSync, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { loadPolicySet, type PolicySet } from './policy-set.js';
import { policyReloadsTotal } from '../metrics.js';

/** Quiet time after the last file event before reloading (editors write in several steps). */
export const RELOAD_DEBOUNCE_MS = 200;
/** Reload check even without file events. */
export const RELOAD_POLL_MS = 10_000;

export class PolicyWatcher {
  private set: PolicySet;
  private watcher: FSWatcher | undefined;
  private poll: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;

  /** Loads the set once; throws (ChioError CONFIG_INVALID) when the initial set is invalid. */
  constructor(
    private readonly path: string,
    private readonly keyDir: string,
    private readonly log: Logger,
    /** Told of every set swapped in by a reload (authz archives it). */
    private readonly onSwap: (set: PolicySet) => void = () => undefined,
  ) {
    this.set = loadPolicySet(path, keyDir);
    this.set.jwt?.prefetch();
  }

  /** The live policy set. */
  current(): PolicySet {
    return this.set;
  }

  start(): void {
    const dir = statSync(this.path).isDirectory() ? this.path : dirname(this.path);
    this.watcher = watch(dir, () => {
      clearTimeout(this.debounce);
      this.debounce = setTimeout(() => this.reload(), RELOAD_DEBOUNCE_MS);
    });
    this.watcher.on('error', (err) => this.log.warn({ err: String(err) }, 'policy watch failed; polling only'));
    this.poll = setInterval(() => this.reload(), RELOAD_POLL_MS);
    this.poll.unref();
  }

  stop(): void {
    this.watcher?.close();
    clearInterval(this.poll);
    clearTimeout(this.debounce);
  }

  /** Load again; swap when valid and different. Returns what happened. */
  reload(): 'swapped' | 'unchanged' | 'refused' {
    let next: PolicySet;
    try {
      next = loadPolicySet(this.path, this.keyDir);
    } catch (err) {
      policyReloadsTotal.inc({ result: 'refused' });
      this.log.error({ err: err instanceof Error ? err.message : String(err), policy_hash: this.set.hash }, 'policy change refused; keeping the current set');
      return 'refused';
    }
    if (next.hash === this.set.hash) {
      policyReloadsTotal.inc({ result: 'unchanged' });
      return 'unchanged';
    }
    const previous = this.set.hash;
    next.jwt?.prefetch();
    this.set = next;
    this.onSwap(next);
    policyReloadsTotal.inc({ result: 'swapped' });
    this.log.info({ policy_hash: next.hash, previous, documents: next.documents }, 'policy set swapped');
    return 'swapped';
  }
}
