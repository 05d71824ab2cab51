import { describe, expect, it } from 'vitest';
import {
  CHAINS_BUCKET, CHECKPOINTS_STREAM, ENTRIES_STORE, INDEX_BUCKET, LEDGER_BUCKET, MAX_RECEIPT_MESSAGE_BYTES, QUARANTINE_STREAM,
  RECEIPTS_STREAM, REVOCATIONS_BUCKET, TILES_BUCKET, ensureResources, ensureStreams, openRevocationsBucket, receiptSubject,
} from '../../../src/store/resources.js';
import { MAX_RECEIPT_BYTES } from '../../../src/receipt/receipt.js';
import { useTestStore } from './nats.js';

const store = useTestStore();

describe('ensureResources', () => {
  it('keeps the names existing logs were created with', () => {
    expect([RECEIPTS_STREAM, QUARANTINE_STREAM, CHECKPOINTS_STREAM]).toEqual(['CHIO_RECEIPTS', 'CHIO_QUARANTINE', 'CHIO_CHECKPOINTS']);
    expect([INDEX_BUCKET, CHAINS_BUCKET, LEDGER_BUCKET, TILES_BUCKET, ENTRIES_STORE, REVOCATIONS_BUCKET]).toEqual(['chio-index', 'chio-chains', 'chio-ledger', 'chio-tiles', 'chio-entries', 'chio-revocations']);
    expect(receiptSubject('chain-a')).toBe('chio.receipts.chain-a');
  });

  it('is a no-op when everything exists, also when several processes start at once', async () => {
    await Promise.all([ensureResources(store.nc), ensureResources(store.nc), ensureStreams(store.nc)]);
    const streams = [];
    for await (const s of store.jsm.streams.list()) streams.push(s.config.name);
    expect(streams.filter((n) => n.startsWith('CHIO_')).sort()).toEqual(['CHIO_CHECKPOINTS', 'CHIO_QUARANTINE', 'CHIO_RECEIPTS']);
  });

  it('makes the receipts stream keep every receipt and refuse messages past the backstop', async () => {
    const { config } = await store.jsm.streams.info(RECEIPTS_STREAM);
    expect(config).toMatchObject({ subjects: ['chio.receipts.*'], deny_delete: true, deny_purge: true, max_msg_size: 64 * 1024 });
    expect(MAX_RECEIPT_MESSAGE_BYTES).toBeGreaterThan(MAX_RECEIPT_BYTES);
    const messageTooLarge = { name: 'JetStreamApiError', code: 10054 }; // JSStreamMessageExceedsMaximumErr
    await expect(store.js.publish(receiptSubject('big'), new Uint8Array(MAX_RECEIPT_MESSAGE_BYTES + 1))).rejects.toMatchObject(messageTooLarge);
    await expect(store.js.publish(receiptSubject('big'), new Uint8Array(MAX_RECEIPT_BYTES))).resolves.toMatchObject({ stream: RECEIPTS_STREAM });
  });

  it('keeps every checkpoint', async () => {
    const { config } = await store.jsm.streams.info(CHECKPOINTS_STREAM);
    expect(config).toMatchObject({ subjects: ['chio.checkpoints'], deny_delete: true, deny_purge: true });
  });
});

describe('ensureResources, bounds per entry', () => {
  it('keeps one value per key in the index and chain-head buckets, each at most 256 bytes', async () => {
    for (const name of [INDEX_BUCKET, CHAINS_BUCKET]) {
      const { config } = await store.jsm.streams.info(`KV_${name}`);
      expect(config).toMatchObject({ max_msgs_per_subject: 1, max_msg_size: 256 });
    }
    await expect(store.resources.index.put('too-big', 'x'.repeat(257))).rejects.toMatchObject({ code: 10054 });
  });

  it('adds the bound to a bucket created before it existed', async () => {
    const { config } = await store.jsm.streams.info(`KV_${CHAINS_BUCKET}`);
    await store.jsm.streams.update(config.name, { ...config, max_msg_size: -1 });
    await ensureResources(store.nc);
    expect((await store.jsm.streams.info(`KV_${CHAINS_BUCKET}`)).config.max_msg_size).toBe(256);
  });
});

describe('ensureResources, reads after writes', () => {
  // A direct get may be answered by a replica that is behind (after a failover), and the ledger
  // reads back chain heads and index entries it has just written: its reads go to the leader.
  it('reads the ledger buckets through the stream leader, never by direct get, also for a bucket made with allow_direct', async () => {
    const { config } = await store.jsm.streams.info(`KV_${CHAINS_BUCKET}`);
    await store.jsm.streams.update(config.name, { ...config, allow_direct: true });
    const resources = await ensureResources(store.nc);
    const seen: string[] = [];
    const spy = store.nc.subscribe('$JS.API.>', { callback: (_err, msg) => void seen.push(msg.subject) });
    await store.nc.flush();
    for (const kv of [resources.index, resources.chains, resources.ledger, resources.tiles]) {
      await kv.put('read-back', 'v');
      expect((await kv.get('read-back'))?.string()).toBe('v');
    }
    await store.nc.flush();
    spy.unsubscribe();
    const gets = seen.filter((s) => s.includes('.GET.'));
    expect(gets.filter((s) => s.startsWith('$JS.API.DIRECT.GET.'))).toEqual([]);
    expect(gets.filter((s) => s.startsWith('$JS.API.STREAM.MSG.GET.')).sort()).toEqual(
      [INDEX_BUCKET, CHAINS_BUCKET, LEDGER_BUCKET, TILES_BUCKET].map((b) => `$JS.API.STREAM.MSG.GET.KV_${b}`).sort(),
    );
  });
});

describe('openRevocationsBucket', () => {
  it('creates the revocations bucket once and opens it after', async () => {
    const [a, b] = await Promise.all([openRevocationsBucket(store.nc), openRevocationsBucket(store.nc)]);
    await a.put('k', 'v');
    expect((await b.get('k'))?.string()).toBe('v');
    expect((await a.status()).bucket).toBe(REVOCATIONS_BUCKET);
  });
});
