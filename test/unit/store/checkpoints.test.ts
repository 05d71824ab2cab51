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
    const first = await appendCheckpoint(store.js, 'note 1\n', 0);
    const second = await appendCheckpoint(store.js, 'note 2\n', first);
    expect(second).toBeGreaterThan(first);
    expect(await readLatestCheckpoint(store.jsm)).toEqual({ note: 'note 2\n', streamSeq: second });
  });

  it('refuses an append that does not name the latest checkpoint, so two writers cannot both extend it', async () => {
    const latest = (await readLatestCheckpoint(store.jsm))!;
    const wrongLast = { code: JetStreamApiCodes.StreamWrongLastSequence };
    await expect(appendCheckpoint(store.js, 'fork\n', latest.streamSeq - 1)).rejects.toMatchObject(wrongLast);
    await expect(appendCheckpoint(store.js, 'fork\n', 0)).rejects.toMatchObject(wrongLast);
    expect(await readLatestCheckpoint(store.jsm)).toEqual(latest);
  });
});
