/**
 * The JetStream streams, KV buckets and object stores Chio uses, and their idempotent set-up.
 *
 *   CHIO_RECEIPTS     stream  chio.receipts.<chain>   signed receipts, the source of truth
 *   CHIO_QUARANTINE   stream  chio.quarantine.<chain> receipts the ledger refused, with the reason
 *   CHIO_CHECKPOINTS  stream  chio.checkpoints        every signed checkpoint, in order
 *   chio-index        KV      <receipt id> → {"index", "seq"}                 (≤ 256 bytes, history 1)
 *   chio-chains       KV      <chain id>   → last integrated {"seq", "id", "index"} (≤ 256 bytes, history 1)
 *   chio-ledger       KV      state        → integration progress and the writer lease
 *   chio-tiles        KV      tile/<L>/…   → hash tiles (C2SP tlog-tiles)
 *   chio-entries      object  tile/entries/… → entry bundles (C2SP tlog-tiles)
 *   chio-revocations  KV      sha256(capability id) → {"revoked_at", "reason"?}
 *   chio-policies     object  sha256:<hex>   → JCS of the normalised policy set with that hash
 *
 * One module per resource says what its keys and values are: receipts.ts, quarantine.ts,
 * checkpoints.ts, receipt-index.ts, chain-heads.ts, ledger-state.ts, tile-store.ts,
 * revocations.ts, policy-archive.ts. Nothing outside src/store knows these names or keys.
 *
 * Every process creates what it uses when it starts; creating something that exists with the
 * same configuration is a no-op, so any number of processes may start at once.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, JetStreamApiError, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager, type StreamConfig } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { MAX_RECEIPT_BYTES } from '../receipt/receipt.js';
import { MAX_INDEX_VALUE_BYTES } from './receipt-index.js';
import { MAX_CHAIN_HEAD_VALUE_BYTES } from './chain-heads.js';
import { MAX_ARCHIVED_POLICY_BYTES } from './policy-archive.js';
import { withMessageAccess } from './objects.js';
import { assertKeepsMessages, checkStreamKeepsMessages } from './stream-limits.js';


export const RECEIPTS_STREAM = 'CHIO_RECEIPTS';
export const RECEIPTS_SUBJECT_PREFIX = 'chio.receipts';
export const QUARANTINE_STREAM = 'CHIO_QUARANTINE';
export const QUARANTINE_SUBJECT_PREFIX = 'chio.quarantine';
export const CHECKPOINTS_STREAM = 'CHIO_CHECKPOINTS';
export const CHECKPOINTS_SUBJECT = 'chio.checkpoints';
export const INDEX_BUCKET = 'chio-index';
export const CHAINS_BUCKET = 'chio-chains';
export const LEDGER_BUCKET = 'chio-ledger';
export const TILES_BUCKET = 'chio-tiles';
export const ENTRIES_STORE = 'chio-entries';
export const REVOCATIONS_BUCKET = 'chio-revocations';
export const POLICIES_STORE = 'chio-policies';

/**
 * Every JetStream stream Chio keeps, KV buckets and object stores by their streams' names.
 * None expires a message (the log is append-only): together they are what fills the file store.
 */
export const CHIO_STREAMS = [
  RECEIPTS_STREAM, QUARANTINE_STREAM, CHECKPOINTS_STREAM,
  ...[INDEX_BUCKET, CHAINS_BUCKET, LEDGER_BUCKET, TILES_BUCKET, REVOCATIONS_BUCKET].map((b) => `KV_${b}`),
  ...[ENTRIES_STORE, POLICIES_STORE].map((o) => `OBJ_${o}`),
] as const;

/** Window in which JetStream drops a second publish of the same Nats-Msg-Id (a receipt id). */
const DUPLICATE_WINDOW_NS = 2 * 60 * 1_000_000_000;
/**
 * Server-side backstop on a receipts-stream message (64 KiB). The publisher refuses receipts
 * over MAX_RECEIPT_BYTES itself; four times that leaves room for the headers (Nats-Msg-Id,
 * expected last sequence), so the server never refuses a receipt the publisher admitted.
 * ensureStreams never updates a stream that exists, so a change here reaches new logs only.
 */
