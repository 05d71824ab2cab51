/**
 * Objects of a JetStream object store, read, written and deleted message by message.
 *
 * Read: nats.js reads an object's chunks through a push consumer (`getBlob`), with no
 * deadline. In a cluster, after a stream leader failover, such a read was seen to wait forever
 * (a verifier request held past 10 s). A stream get is one request to the stream's leader with
 * the client's request timeout: it answers or fails.
 *
 * Delete: nats.js deletes an object with a purge of the stream filtered by the object's chunk
 * subject. After leader failovers in the cluster suite, a full entry bundle that nothing in Chio
 * deletes was gone from the store for good, while the only removals Chio made were such purges
 * of partial bundles; deleting the object's messages by sequence touches nothing else.
 *
 * The layout is the object store's own (nats.js `@nats-io/obj`, ADR-20): the object's info, as
 * JSON, is the last message on `$O.<bucket>.M.<base64url(name)>`; its bytes are the messages on
 * `$O.<bucket>.C.<nuid>`, in order, stored before the info; `digest` is `SHA-256=<base64url>`.
 */
import { createHash } from 'node:crypto';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { nuid } from '@nats-io/transport-node';
import type { ObjectInfo, ObjectStore } from '@nats-io/obj';
import { ChioError } from '../errors/index.js';

/** An object's info as stored (the fields Chio checks are validated on read). */
type StoredObjectInfo = Omit<ObjectInfo, 'revision'>;

/** An object's info message (its stream sequence and info), or undefined when there is none or it was deleted. */
async function readInfo(jsm: JetStreamManager, bucket: string, name: string): Promise<{ seq: number; info: StoredObjectInfo } | undefined> {
  const meta = await jsm.streams.getMessage(`OBJ_${bucket}`, { last_by_subj: `$O.${bucket}.M.${base64UrlPadded(name)}` });
  if (!meta) return undefined;
  const info = meta.json<StoredObjectInfo>();
  if (info.deleted) return undefined;
  if (!(typeof info.nuid === 'string' && Number.isSafeInteger(info.size) && info.size >= 0 && Number.isSafeInteger(info.chunks) && info.chunks >= 0)) {
    throw new ChioError('INTERNAL', `object ${name} of ${bucket} has a malformed info`);
  }
  return { seq: meta.seq, info };
}

/** The chunk messages of an object whose info is at `infoSeq`, in order, as `visit` takes them; stops when `visit` says false. */
async function eachChunk(jsm: JetStreamManager, bucket: string, info: StoredObjectInfo, infoSeq: number, visit: (seq: number, data: Uint8Array) => boolean): Promise<void> {
  const chunkSubject = `$O.${bucket}.C.${info.nuid}`;
  let seq = 0;
  for (let i = 0; i < info.chunks; i++) {
    // STREAM.MSG.GET takes next_by_subj (nats-server ≥ 2.9); nats.js types it for direct gets only.
    const next = { next_by_subj: chunkSubject, seq: seq + 1 } as unknown as { seq: number };
    const chunk = await jsm.streams.getMessage(`OBJ_${bucket}`, next);
    if (!chunk || chunk.seq >= infoSeq || !visit(chunk.seq, chunk.data)) return;
    seq = chunk.seq;
  }
}

/** An object's bytes, or undefined when there is none (or it was deleted). Throws when its chunks do not add up to its info. */
export async function readObject(jsm: JetStreamManager, bucket: string, name: string, maxBytes: number): Promise<Uint8Array | undefined> {
  const found = await readInfo(jsm, bucket, name);
  if (!found) return undefined;
  const { info } = found;
  if (info.size > maxBytes) throw new ChioError('INTERNAL', `object ${name} of ${bucket} is ${info.size} bytes, over ${maxBytes}`);
  const out = new Uint8Array(info.size);
  let filled = 0;
  await eachChunk(jsm, bucket, info, found.seq, (_seq, data) => {
    if (filled + data.length > info.size) return false;
    out.set(data, filled);
    filled += data.length;
    return true;
  });
  if (filled !== info.size || objectDigest(out) !== info.digest) throw new ChioError('INTERNAL', `object ${name} of ${bucket}: its chunks do not match its size and digest`);
  return out;
}

