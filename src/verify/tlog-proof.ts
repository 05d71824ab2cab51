/**
 * C2SP tlog-proof@v1: an inclusion proof as one offline-verifiable text (SPEC §7), what
 * `GET /v1/receipts/<id>/proof` answers and `chio verify-proof` checks. Lines end in U+000A:
 *
 *   c2sp.org/tlog-proof@v1      the header, exactly
 *   [extra <base64>]            optional, opaque, NOT authenticated: never trusted
 *   index <n>                   zero-based leaf index, decimal, no leading zeros
 *   <base64 hash>               zero or more: the RFC 6962 §2.1.1 inclusion proof, from the
 *   …                           leaf's sibling up to the root's child, 32 bytes each
 *   (empty line)
 *   <checkpoint>                the log's signed checkpoint note, verbatim (C2SP tlog-checkpoint)
 *
 * For example (a leaf at index 5 of a tree of 6, so a proof of two hashes):
 *
 *   c2sp.org/tlog-proof@v1
 *   index 5
 *   kJv6eTxJE4bzMq1b8s2b4dsy2nTgQqL2Kq3ZVLuWzT0=
 *   0Z4kh8wvoYTaHVHP5OVhd1U7pArh4nWpnwF8JQYjoXg=
 *
 *   chio.local/receipts
 *   6
 *   …base64 root…
 *
 *   — chio.local/receipts …base64 key id and signature…
 *
 * The proof says nothing about the leaf itself: Chio's leaf is the receipt's JCS bytes, given
 * beside the proof (`verifyTlogProof`). Pure: no node: import, runs in a browser.
 */
import { ChioError } from '../errors/index.js';
import { fromBase64, toBase64 } from '../encoding.js';
import { isIndex } from '../tlog/bits.js';
import { HASH_SIZE, MAX_NOTE_SIZE, MAX_PROOF_LENGTH, type Hash } from '../tlog/index.js';
import { checkReceiptInclusion, type ProofTrust, type ProvenReceipt } from './receipt-proof.js';

export const TLOG_PROOF_HEADER = 'c2sp.org/tlog-proof@v1';
/** Largest extra data accepted, in bytes: it is opaque and Chio writes none. */
export const MAX_TLOG_PROOF_EXTRA_BYTES = 64 * 1024;
/** Largest proof text accepted: a maximal checkpoint note, the hashes, the extra line. */
export const MAX_TLOG_PROOF_CHARS = MAX_NOTE_SIZE + 2 * MAX_TLOG_PROOF_EXTRA_BYTES + MAX_PROOF_LENGTH * 64 + 1024;
/** The file extension C2SP recommends for stored proofs. */
export const TLOG_PROOF_EXTENSION = '.tlog-proof';

export interface TlogProof {
  index: number;
  /** RFC 6962 inclusion proof, leaf's sibling first. */
  hashes: Hash[];
  /** The signed checkpoint note, verbatim (ends in a newline). */
  checkpoint: string;
  /** Opaque and unauthenticated. */
  extra?: Uint8Array;
}

const INDEX_LINE = /^index (0|[1-9][0-9]{0,15})$/;

/** The tlog-proof@v1 text of a proof; throws MALFORMED for values it cannot carry. */
export function formatTlogProof(proof: TlogProof): string {
  if (!isIndex(proof.index)) throw new ChioError('MALFORMED', 'index is not a leaf index');
  if (proof.hashes.length > MAX_PROOF_LENGTH || proof.hashes.some((h) => h.length !== HASH_SIZE)) throw new ChioError('MALFORMED', `proof hashes are not ${HASH_SIZE} bytes each`);
  if (proof.checkpoint === '' || !proof.checkpoint.endsWith('\n') || proof.checkpoint.startsWith('\n')) throw new ChioError('MALFORMED', 'checkpoint is not a note');
  const extra = proof.extra !== undefined ? [`extra ${toBase64(proof.extra)}`] : [];
  return [TLOG_PROOF_HEADER, ...extra, `index ${proof.index}`, ...proof.hashes.map(toBase64), ''].join('\n') + '\n' + proof.checkpoint;
}