export const MAX_RECEIPT_MESSAGE_BYTES = 4 * MAX_RECEIPT_BYTES;

/** Largest entry bundle: 256 receipts of at most MAX_RECEIPT_BYTES, each with its 2-byte length (C2SP tlog-tiles). */
const MAX_ENTRY_BUNDLE_BYTES = 256 * (MAX_RECEIPT_BYTES + 2);

export interface ChioResources {
  index: KV;
  chains: KV;
  ledger: KV;
  tiles: KV;
  entries: ObjectStore;
  policies: ObjectStore;
}

function streamConfigs(replicas: number): Array<Partial<StreamConfig> & { name: string }> {
  const common = {
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    num_replicas: replicas,
    allow_direct: true,
  };
  return [
    {
      ...common,
      name: RECEIPTS_STREAM,
      subjects: [`${RECEIPTS_SUBJECT_PREFIX}.*`],
      duplicate_window: DUPLICATE_WINDOW_NS,
      max_msg_size: MAX_RECEIPT_MESSAGE_BYTES,
      deny_delete: true,
      deny_purge: true,
    },
    { ...common, name: QUARANTINE_STREAM, subjects: [`${QUARANTINE_SUBJECT_PREFIX}.*`], deny_delete: true },
    { ...common, name: CHECKPOINTS_STREAM, subjects: [CHECKPOINTS_SUBJECT], deny_delete: true, deny_purge: true },
  ];
}

/**
 * Create (or find) the streams. Safe to call from any number of processes at once. Throws
 * CONFIG_INVALID when one that exists would delete what it holds (store/stream-limits.ts).
 */
export async function ensureStreams(nc: NatsConnection, replicas = 1): Promise<void> {
  const jsm = await jetstreamManager(nc);
  for (const cfg of streamConfigs(replicas)) {
    try {
      await checkStreamKeepsMessages(jsm, cfg.name, 'every-message');
    } catch (err) {
      if (!(err instanceof JetStreamApiError) || err.status !== 404) throw err;
      try {
        await jsm.streams.add(cfg);
      } catch (addErr) {
        // Another process created it between our info() and add(): fine, it exists now.
        await checkStreamKeepsMessages(jsm, cfg.name, 'every-message').catch((err: unknown) => Promise.reject(err instanceof JetStreamApiError ? addErr : err));
      }
    }
  }
}

/** Create (or open) the streams, KV buckets and object store the ledger and verifier use. */
export async function ensureResources(nc: NatsConnection, replicas = 1): Promise<ChioResources> {
  await ensureStreams(nc, replicas);
  const kvm = new Kvm(nc);
  const objm = new Objm(nc);
  // allow_direct false: every get goes to the bucket's stream leader. A direct get may be
  // answered by any replica, and one that is behind (a node just back after a failover) returns
  // a chain head or index entry older than the ledger's own last write: valid receipts then look
  // like broken chains and are quarantined. The ledger reads back what it wrote; it must read
  // the latest. An existing bucket keeps allow_direct in its stream config; this client still
  // reads through the leader.
  const bucket = (name: string, maxValueSize = -1) => openBucket(nc, kvm, name, ledgerBucketOptions(replicas, maxValueSize));
  const [index, chains, ledger, tiles] = await Promise.all([
    bucket(INDEX_BUCKET, MAX_INDEX_VALUE_BYTES),
    openChainHeadsBucket(nc, replicas),
    bucket(LEDGER_BUCKET),
    bucket(TILES_BUCKET),
  ]);
  const jsm = await jetstreamManager(nc);
  const entries = entryBundleStore(await objm.create(ENTRIES_STORE, { replicas, storage: StorageType.File }), jetstream(nc), jsm);
  await checkStreamKeepsMessages(jsm, `OBJ_${ENTRIES_STORE}`, 'every-message');
  const policies = await openPolicyArchive(nc, replicas);
  return { index, chains, ledger, tiles, entries, policies };
}

