/**
 * Keeps the live policy set (SPEC §4): watches CHIO_POLICIES and, on a change, loads the whole
 * set again. A valid set is archived, then swapped in atomically (one reference; a Check in
 * flight keeps the set it started with); an invalid one is refused, logged and counted, and the
 * old set stays, as it does while the archive cannot take the new one.
 *
 * fs.watch misses changes on some file systems and with Kubernetes ConfigMap symlink swaps
 * it reports the directory, not the file, so the directory is watched and a slow poll backs
 * it up. A reload that yields the same hash changes nothing.
 */
import { watch, statSync, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { listPolicyFiles, loadPolicySet, type PolicySet } from './policy-set.js';
import { policyReloadsTotal } from '../metrics.js';

/** Quiet time after the last file event before reloading (editors write in several steps). */
export const RELOAD_DEBOUNCE_MS = 200;
/** Reload check even without file events. */
export const RELOAD_POLL_MS = 10_000;

export type ReloadResult = 'swapped' | 'unchanged' | 'refused' | 'unarchived';

export class PolicyWatcher {
  private set: PolicySet;
  private watcher: FSWatcher | undefined;
  private poll: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  /** The reload under way (it may wait for the archive), and whether another was asked for meanwhile. */
  private running: Promise<ReloadResult> | undefined;
  private again = false;

  /** Loads the set once; throws (ChioError CONFIG_INVALID) when the initial set is invalid. */
  constructor(
    private readonly path: string,
    private readonly keyDir: string,
    private readonly log: Logger,
    /**
     * Stores a set a reload would swap in, before it is swapped in (authz archives it): every
     * receipt names its set's hash, so a set must be in the archive before it decides anything.
     * A set it fails to store is not swapped in; the next reload (an event, or the 10 s poll) tries again.
     */
    private readonly archive: (set: PolicySet) => Promise<void> | void = () => undefined,
  ) {
    this.set = loadPolicySet(path, keyDir);
    this.set.jwt?.prefetch();
    this.logIgnored(this.set);
  }

  /** The live policy set. */
  current(): PolicySet {
    return this.set;
  }

  start(): void {
    const dir = statSync(this.path).isDirectory() ? this.path : dirname(this.path);
    this.watcher = watch(dir, () => {
      clearTimeout(this.debounce);
      this.debounce = setTimeout(() => void this.reload(), RELOAD_DEBOUNCE_MS);
    });
    this.watcher.on('error', (err) => this.log.warn({ err: String(err) }, 'policy watch failed; polling only'));
    this.poll = setInterval(() => void this.reload(), RELOAD_POLL_MS);
    this.poll.unref();
  }

  stop(): void {
    this.watcher?.close();
    clearInterval(this.poll);
    clearTimeout(this.debounce);
  }

  /** Documents not for an authz server (a ValidatingPolicy in another evaluation mode), as kyverno-authz logs them. */
  private logIgnored(set: PolicySet): void {
    for (const message of set.ignored) this.log.info({ policy_hash: set.hash }, message);
  }

  /**
   * Load again; swap when valid, different and archived. Returns what happened. Reloads run one
   * at a time: one asked for while another waits for the archive runs after it, once, however
   * many were asked for (a storm of events or polls during a slow archive is one more load).
   */
  reload(): Promise<ReloadResult> {
    if (this.running !== undefined) {
      this.again = true;
      return this.running;
    }
    const run = async (): Promise<ReloadResult> => {
      try {
        let result: ReloadResult;
        do {
          this.again = false;
          result = await this.reloadOnce();
        } while (this.again);
        return result;
      } finally {
        this.running = undefined;
      }
    };
    this.running = run();
    return this.running;
  }

  private async reloadOnce(): Promise<ReloadResult> {
    let next: PolicySet;
    try {
      // The same files, each holding the same bytes, make the same set: no parse (the poll runs
      // every 10 s on the thread that answers Checks). listPolicyFiles names a ConfigMap's
      // files by the version `..data` shows, so a new version is a new list.
      if (sameFiles(listPolicyFiles(this.path), this.set.files) && this.set.inputs.unchanged()) {
        policyReloadsTotal.inc({ result: 'unchanged' });
        return 'unchanged';
      }
      // The remote key sets carry over with what they fetched (JwtAuthenticatorOptions.remoteJwks).
      next = loadPolicySet(this.path, this.keyDir, { refuseEmptyFiles: true, ...(this.set.jwt ? { remoteJwks: this.set.jwt.remoteJwks } : {}) });
    } catch (err) {
      policyReloadsTotal.inc({ result: 'refused' });
      this.log.error({ err: err instanceof Error ? err.message : String(err), policy_hash: this.set.hash }, 'policy change refused; keeping the current set');
      return 'refused';
    }
    if (next.hash === this.set.hash) {
      // The same set from other bytes (a comment, a new ConfigMap version): the next poll
      // compares with these, or it would parse them again every time.
      this.set.files = next.files;
      this.set.inputs = next.inputs;
      policyReloadsTotal.inc({ result: 'unchanged' });
      return 'unchanged';
    }
    try {
      await this.archive(next);
    } catch (err) {
      policyReloadsTotal.inc({ result: 'unarchived' });
      this.log.error({ err: String(err), policy_hash: this.set.hash, next: next.hash }, 'policy set not archived; keeping the current set until it is');
      return 'unarchived';
    }
    const previous = this.set.hash;
    next.jwt?.prefetch();
    this.logIgnored(next);
    this.set = next;
    policyReloadsTotal.inc({ result: 'swapped' });
    this.log.info({ policy_hash: next.hash, previous, documents: next.documents }, 'policy set swapped');
    return 'swapped';
  }
}

function sameFiles(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((f, i) => f === b[i]);
}