/** Delete an object: its info message first (readers then find none), then its chunks, each by sequence. */
export async function deleteObject(jsm: JetStreamManager, bucket: string, name: string): Promise<void> {
  const found = await readInfo(jsm, bucket, name);
  if (found) await deleteVersion(jsm, bucket, found);
}

async function deleteVersion(jsm: JetStreamManager, bucket: string, version: { seq: number; info: StoredObjectInfo }): Promise<void> {
  const chunks: number[] = [];
  await eachChunk(jsm, bucket, version.info, version.seq, (seq) => (chunks.push(seq), true));
  await jsm.streams.deleteMessage(`OBJ_${bucket}`, version.seq, false);
  await Promise.all(chunks.map((seq) => jsm.streams.deleteMessage(`OBJ_${bucket}`, seq, false)));
}

/** Chunk size of the objects Chio writes (the object store's usual 128 KiB). */
const CHUNK_BYTES = 128 * 1024;

/**
 * Store `data` as object `name`, unless it already holds exactly those bytes (a batch integrated
 * again writes the same bundles). The chunks are published all at once and awaited together
 * (one connection keeps their order), then the info; the version it replaces is deleted message
 * by message afterwards. nats.js's putBlob awaits each chunk in turn, hashes in JavaScript and
 * purges the old version by filter: on the ledger's hot path that made a batch wait on its
 * bundles for hundreds of milliseconds.
 */
export async function putObject(js: JetStreamClient, jsm: JetStreamManager, bucket: string, name: string, data: Uint8Array): Promise<ObjectInfo> {
  const digest = objectDigest(data);
  const old = await readInfo(jsm, bucket, name);
  if (old && old.info.size === data.length && old.info.digest === digest) return { ...old.info, revision: old.seq };
  const id = nuid.next();
  const acks: Array<Promise<unknown>> = [];
  for (let at = 0; at < data.length; at += CHUNK_BYTES) acks.push(js.publish(`$O.${bucket}.C.${id}`, data.subarray(at, at + CHUNK_BYTES)));
  await Promise.all(acks);
  const info = { name, bucket, nuid: id, size: data.length, chunks: acks.length, mtime: new Date().toISOString(), digest, deleted: false, options: { max_chunk_size: CHUNK_BYTES } };
  const ack = await js.publish(`$O.${bucket}.M.${base64UrlPadded(name)}`, JSON.stringify(info));
  if (old) await deleteVersion(jsm, bucket, old);
  return { ...info, revision: ack.seq };
}

function objectDigest(data: Uint8Array): string {
  return `SHA-256=${base64UrlPadded(createHash('sha256').update(data).digest())}`;
}

/**
 * `store` with `getBlob` answered by readObject, `delete` by deleteObject and `putBlob` by
 * putObject. Every other method is the store's own, so code written against an ObjectStore
 * works as before.
 */
export function withMessageAccess(store: ObjectStore, js: JetStreamClient, jsm: JetStreamManager, bucket: string, maxBytes: number): ObjectStore {
  const getBlob = async (name: string) => (await readObject(jsm, bucket, name, maxBytes)) ?? null;
  const deleteObj = async (name: string) => {
    await deleteObject(jsm, bucket, name);
    return { purged: 0, success: true };
  };
  const putBlob = (meta: Parameters<ObjectStore['putBlob']>[0], data: Uint8Array | null) => putObject(js, jsm, bucket, meta.name, data ?? new Uint8Array(0));
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'getBlob') return getBlob;
      if (prop === 'delete') return deleteObj;
      if (prop === 'putBlob') return putBlob;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function base64UrlPadded(data: string | Uint8Array): string {
  return Buffer.from(data).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}
