/**
 * What a log in JetStream must be after anything happened to its ledgers (kills, takeovers):
 * exactly the tree an uninterrupted run of the pure integrate() makes over the same receipts
 * stream (test/unit/ledger/memory-log.ts), every leaf indexed once, quarantine once per refused
 * message, and every published checkpoint consistent with the one before it.
 */
import { expect } from 'vitest';
import { createHash } from 'node:crypto';
import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { ChioResources } from '../../src/store/resources.js';
import { CHECKPOINTS_STREAM, QUARANTINE_STREAM, RECEIPTS_STREAM } from '../../src/store/resources.js';
import { readLedgerState } from '../../src/store/ledger-state.js';
import type { StoredMessage } from '../../src/store/receipts.js';
import { TILE_WIDTH, TileStore } from '../../src/store/tile-store.js';
import { integrate } from '../../src/ledger/integrate.js';
import { checkTree, openCheckpoint, proveTree, type Checkpoint } from '../../src/tlog/index.js';
import { toHex } from '../../src/encoding.js';
import { MemoryLog } from '../unit/ledger/memory-log.js';

/** Every message of a stream from `fromSeq` on, in order. */
export async function readStream(js: JetStreamClient, jsm: JetStreamManager, stream: string): Promise<Array<StoredMessage & { headers?: Map<string, string> }>> {
  const last = (await jsm.streams.info(stream)).state.last_seq;
  const out: Array<StoredMessage & { headers?: Map<string, string> }> = [];
  if (last === 0) return out;
  const consumer = await js.consumers.get(stream, { deliver_policy: DeliverPolicy.All });
  const messages = await consumer.fetch({ max_messages: last, expires: 10_000 });
  for await (const m of messages) {
    const headers = new Map<string, string>();
    for (const [k, v] of m.headers ?? []) headers.set(k, v[0]!);
    out.push({ seq: m.seq, data: m.data, headers });
    if (m.seq >= last) break;
  }
  messages.stop();
  expect(out.at(-1)?.seq).toBe(last);
  return out;
}

/** The log an uninterrupted run makes of `messages`. */
export async function referenceLog(messages: readonly StoredMessage[], kernelKeys: readonly string[]): Promise<MemoryLog> {
  const log = new MemoryLog();
  for (let i = 0; i < messages.length; i += TILE_WIDTH) {
    log.apply(await integrate(log.state, messages.slice(i, i + TILE_WIDTH), log.reader(), { kernelKeys }));
  }
  return log;
}

/** The published checkpoints, oldest first. */
export async function readCheckpoints(js: JetStreamClient, jsm: JetStreamManager, logKey: string): Promise<Checkpoint[]> {
  return (await readStream(js, jsm, CHECKPOINTS_STREAM)).map((m) => openCheckpoint(new TextDecoder().decode(m.data), logKey));
}

export interface AuditResult {
  reference: MemoryLog;
  checkpoints: Checkpoint[];
  receipts: number;
}

/** Assert the stored log is the reference log of its stream; see the file comment. */
export async function auditLog(js: JetStreamClient, jsm: JetStreamManager, resources: ChioResources, keys: { log: string; kernels: readonly string[] }): Promise<AuditResult> {
  const stream = await readStream(js, jsm, RECEIPTS_STREAM);
  const reference = await referenceLog(stream, keys.kernels);
  // The cursor records what it read: the SHA-256 of the stream's message at it.
  const atCursor = stream.find((m) => m.seq === reference.state.streamSeq);
  expect(await readLedgerState(resources.ledger)).toEqual({
    size: reference.state.size,
    streamSeq: reference.state.streamSeq,
    ...(atCursor ? { lastMessage: createHash('sha256').update(atCursor.data).digest('hex') } : {}),
  });

  const checkpoints = await readCheckpoints(js, jsm, keys.log);
  const latest = checkpoints.at(-1)!;
  expect(latest.size).toBe(reference.state.size);
  expect(toHex(latest.root)).toBe(toHex(reference.state.root));
  const tiles = new TileStore(resources.tiles, resources.entries);
  for (let i = 1; i < checkpoints.length; i++) {
    const [older, newer] = [checkpoints[i - 1]!, checkpoints[i]!];
    expect(newer.size).toBeGreaterThanOrEqual(older.size);
    if (older.size === newer.size) expect(toHex(newer.root)).toBe(toHex(older.root));
    else if (older.size > 0) checkTree(await proveTree(newer.size, older.size, tiles.hashReader(newer.size)), newer.size, newer.root, older.size, older.root);
  }

  // Every leaf indexed exactly once, at its index; nothing else in the index.
  const indexed: string[] = [];
  for await (const key of await resources.index.keys()) indexed.push(key);
  expect(indexed.sort()).toEqual([...reference.index.keys()].sort());
  for (const [id, entry] of reference.index) expect((await resources.index.get(id))?.json()).toEqual(entry);

  // Quarantined once per refused message, whatever the replays.
  const quarantined = (await readStream(js, jsm, QUARANTINE_STREAM)).map((m) => Number(m.headers?.get('Chio-Stream-Seq')));
  expect(quarantined).toEqual([...reference.quarantine.keys()]);
  return { reference, checkpoints, receipts: stream.length };
}