/**
 * Parse tlog-proof@v1 text strictly. The checkpoint is returned verbatim and not opened:
 * `verifyTlogProof` checks it with the log key. Throws ChioError('MALFORMED') naming the line.
 */
export function parseTlogProof(text: string): TlogProof {
  // Attacker-controlled: every line, the number of lines and the total length.
  if (typeof text !== 'string' || text.length > MAX_TLOG_PROOF_CHARS) throw new ChioError('MALFORMED', 'tlog-proof: not a text of bounded size');
  const lines = new LineReader(text);
  if (lines.next() !== TLOG_PROOF_HEADER) throw new ChioError('MALFORMED', `tlog-proof: line 1 is not ${TLOG_PROOF_HEADER}`);
  let line = lines.next();
  let extra: Uint8Array | undefined;
  if (line?.startsWith('extra ')) {
    extra = decodeLine(line.slice('extra '.length), lines.number, 'extra data');
    if (extra.length > MAX_TLOG_PROOF_EXTRA_BYTES) throw new ChioError('MALFORMED', `tlog-proof: extra data over ${MAX_TLOG_PROOF_EXTRA_BYTES} bytes`);
    line = lines.next();
  }
  const index = line === undefined ? null : INDEX_LINE.exec(line);
  if (!index || !isIndex(Number(index[1]))) throw new ChioError('MALFORMED', `tlog-proof: line ${lines.number} is not "index <n>"`);
  const hashes: Hash[] = [];
  for (line = lines.next(); line !== undefined && line !== ''; line = lines.next()) {
    if (hashes.length === MAX_PROOF_LENGTH) throw new ChioError('MALFORMED', `tlog-proof: more than ${MAX_PROOF_LENGTH} proof hashes`);
    const hash = decodeLine(line, lines.number, 'proof hash');
    if (hash.length !== HASH_SIZE) throw new ChioError('MALFORMED', `tlog-proof: line ${lines.number} is not a ${HASH_SIZE}-byte hash`);
    hashes.push(hash);
  }
  if (line === undefined) throw new ChioError('MALFORMED', 'tlog-proof: no empty line before the checkpoint');
  const checkpoint = lines.rest();
  if (checkpoint === '' || !checkpoint.endsWith('\n')) throw new ChioError('MALFORMED', 'tlog-proof: no checkpoint note after the empty line');
  return { index: Number(index[1]), hashes, checkpoint, ...(extra !== undefined ? { extra } : {}) };
}

/**
 * Verify a tlog-proof@v1 for `receipt` (attacker-controlled, as parsed JSON): the proof's
 * form, the checkpoint signature (log key), the receipt (JCS form, id, kernel key, signature),
 * then the inclusion of its leaf. Throws ChioError naming the first thing that does not hold.
 */
export function verifyTlogProof(proofText: string, receipt: unknown, trust: ProofTrust, expectedId?: string): ProvenReceipt {
  const proof = parseTlogProof(proofText);
  return checkReceiptInclusion(receipt, proof.index, proof.hashes, proof.checkpoint, trust, expectedId);
}

function decodeLine(text: string, line: number, what: string): Uint8Array {
  try {
    return fromBase64(text);
  } catch (cause) {
    throw new ChioError('MALFORMED', `tlog-proof: line ${line} is not a base64 ${what}`, { cause });
  }
}

/** Lines of a text split at U+000A, counted from 1, and the text after the last one read. */
class LineReader {
  private at = 0;
  number = 0;

  constructor(private readonly text: string) {}

  /** The next line without its newline; undefined when no complete line is left. */
  next(): string | undefined {
    const end = this.text.indexOf('\n', this.at);
    if (end < 0) return undefined;
    const line = this.text.slice(this.at, end);
    this.at = end + 1;
    this.number++;
    return line;
  }

  rest(): string {
    return this.text.slice(this.at);
  }
}
