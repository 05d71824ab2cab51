import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { Objm } from '@nats-io/obj';
import { deleteObject, readObject } from '../../../src/store/objects.js';
import { ENTRIES_STORE } from '../../../src/store/resources.js';
import { useTestStore } from './nats.js';

const store = useTestStore();
const MAX = 8 * 1024 * 1024;

describe('objects by message (stream gets, not a consumer; deletes by sequence, not a purge)', () => {
  it('reads an object of many chunks, byte for byte, and one of none', async () => {
    const big = randomBytes(300 * 1024 + 7); // the default chunk is 128 KiB: three chunks
    await store.resources.entries.putBlob({ name: 'big' }, big);
    expect(Buffer.from((await readObject(store.jsm, ENTRIES_STORE, 'big', MAX))!)).toEqual(big);
    await store.resources.entries.putBlob({ name: 'empty' }, new Uint8Array(0));
    expect(await readObject(store.jsm, ENTRIES_STORE, 'empty', MAX)).toEqual(new Uint8Array(0));
  });

  it('reads the latest version of a name put twice', async () => {
    await store.resources.entries.putBlob({ name: 'twice' }, new TextEncoder().encode('first'));
    await store.resources.entries.putBlob({ name: 'twice' }, new TextEncoder().encode('second, longer'));
    expect(new TextDecoder().decode(await readObject(store.jsm, ENTRIES_STORE, 'twice', MAX))).toBe('second, longer');
  });

  it('answers undefined for a missing or deleted object', async () => {
    expect(await readObject(store.jsm, ENTRIES_STORE, 'never', MAX)).toBeUndefined();
    await store.resources.entries.putBlob({ name: 'gone' }, new TextEncoder().encode('x'));
    await store.resources.entries.delete('gone');
    expect(await readObject(store.jsm, ENTRIES_STORE, 'gone', MAX)).toBeUndefined();
  });

  it('refuses an object over the bound and one whose chunks do not match its digest', async () => {
    await store.resources.entries.putBlob({ name: 'large' }, new Uint8Array(1000));
    await expect(readObject(store.jsm, ENTRIES_STORE, 'large', 999)).rejects.toMatchObject({ code: 'INTERNAL' });
    // Another object's info under this name: same size, other digest.
    await store.resources.entries.putBlob({ name: 'forged' }, new TextEncoder().encode('aaaa'));
    const meta = `$O.${ENTRIES_STORE}.M.${Buffer.from('forged').toString('base64').replace(/\+/g, '-').replace(/\//g, '_')}`;
    const info = (await store.jsm.streams.getMessage(`OBJ_${ENTRIES_STORE}`, { last_by_subj: meta }))!.json<Record<string, unknown>>();
    await store.js.publish(meta, JSON.stringify({ ...info, digest: `SHA-256=${Buffer.alloc(32).toString('base64').replace(/\+/g, '-').replace(/\//g, '_')}` }));
    await expect(readObject(store.jsm, ENTRIES_STORE, 'forged', MAX)).rejects.toThrow(/do not match/);
  });

  it('is what the stores of ensureResources read with', async () => {
    await store.resources.entries.putBlob({ name: 'through-resources' }, new TextEncoder().encode('y'));
    const seen: string[] = [];
    const spy = store.nc.subscribe('$JS.API.>', { callback: (_err, msg) => void seen.push(msg.subject) });
    await store.nc.flush();
    expect(new TextDecoder().decode((await store.resources.entries.getBlob('through-resources'))!)).toBe('y');
    spy.unsubscribe();
    expect(seen.some((s) => s.startsWith('$JS.API.CONSUMER.'))).toBe(false);
    expect(seen.filter((s) => s === `$JS.API.STREAM.MSG.GET.OBJ_${ENTRIES_STORE}`).length).toBeGreaterThanOrEqual(2);
  });

  it('deletes an object message by message, and nothing else', async () => {
    const os = store.resources.entries;
    await os.putBlob({ name: 'keep' }, randomBytes(200 * 1024));
    await os.putBlob({ name: 'drop' }, randomBytes(200 * 1024));
    const keep = await readObject(store.jsm, ENTRIES_STORE, 'keep', MAX);
    const seen: string[] = [];
    const spy = store.nc.subscribe('$JS.API.>', { callback: (_err, msg) => void seen.push(msg.subject) });
    await store.nc.flush();
    await os.delete('drop');
    await store.nc.flush();
    spy.unsubscribe();
    expect(seen.filter((s) => s.includes('.PURGE.'))).toEqual([]);
    expect(seen.filter((s) => s === `$JS.API.STREAM.MSG.DELETE.OBJ_${ENTRIES_STORE}`)).toHaveLength(3); // the info and two chunks
    expect(await readObject(store.jsm, ENTRIES_STORE, 'drop', MAX)).toBeUndefined();
    expect(await readObject(store.jsm, ENTRIES_STORE, 'keep', MAX)).toEqual(keep);
    await expect(deleteObject(store.jsm, ENTRIES_STORE, 'drop')).resolves.toBeUndefined(); // again: nothing to do
  });

  it('stores bytes an object already holds no second time', async () => {
    const os = store.resources.entries;
    const data = randomBytes(1000);
    await os.putBlob({ name: 'same' }, data);
    const { state } = await store.jsm.streams.info(`OBJ_${ENTRIES_STORE}`);
    await os.putBlob({ name: 'same' }, data);
    expect((await store.jsm.streams.info(`OBJ_${ENTRIES_STORE}`)).state.last_seq).toBe(state.last_seq);
    await os.putBlob({ name: 'same' }, randomBytes(1000));
    expect((await store.jsm.streams.info(`OBJ_${ENTRIES_STORE}`)).state.last_seq).toBeGreaterThan(state.last_seq);
  });

  it('writes an object nats.js reads too, and replaces a version without a purge, deleting the old one', async () => {
    const os = store.resources.entries;
    const first = randomBytes(300 * 1024);
    await os.putBlob({ name: 'replaced' }, first);
    const plain = await new Objm(store.nc).open(ENTRIES_STORE);
    expect(Buffer.from((await plain.getBlob('replaced'))!)).toEqual(first);
    const before = (await store.jsm.streams.info(`OBJ_${ENTRIES_STORE}`)).state.messages;
    const seen: string[] = [];
    const spy = store.nc.subscribe('$JS.API.>', { callback: (_err, msg) => void seen.push(msg.subject) });
    await store.nc.flush();
    const second = randomBytes(10 * 1024);
    await os.putBlob({ name: 'replaced' }, second);
    await store.nc.flush();
    spy.unsubscribe();
    expect(seen.filter((s) => s.includes('.PURGE.'))).toEqual([]);
    expect(Buffer.from((await readObject(store.jsm, ENTRIES_STORE, 'replaced', MAX))!)).toEqual(second);
    // Three chunks and an info went, one chunk and an info came.
    expect((await store.jsm.streams.info(`OBJ_${ENTRIES_STORE}`)).state.messages).toBe(before - 2);
  });
});
