/**
 * Where a chain writer resumes (SPEC §5): the chain's head as stored, read from the receipts
 * stream at start and again after a publish whose outcome is unknown.
 *
 * The last message on the chain's subject is trusted only if it holds a receipt of this chain
 * that verifies and is not behind the head the writer last knew. Anyone who may publish on the
 * receipts subjects can put a message there: a writer that took a forged `{"seq":1000,…}` for
 * its head signed receipts the ledger could only refuse, for Checks it answered allow. Past
 * such a message the head is the writer's own latest receipt after the head it last knew (at
 * most MAX_HEAD_WALK messages on), and the next publish names the forged message's stream
 * sequence, which the server expects. With no head known (at start), nothing tells where the
 * chain really ends, and the chain is not extended. A head the writer knew that is gone from
 * the stream means receipts were lost (the stream deleted and made again, restored from an old
 * copy): going on would reuse their seqs, so the chain is not extended either. At start, when
 * the writer knows no head of its own, the log's record of the chain (the ledger's chain head,
 * `loggedSeq`) tells the same: a stream whose chain ends before it lost receipts.
 */
import type { Logger } from 'pino';
import { ChioError } from '../errors/index.js';
import { createNodeSignatureCheck } from '../crypto/ed25519.js';
import { GENESIS_PREV, type Receipt } from '../receipt/receipt.js';
import { verifyReceiptBytes, type KernelKeys } from '../receipt/verify.js';
import { receiptSubject } from '../store/resources.js';
import { readChainMessageFrom, readLastChainMessage, type ChainHeadRead, type ChainMessage } from '../store/receipts.js';

/**
 * The chain is not extended until its stream holds it whole again (the cases above): not a
 * passing failure, so the writer says so on /ready (SPEC §1) until a head read succeeds.
 */
export class ChainNotExtended extends ChioError {
  constructor(message: string) {
    super('UNAVAILABLE', message);
  }
}

/** Messages on a chain's subject looked through for its head past one that is not its own. */
export const MAX_HEAD_WALK = 256;

export interface ChainHead {
  seq: number;
  id: string;
  /** Stream sequence of the last message on the chain's subject, which the next publish names; 0 when there is none. */
  streamSeq: number;
  /** Stream sequence of the message holding the head receipt: `streamSeq`, unless someone else wrote after it. */
  storedAt: number;
}

export interface ChainHeadSource {
  jsm: ChainHeadRead;
  chain: string;
  /** The receipt `bytes` hold, verified; throws when they are no such receipt. */
  verifyStored(bytes: Uint8Array): Receipt;
  /** The seq of the chain's head in the log (the ledger's record), when it has one. */
  loggedSeq?: () => Promise<number | undefined>;
  log: Logger;
}

/** `verifyStored` for a writer whose receipts a key of `kernelKeys` signs (node:crypto's Ed25519). */
export function storedReceiptVerifier(kernelKeys: KernelKeys): (bytes: Uint8Array) => Receipt {
  const checkSignature = createNodeSignatureCheck();
  return (bytes) => verifyReceiptBytes(bytes, kernelKeys, checkSignature);
}

/** The chain's head as stored, given the head the writer last knew (none at start); throws UNAVAILABLE (see above). */
export async function readChainHead(source: ChainHeadSource, known: ChainHead | undefined): Promise<ChainHead> {
  const { jsm, chain, log } = source;
  const last = await readLastChainMessage(jsm, chain);
  if (!last) {
    if (known && known.seq > 0) throw lost(source, known);
    if (!known) await notBehindLog(source, 0);
    return { seq: 0, id: GENESIS_PREV, streamSeq: 0, storedAt: 0 };
  }
  const own = ownReceipt(source, last);
  if (own && (!known || own.seq >= known.seq)) {
    if (!known) await notBehindLog(source, own.seq);
    return { seq: own.seq, id: own.id, streamSeq: last.streamSeq, storedAt: last.streamSeq };
  }
  if (!known) {
    throw new ChainNotExtended(`the last message on chain ${chain} (stream seq ${last.streamSeq}) is no receipt of it that verifies: not extending it. Restrict who may publish on ${receiptSubject(chain)}, or start this process with another CHIO_CHAIN_ID`);
  }
  if (known.seq > 0) {
    const stillThere = await readChainMessageFrom(jsm, chain, known.storedAt);
    if (stillThere?.streamSeq !== known.storedAt || ownReceipt(source, stillThere)?.id !== known.id) throw lost(source, known);
  }
  let head = known;
  for (let at = known.storedAt + 1, walked = 0; at <= last.streamSeq; walked++) {
    if (walked >= MAX_HEAD_WALK) throw new ChainNotExtended(`chain ${chain}: more than ${MAX_HEAD_WALK} messages after its head that are not its receipts`);
    const message = await readChainMessageFrom(jsm, chain, at);
    if (!message) break;
    const receipt = ownReceipt(source, message);
    if (receipt && receipt.seq > head.seq) head = { seq: receipt.seq, id: receipt.id, streamSeq: message.streamSeq, storedAt: message.streamSeq };
    at = message.streamSeq + 1;
  }
  log.error({ chain, stream_seq: last.streamSeq, head_seq: head.seq }, `a message on ${receiptSubject(chain)} is not this chain's receipt (someone else publishes there); the chain goes on from its own head`);
  return { ...head, streamSeq: last.streamSeq };
}

/** Throw when the log holds receipts of the chain past `seq`, the head the stream holds: the stream lost them. */
async function notBehindLog({ chain, log, loggedSeq }: ChainHeadSource, seq: number): Promise<void> {
  const logged = await loggedSeq?.();
  if (logged === undefined || logged <= seq) return;
  log.error({ chain, seq, logged_seq: logged }, 'the log holds receipts of this chain that the receipts stream does not; not extending it');
  throw new ChainNotExtended(`chain ${chain}: the log holds its receipts up to seq ${logged}, the receipts stream only up to seq ${seq}: receipts were lost from the stream (deleted and made again, or restored from an older copy). Not extending the chain, which would reuse their seqs; restore the stream`);
}

function lost({ chain, log }: ChainHeadSource, known: ChainHead): ChioError {
  log.error({ chain, seq: known.seq, stream_seq: known.storedAt }, 'receipts this chain stored are gone from the stream; not extending it');
  return new ChainNotExtended(`chain ${chain}: its receipt seq ${known.seq}, stored at stream seq ${known.storedAt}, is gone from the stream: not extending the chain`);
}

/** The last receipt of `message` when it is one of this chain's that verifies, else undefined. */
function ownReceipt({ chain, verifyStored }: ChainHeadSource, message: ChainMessage): Receipt | undefined {
  try {
    const receipt = verifyStored(message.lines.at(-1)!);
    return receipt.chain === chain ? receipt : undefined;
  } catch {
    return undefined;
  }
}
