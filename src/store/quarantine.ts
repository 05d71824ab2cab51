/**
 * Quarantine, the CHIO_QUARANTINE stream: receipt bytes the ledger refused, on subject
 * `chio.quarantine.<chain>` (the chain the bytes name, even when they fail their checks;
 * `unknown` when they name no valid chain), with headers
 *
 *   Chio-Reason-Code   the ChioError code of the failed check
 *   Chio-Reason        the reason, one line, at most MAX_REASON_LENGTH characters
 *   Chio-Stream-Seq    the sequence in CHIO_RECEIPTS of the message holding the receipt
 *   Chio-Line          the receipt's line in that message, when not the first (group commit)
 *
 * and Nats-Msg-Id `q-<stream seq>` (`q-<stream seq>-<line>` past the first line), so that quarantining the same message again after a
 * crash stores it once.
 */
import { headers } from '@nats-io/transport-node';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { ChioErrorCode } from '../errors/index.js';
import { QUARANTINE_STREAM, QUARANTINE_SUBJECT_PREFIX } from './resources.js';

/** Reasons are cut to this length: a header, not a log. */
export const MAX_REASON_LENGTH = 512;

export interface QuarantinedReceipt {
  /** Sequence of the refused message in CHIO_RECEIPTS. */
  seq: number;
  /** Line of the refused receipt in that message (group commit); 0 or absent for the first. */
  line?: number;
  data: Uint8Array;
  /** The receipt's chain, when its bytes parsed as a receipt. */
  chain: string | undefined;
  code: ChioErrorCode;
  reason: string;
}

export async function quarantineReceipt(js: JetStreamClient, q: QuarantinedReceipt): Promise<void> {
  const h = headers();
  h.set('Chio-Reason-Code', q.code);
  h.set('Chio-Reason', q.reason.replace(/[\r\n]/g, ' ').slice(0, MAX_REASON_LENGTH));
  h.set('Chio-Stream-Seq', String(q.seq));
  const line = q.line ?? 0;
  if (line > 0) h.set('Chio-Line', String(line));
  await js.publish(`${QUARANTINE_SUBJECT_PREFIX}.${q.chain ?? 'unknown'}`, q.data, { headers: h, msgID: line > 0 ? `q-${q.seq}-${line}` : `q-${q.seq}` });
}

/** How many refused receipts the quarantine stream holds (it refuses deletes: it only grows). */
export async function countQuarantined(jsm: JetStreamManager): Promise<number> {
  const info = await jsm.streams.info(QUARANTINE_STREAM);
  return info.state.messages;
}