/**
 * The entry bundle store `store` (chio-entries) read and written message by message
 * (objects.ts) through `js` and `jsm`: the ledger passes handles whose requests end at a NATS
 * reconnect (nats/reconnects.ts).
 */
export function entryBundleStore(store: ObjectStore, js: JetStreamClient, jsm: JetStreamManager): ObjectStore {
  return withMessageAccess(store, js, jsm, ENTRIES_STORE, MAX_ENTRY_BUNDLE_BYTES);
}

/** Create (or open) the policy archive; authz writes it, the verifier reads it. */
export async function openPolicyArchive(nc: NatsConnection, replicas = 1): Promise<ObjectStore> {
  const store = await new Objm(nc).create(POLICIES_STORE, { replicas, storage: StorageType.File });
  const jsm = await jetstreamManager(nc);
  await checkStreamKeepsMessages(jsm, `OBJ_${POLICIES_STORE}`, 'every-message');
  return withMessageAccess(store, jetstream(nc), jsm, POLICIES_STORE, MAX_ARCHIVED_POLICY_BYTES);
}

/**
 * Create (or open) a KV bucket. Opening one made before a bound (maxValueSize) existed keeps its
 * old configuration, so the bound is then added to its stream.
 */
async function openBucket(nc: NatsConnection, kvm: Kvm, name: string, opts: { replicas: number; history: number; storage: StorageType; maxValueSize: number; allow_direct: boolean }, bound = true): Promise<KV> {
  const kv = await kvm.create(name, opts);
  const jsm = await jetstreamManager(nc);
  const { config } = await jsm.streams.info(`KV_${name}`);
  assertKeepsMessages(config, 'latest-per-key');
  // Only the bucket's writer edits its stream (deploy/nats/chio-users.conf): a reader opens it as it is.
  if (bound && config.max_msg_size !== opts.maxValueSize) await jsm.streams.update(config.name, { ...config, max_msg_size: opts.maxValueSize });
  return kv;
}

/** How the ledger's buckets are made: one value per key, on file, read through the leader (see ensureResources). */
function ledgerBucketOptions(replicas: number, maxValueSize: number) {
  return { replicas, history: 1, storage: StorageType.File, maxValueSize, allow_direct: false };
}

/**
 * Create (or open) the chain-heads bucket: the ledger writes each chain's integrated head, and
 * authz reads its own chains' when it opens them (a stream that lost receipts the log holds).
 */
export async function openChainHeadsBucket(nc: NatsConnection, replicas = 1, access: 'writer' | 'reader' = 'writer'): Promise<KV> {
  // authz reads it, and may not edit the stream of a bucket an older ledger made without its bound.
  return openBucket(nc, new Kvm(nc), CHAINS_BUCKET, ledgerBucketOptions(replicas, MAX_CHAIN_HEAD_VALUE_BYTES), access === 'writer');
}

/** Create (or open) the revocations bucket; authz and `chio token revoke` use it. */
export async function openRevocationsBucket(nc: NatsConnection, replicas = 1): Promise<KV> {
  const kv = await new Kvm(nc).create(REVOCATIONS_BUCKET, { replicas, history: 1, storage: StorageType.File });
  // A revocation the bucket forgot would make a revoked capability good again.
  await checkStreamKeepsMessages(await jetstreamManager(nc), `KV_${REVOCATIONS_BUCKET}`, 'latest-per-key');
  return kv;
}

/** The subject a chain's receipts are published on. */
export function receiptSubject(chain: string): string {
  return `${RECEIPTS_SUBJECT_PREFIX}.${chain}`;
}

/** The chain a receipts-stream subject names (receiptSubject's inverse); '' for a subject of no chain. */
export function chainOfReceiptSubject(subject: string): string {
  return subject.startsWith(`${RECEIPTS_SUBJECT_PREFIX}.`) ? subject.slice(RECEIPTS_SUBJECT_PREFIX.length + 1) : '';
}
