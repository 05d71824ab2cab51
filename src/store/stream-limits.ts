/**
 * Streams that keep what they are given. Chio's streams, buckets and object stores are its
 * record: a receipt, index entry, tile, checkpoint or revocation that the server deletes by
 * itself breaks a promise (every stored receipt provable, the tree a function of the stream, a
 * revoked capability stays revoked). Chio creates them with no limit that deletes, but it opens
 * what already exists as it is, and a stream made or edited by an operator or another tool may
 * carry a max age, a size limit that discards the oldest messages, or a retention that deletes
 * what was consumed. A process refuses to start on such a stream, saying what to change.
 *
 * Memory storage is refused too: a restart of nats-server loses it all.
 *
 * A limit with discard "new" is kept: the server then refuses new writes when full, so a publish
 * fails and the Check is denied (fail closed), and nothing stored is lost.
 */
import type { JetStreamManager, StreamConfig } from '@nats-io/jetstream';
import { ChioError } from '../errors/index.js';

/**
 * How a stream's per-subject limit is read: a KV bucket keeps one value per key by design (the
 * older revisions of a key are meant to go); everywhere else each subject's messages all count
 * (a chain's receipts, an object's chunks).
 */
export type SubjectHistory = 'every-message' | 'latest-per-key';

type Limits = Pick<StreamConfig, 'retention' | 'discard' | 'max_msgs' | 'max_bytes' | 'max_age' | 'max_msgs_per_subject'> & Partial<Pick<StreamConfig, 'discard_new_per_subject' | 'storage'>>;

const limited = (n: number | undefined) => n !== undefined && n > 0;

/** What in `config` makes the server delete stored messages by itself; empty when nothing does. */
export function forgettingLimits(config: Limits, history: SubjectHistory): string[] {
  const found: string[] = [];
  // Anyone allowed to create a stream by its name may have made it before Chio did.
  if (config.storage !== undefined && config.storage !== 'file') found.push(`storage "${config.storage}" is lost when nats-server restarts`);
  if (config.retention !== 'limits') found.push(`retention "${config.retention}" deletes messages once consumed`);
  if (limited(config.max_age)) found.push(`max_age ${config.max_age / 1e9}s deletes older messages`);
  if (config.discard !== 'new') {
    if (limited(config.max_msgs)) found.push(`max_msgs ${config.max_msgs} with discard "${config.discard}" deletes the oldest messages`);
    if (limited(config.max_bytes)) found.push(`max_bytes ${config.max_bytes} with discard "${config.discard}" deletes the oldest messages`);
  }
  if (history === 'every-message' && limited(config.max_msgs_per_subject) && !(config.discard === 'new' && config.discard_new_per_subject)) {
    found.push(`max_msgs_per_subject ${config.max_msgs_per_subject} deletes a subject's older messages`);
  }
  return found;
}

/** Throws CONFIG_INVALID when the stream `name` (as the server has it) deletes stored messages by itself. */
export function assertKeepsMessages(config: Limits & { name: string }, history: SubjectHistory): void {
  const found = forgettingLimits(config, history);
  if (found.length === 0) return;
  throw new ChioError(
    'CONFIG_INVALID',
    `JetStream stream ${config.name} would lose what Chio stores in it: ${found.join('; ')}. ` +
      `Remove these limits (e.g. nats stream edit ${config.name} --max-age=0 --max-msgs=-1 --max-bytes=-1), or set discard "new" so that a full stream refuses writes instead; a retention other than "limits" needs the stream made again`,
  );
}

/** Read the stream's configuration from the server and check it as assertKeepsMessages does. */
export async function checkStreamKeepsMessages(jsm: JetStreamManager, name: string, history: SubjectHistory): Promise<void> {
  assertKeepsMessages((await jsm.streams.info(name)).config, history);
}
