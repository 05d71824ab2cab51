/**
 * The receipt format, `chio.receipt.v1` (SPEC §5).
 *
 * A receipt is a JSON object whose bytes are always its RFC 8785 (JCS) serialization:
 *
 *   body      = the receipt without `id`, `signature` and `batch`
 *   id        = hex SHA-256 of JCS(body)
 *   signature = base64 Ed25519 over JCS(body), by the key named in `kernel_key`; or, when the
 *               receipt has `batch`, over the Merkle root of the ids of the receipts stored
 *               with it, which `batch.path` leads to from this id (receipt/batch.ts)
 *
 * The id commits to the content and, through `prev`, to every receipt before it on the same
 * chain: `seq` counts 1, 2, 3 … within a chain and `prev` is the id of receipt `seq - 1`
 * (64 zeros for seq 1). A chain id is a NATS subject token: [A-Za-z0-9_-]{1,64}.
 *
 * A correction (SPEC §5) is a receipt with one more member, `corrects`: the id of an earlier
 * receipt on the same chain that was stored although its Check was answered otherwise (deny,
 * ReceiptLedger, 503). Its decision is the answer actually given.
 *
 * Lifecycle words (docs/design.md): decided → signed → stored → integrated → published → proven.
 * This file is pure: no clock, no I/O; it runs in a browser.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { canonicalBytes } from './jcs.js';
import { toHex } from '../encoding.js';
import type { ReceiptBatch } from './batch.js';

export const RECEIPT_SCHEMA = 'chio.receipt.v1';
/** `prev` of the first receipt on a chain. */
export const GENESIS_PREV = '0'.repeat(64);
/** Receipts larger than this are refused: they must fit an entry bundle and a JetStream message. */
export const MAX_RECEIPT_BYTES = 16 * 1024;
export const CHAIN_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const RECEIPT_ID_PATTERN = /^[0-9a-f]{64}$/;

export type Verdict = 'allow' | 'deny';

/**
 * The answer a decision gave (SPEC §2): in shadow mode the Check is answered allow, and the
 * verdict recorded is the one it would have had (authz/response.ts answers so, keeping the
 * deny's own fields in its type). `chio prove` and the explorer show the answer by it.
 */
export function answeredVerdict(decision: { verdict: Verdict; shadow: boolean }): Verdict {
  return decision.shadow ? 'allow' : decision.verdict;
}

export interface ReceiptRequest {
  id?: string;
  method?: string;
  host?: string;
  path?: string;
  protocol?: string;
  source_principal?: string;
  source_address?: string;
  destination_address?: string;
  /** Present when the request had no HTTP attributes (Istio's TCP ext_authz filter). */
  kind?: 'http' | 'tcp';
  /** Set when the normalised path was cut to keep the receipt bounded; the SHA-256 is of the full one. */
  path_truncated?: boolean;
  path_sha256?: string;
  /** SHA-256 of the query string ('?…'), which is never recorded itself: it may hold credentials. */
  query_sha256?: string;
  /** SHA-256 of the `;params` cut from the path, concatenated in order: they may hold session ids. */
  params_sha256?: string;
  /** SHA-256 of the path as sent (without query), when it differs from the normalised `path`. */
  raw_path_sha256?: string;
  /** The request's W3C `traceparent`, when it had a valid version-00 one: links the receipt to its trace. */
  traceparent?: string;
}

export interface ReceiptSubject {
  capability_id?: string;
  subject?: string;
  issuer?: string;
  credential_sha256?: string;
}

export interface ReceiptDecision {
  verdict: Verdict;
  guard?: string;
  reason?: string;
  http_status: number;
  shadow: boolean;
}

export interface Evidence {
  guard: string;
  verdict: Verdict | 'skip';
  details?: Record<string, string | number | boolean>;
}

export interface ReceiptBody {
  schema: typeof RECEIPT_SCHEMA;
  chain: string;
  seq: number;
  prev: string;
  time: string;
  request: ReceiptRequest;
  subject: ReceiptSubject;
  decision: ReceiptDecision;
  evidence: Evidence[];
  policy_hash: string;
  kernel_key: string;
  /** Present on a correction only: the id of the earlier receipt on this chain it corrects. */
  corrects?: string;
}

/** What was decided about one request: the body minus the chain and signer fields. */
export type ReceiptDraft = Omit<ReceiptBody, 'schema' | 'chain' | 'seq' | 'prev' | 'kernel_key'>;

export interface Receipt extends ReceiptBody {
  id: string;
  signature: string;
  /** Present when the signature covers the batch the receipt was stored in (receipt/batch.ts). */
  batch?: ReceiptBatch;
}

/** The body of a receipt: everything but `id`, `signature` and `batch`. */
export function toReceiptBody(receipt: Receipt): ReceiptBody {
  const { id: _id, signature: _signature, batch: _batch, ...body } = receipt;
  return body;
}

/** JCS bytes of the body: what the id hashes and the signature signs. */
export function receiptBodyBytes(body: ReceiptBody): Uint8Array {
  return canonicalBytes(body);
}

/** The content address of a body: hex SHA-256 of its JCS bytes. */
export function receiptIdOf(bodyBytes: Uint8Array): string {
  return toHex(sha256(bodyBytes));
}

/** JCS bytes of a whole receipt: what is stored, published and logged as a leaf. */
export function receiptBytes(receipt: Receipt): Uint8Array {
  return canonicalBytes(receipt);
}
