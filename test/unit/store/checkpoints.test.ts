import { describe, expect, it } from 'vitest';
import { JetStreamApiCodes } from '@nats-io/jetstream';
import { appendCheckpoint, readLatestCheckpoint } from '../../../src/store/checkpoints.js';
import { useTestStore } from './nats.js';

const store = useTestStore();

describe('readLatestCheckpoint', () => {
  it('finds none before the first publish', async () => {
    expect(await readLatestCheckpoint(store.jsm)).toBeUndefined();
  });
});

describe('appendCheckpoint', () => {
  it('appends after the latest one and returns its stream sequence', async () => {
    const before = Date.now();
    const first = await appendCheckpoint(store.js, 'note 1\n', 0);
    const second = await appendCheckpoint(store.js, 'note 2\n', first);
    expect(second).toBeGreaterThan(first);
    const latest = await readLatestCheckpoint(store.jsm);
    expect(latest).toMatchObject({ note: 'note 2\n', streamSeq: second });
    // The server's clock stamps it: the same machine here, so within this test's run.
    expect(latest!.storedAt).toBeGreaterThanOrEqual(before - 1000);
    expect(latest!.storedAt).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it('refuses an append that does not name the latest checkpoint, so two writers cannot both extend it', async () => {
    const latest = (await readLatestCheckpoint(store.jsm))!;
    const wrongLast = { code: JetStreamApiCodes.StreamWrongLastSequence };
    await expect(appendCheckpoint(store.js, 'fork\n', latest.streamSeq - 1)).rejects.toMatchObject(wrongLast);
    await expect(appendCheckpoint(store.js, 'fork\n', 0)).rejects.toMatchObject(wrongLast);
    expect(await readLatestCheckpoint(store.jsm)).toEqual(latest);
  });
});
