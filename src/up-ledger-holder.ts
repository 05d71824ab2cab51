/**
 * The writer-lease id of `chio up`'s ledger, and the one its earlier run held. A `chio up`
 * killed (SIGKILL, an OOM kill) leaves the lease record naming it, unrenewed; started again
 * under a new id it would be a stranger to that record and wait out the lease TTL (3 s) like
 * any standby before its ledger writes again.
 *
 * So `chio up` notes its holder id and pid in <data dir>/ledger-holder.json, and at its next
 * start names the noted id as its former one when that pid no longer runs: the lease takes a
 * record naming it at once (store/ledger-lease.ts, reclaim). The id itself stays one per
 * process, and a second `chio up` given the NATS_URL and data directory of a first that still
 * runs finds that pid alive, names no former id, and its ledger stands by: the lease refuses it
 * as it refuses any other ledger (on an embedded NATS it is refused before, nats/leftover.ts).
 * Should the pid be wrongly taken for ended (another PID namespace sharing the directory), the
 * running writer is only fenced, as after a pause past its lease, and stands by in turn;
 * should it be wrongly taken for running (the pid reused), the restart waits the TTL.
 * The noted pid equal to this process's own is taken for ended: a container restarted runs
 * `chio up` under the pid its killed run had (1, the image's entrypoint).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { newLedgerHolderId } from './store/ledger-lease.js';
import { isProcessAlive } from './process-alive.js';

/** The note is a few dozen bytes; anything larger is not one of ours and is ignored. */
const MAX_NOTE_BYTES = 1024;
/** As CHIO_LEDGER_ID (config.ts): what a lease id may be. */
const HOLDER_ID = /^[A-Za-z0-9._-]{1,128}$/;

export interface UpLedgerHolder {
  /** This run's id in the writer lease. */
  holder: string;
  /** The id of the earlier `chio up` on this data directory, when it has ended. */
  formerHolder?: string;
}

/** Where `chio up` notes its ledger's lease id and pid. */
export function ledgerHolderFile(dataDir: string): string {
  return resolve(dataDir, 'ledger-holder.json');
}

/**
 * This run's lease id (`configured`, CHIO_LEDGER_ID, when set) and the former one to take back
 * at once; notes this run's in the data directory for the next.
 */
export function claimLedgerHolder(dataDir: string, configured: string | undefined): UpLedgerHolder {
  const formerHolder = endedHolder(dataDir);
  const holder = configured ?? newLedgerHolderId();
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(ledgerHolderFile(dataDir), `${JSON.stringify({ holder, pid: process.pid })}\n`);
  return formerHolder === undefined ? { holder } : { holder, formerHolder };
}

/** The noted holder id when its process no longer runs; undefined when none is noted, it runs, or the note is not one. */
function endedHolder(dataDir: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(ledgerHolderFile(dataDir), 'utf8');
  } catch {
    return undefined;
  }
  if (text.length > MAX_NOTE_BYTES) return undefined;
  let note: unknown;
  try {
    note = JSON.parse(text);
  } catch {
    return undefined;
  }
  const { holder, pid } = (note ?? {}) as { holder?: unknown; pid?: unknown };
  if (typeof holder !== 'string' || !HOLDER_ID.test(holder)) return undefined;
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0) return undefined;
  // Our own pid noted is another, ended process's: the deploy image runs chio up as pid 1, and
  // a restarted container runs it under pid 1 again (deploy/compose). Alive, it is another.
  return pid !== process.pid && isProcessAlive(pid) ? undefined : holder;
}
