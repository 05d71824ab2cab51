/**
 * A process refuses to start on a stream, bucket or object store of Chio's that would delete
 * what it holds by itself (store/stream-limits.ts): the checks on plain configurations, then
 * against a real nats-server, with streams made or edited as an operator's tool would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, DiscardPolicy, RetentionPolicy, StorageType, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { forgettingLimits } from '../../../src/store/stream-limits.js';
import {
  CHECKPOINTS_STREAM, ENTRIES_STORE, INDEX_BUCKET, RECEIPTS_STREAM, REVOCATIONS_BUCKET, ensureResources, ensureStreams, openRevocationsBucket, receiptSubject,
} from '../../../src/store/resources.js';
import { startTestNats, type TestNats } from '../../support/nats.js';

const KEEPS = { retention: RetentionPolicy.Limits, discard: DiscardPolicy.Old, max_msgs: -1, max_bytes: -1, max_age: 0, max_msgs_per_subject: -1, storage: StorageType.File };

describe('forgettingLimits', () => {
  it('finds nothing in the configuration Chio creates, nor in a KV bucket keeping one value per key', () => {
    expect(forgettingLimits(KEEPS, 'every-message')).toEqual([]);
    expect(forgettingLimits({ ...KEEPS, discard: DiscardPolicy.New, max_msgs_per_subject: 1 }, 'latest-per-key')).toEqual([]);
  });

  it.each([
    ['a max age', { max_age: 3600e9 }, 'max_age 3600s'],
    ['a message limit discarding the oldest', { max_msgs: 1000 }, 'max_msgs 1000'],
    ['a size limit discarding the oldest', { max_bytes: 1 << 30 }, 'max_bytes 1073741824'],
    ['work-queue retention', { retention: RetentionPolicy.Workqueue }, 'retention "workqueue"'],
    ['interest retention', { retention: RetentionPolicy.Interest }, 'retention "interest"'],
    ['a per-subject limit on a chain of receipts', { max_msgs_per_subject: 10 }, 'max_msgs_per_subject 10'],
    ['a per-subject limit with discard new but not per subject', { max_msgs_per_subject: 10, discard: DiscardPolicy.New }, 'max_msgs_per_subject 10'],
    ['memory storage', { storage: StorageType.Memory }, 'storage "memory" is lost when nats-server restarts'],
  ])('refuses %s', (_, change, said) => {
    const found = forgettingLimits({ ...KEEPS, ...change }, 'every-message');
    expect(found).toHaveLength(1);
    expect(found[0]).toContain(said);
  });

  it('keeps limits under which a full stream refuses writes (discard new): a publish fails, nothing stored goes', () => {
    expect(forgettingLimits({ ...KEEPS, discard: DiscardPolicy.New, max_msgs: 1000, max_bytes: 1 << 30 }, 'every-message')).toEqual([]);
    expect(forgettingLimits({ ...KEEPS, discard: DiscardPolicy.New, discard_new_per_subject: true, max_msgs_per_subject: 10 }, 'every-message')).toEqual([]);
  });

  it('reads a KV bucket as losing keys when a limit other than its history deletes', () => {
    expect(forgettingLimits({ ...KEEPS, discard: DiscardPolicy.New, max_msgs_per_subject: 1, max_age: 60e9 }, 'latest-per-key')).toEqual(['max_age 60s deletes older messages']);
    expect(forgettingLimits({ ...KEEPS, max_msgs_per_subject: 1, max_bytes: 4096 }, 'latest-per-key')).toHaveLength(1);
  });
});

describe('opening what exists, on a real nats-server', () => {
  let nats: TestNats;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  beforeAll(async () => {
    nats = await startTestNats();
    nc = await connect({ servers: nats.current.url });
    jsm = await jetstreamManager(nc);
  });
  afterAll(async () => {
    await nc?.drain();
    await nats?.cleanup();
  });

  const configInvalid = (said: string) => ({ name: 'ChioError', code: 'CONFIG_INVALID', message: expect.stringContaining(said) });
  const edit = async (stream: string, change: Partial<StreamConfig>) => {
    const { config } = await jsm.streams.info(stream);
    await jsm.streams.update(stream, { ...config, ...change });
  };

  it('refuses a receipts stream made with a max age, and opens it once the limit is gone', async () => {
    await jsm.streams.add({ name: RECEIPTS_STREAM, subjects: ['chio.receipts.*'], storage: StorageType.File, max_age: 3600e9 });
    await expect(ensureStreams(nc)).rejects.toMatchObject(configInvalid(`stream ${RECEIPTS_STREAM} would lose what Chio stores in it: max_age 3600s`));
    await edit(RECEIPTS_STREAM, { max_age: 0 });
    await expect(ensureStreams(nc)).resolves.toBeUndefined();
  });

  it('refuses a receipts stream edited to drop its oldest receipts past a count, and takes discard new', async () => {
    await edit(RECEIPTS_STREAM, { max_msgs: 3, discard: DiscardPolicy.Old });
    await expect(ensureResources(nc)).rejects.toMatchObject(configInvalid('max_msgs 3 with discard "old"'));
    // What the refusal guards against: the server drops the first receipt by itself.
    for (let i = 0; i < 4; i++) await nc.request(receiptSubject('limits'), new TextEncoder().encode(`r${i}`));
    expect((await jsm.streams.info(RECEIPTS_STREAM)).state.first_seq).toBe(2);
    await edit(RECEIPTS_STREAM, { discard: DiscardPolicy.New });
    await expect(ensureStreams(nc)).resolves.toBeUndefined();
    await edit(RECEIPTS_STREAM, { max_msgs: -1 });
  });

  it('refuses a revocations bucket made in memory, which a restart of nats-server empties', async () => {
    await jsm.streams.delete(`KV_${REVOCATIONS_BUCKET}`).catch(() => undefined);
    await new Kvm(nc).create(REVOCATIONS_BUCKET, { history: 1, storage: StorageType.Memory });
    await expect(openRevocationsBucket(nc)).rejects.toMatchObject(configInvalid('storage "memory"'));
    await jsm.streams.delete(`KV_${REVOCATIONS_BUCKET}`);
  });

  it('refuses a checkpoints stream made as a work queue', async () => {
    await jsm.streams.delete(CHECKPOINTS_STREAM); // made by the tests above
    await jsm.streams.add({ name: CHECKPOINTS_STREAM, subjects: ['chio.checkpoints'], storage: StorageType.File, retention: RetentionPolicy.Workqueue });
    await expect(ensureStreams(nc)).rejects.toMatchObject(configInvalid(`stream ${CHECKPOINTS_STREAM} would lose what Chio stores in it: retention "workqueue"`));
    await jsm.streams.delete(CHECKPOINTS_STREAM);
    await expect(ensureStreams(nc)).resolves.toBeUndefined();
  });

  it('refuses a revocations bucket whose entries expire: a revoked capability would be good again', async () => {
    await new Kvm(nc).create(REVOCATIONS_BUCKET, { history: 1, ttl: 60_000 });
    await expect(openRevocationsBucket(nc)).rejects.toMatchObject(configInvalid(`KV_${REVOCATIONS_BUCKET} would lose what Chio stores in it: max_age 60s`));
    await edit(`KV_${REVOCATIONS_BUCKET}`, { max_age: 0 });
    await expect(openRevocationsBucket(nc)).resolves.toBeDefined();
  });

  it('refuses an index bucket or an entries store that drops the oldest when full', async () => {
    await expect(ensureResources(nc)).resolves.toBeDefined();
    await edit(`KV_${INDEX_BUCKET}`, { max_bytes: 1 << 20, discard: DiscardPolicy.Old });
    await expect(ensureResources(nc)).rejects.toMatchObject(configInvalid(`KV_${INDEX_BUCKET} would lose what Chio stores in it: max_bytes 1048576`));
    await edit(`KV_${INDEX_BUCKET}`, { max_bytes: -1, discard: DiscardPolicy.New });
    await edit(`OBJ_${ENTRIES_STORE}`, { max_age: 7 * 24 * 3600e9 });
    await expect(ensureResources(nc)).rejects.toMatchObject(configInvalid(`OBJ_${ENTRIES_STORE} would lose`));
    await edit(`OBJ_${ENTRIES_STORE}`, { max_age: 0 });
    await expect(ensureResources(nc)).resolves.toBeDefined();
  });
});
