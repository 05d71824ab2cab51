/**
 * Reading back what a reliability run left in JetStream, to hold it against the answers given:
 * every receipt in the receipts stream (group commit: a message holds one or more), the
 * quarantine, whether the ledger has looked at everything, each chain's shape, and proofs.
 */
import { expect } from 'vitest';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { proveReceipt, type ProveOptions } from '../../src/cli/prove.js';
import { GENESIS_PREV, type Receipt } from '../../src/receipt/receipt.js';
import { LEDGER_BUCKET, QUARANTINE_STREAM, RECEIPTS_STREAM } from '../../src/store/resources.js';
import { splitReceiptMessage } from '../../src/store/receipt-message.js';
import { readLedgerState } from '../../src/store/ledger-state.js';

/** A receipt and where it is stored. */
export interface StoredReceipt {
  receipt: Receipt;
  streamSeq: number;
  line: number;
}

/**
 * `get`, tried again until `deadline` (ms since the epoch): right after a cluster node comes
 * back, a JetStream API request (even the account info jetstreamManager asks for) can time out
 * while the cluster elects, and that is not Chio's doing. An audit reads what is stored; it
 * must not fail for a read that a moment later answers.
 */
async function retried<T>(what: string, deadline: number, get: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await get();
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`${what}: ${String(err)}`, { cause: err });
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Every receipt in the receipts stream, in stream order. */
export async function storedReceipts(nc: NatsConnection, timeoutMs = 30_000): Promise<StoredReceipt[]> {
  const deadline = Date.now() + timeoutMs;
  const jsm = await retried('opening JetStream', deadline, () => jetstreamManager(nc));
  const last = (await retried('reading the receipts stream', deadline, () => jsm.streams.info(RECEIPTS_STREAM))).state.last_seq;
  const out: StoredReceipt[] = [];
  for (let seq = 1; seq <= last; seq++) {
    const m = await retried(`reading receipts stream message ${seq}`, deadline, () => jsm.streams.getMessage(RECEIPTS_STREAM, { seq }));
    if (!m) continue;
    splitReceiptMessage(m.data).forEach((bytes, line) => out.push({ receipt: JSON.parse(new TextDecoder().decode(bytes)) as Receipt, streamSeq: seq, line }));
  }
  return out;
}

/** How many receipts (or messages) the ledger refused. */
export async function quarantineCount(jsm: JetStreamManager): Promise<number> {
  return (await jsm.streams.info(QUARANTINE_STREAM)).state.messages;
}

/**
 * Why the ledger refused what it refused, as "<code> <reason> (seq N line L)" lines, at most
 * `limit` of them, the first ones: a failed "quarantined nothing" then says what happened.
 */
export async function quarantineReasons(jsm: JetStreamManager, limit = 5): Promise<string[]> {
  const info = await retried('reading the quarantine stream', Date.now() + 30_000, () => jsm.streams.info(QUARANTINE_STREAM));
  const out: string[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && out.length < limit; seq++) {
    const m = await jsm.streams.getMessage(QUARANTINE_STREAM, { seq }).catch(() => null);
    if (!m) continue;
    const h = m.header;
    out.push(`${h.get('Chio-Reason-Code')} ${h.get('Chio-Reason')} (seq ${h.get('Chio-Stream-Seq')} line ${h.get('Chio-Line') || 0})`);
  }
  return out;
}

/** Wait until the ledger has integrated (or skipped) every message stored so far. */
export async function waitIntegrated(nc: NatsConnection, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const read = <T>(what: string, get: () => Promise<T>): Promise<T> => retried(what, deadline, get);
  const jsm = await read('opening JetStream', () => jetstreamManager(nc));
  const ledger = await read('opening the ledger bucket', () => new Kvm(nc).open(LEDGER_BUCKET));
  const last = (await read('reading the receipts stream', () => jsm.streams.info(RECEIPTS_STREAM))).state.last_seq;
  while ((await read('reading the ledger state', () => readLedgerState(ledger))).streamSeq < last) {
    if (Date.now() > deadline) throw new Error(`the ledger did not reach stream seq ${last} in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * No fork: on every chain, receipts in stream order have seq 1, 2, … n and each names the one
 * before it as prev. Returns each chain's length.
 */
export function expectWellFormedChains(stored: readonly StoredReceipt[]): Map<string, number> {
  const heads = new Map<string, { seq: number; id: string }>();
  for (const { receipt: r, streamSeq, line } of stored) {
    const head = heads.get(r.chain) ?? { seq: 0, id: GENESIS_PREV };
    expect({ chain: r.chain, seq: r.seq, prev: r.prev }, `receipt at stream seq ${streamSeq} line ${line}`).toEqual({ chain: r.chain, seq: head.seq + 1, prev: head.id });
    heads.set(r.chain, { seq: r.seq, id: r.id });
  }
  return new Map([...heads].map(([chain, h]) => [chain, h.seq]));
}

/** Prove each receipt id against the log (inclusion proof under a signed checkpoint); returns how many. */
export async function proveEach(ids: Iterable<string>, opts: ProveOptions): Promise<number> {
  let n = 0;
  for (const id of ids) {
    const proven = await proveReceipt(id, opts);
    expect(proven.receipt.id).toBe(id);
    n++;
  }
  return n;
}
