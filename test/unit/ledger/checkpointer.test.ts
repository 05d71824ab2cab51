/**
 * The checkpointer (SPEC §6) on a real nats-server: it signs only the tree it can read, only
 * when it grew, and never two checkpoints that do not extend each other, also after a lost
 * PubAck or a second writer. Each describe has its own server (its own checkpoints stream).
 */
import { describe, expect, it } from 'vitest';
import { JetStreamApiCodes, type JetStreamClient } from '@nats-io/jetstream';
import { Checkpointer } from '../../../src/ledger/checkpointer.js';
import { readLatestCheckpoint } from '../../../src/store/checkpoints.js';
import { CHECKPOINTS_SUBJECT } from '../../../src/store/resources.js';
import { createLogger } from '../../../src/log.js';
import { emptyHash, newEd25519SignerKey, openCheckpoint } from '../../../src/tlog/index.js';
import { toHex } from '../../../src/encoding.js';
import { expectRejectCode } from '../../support/errors.js';
import { useTestStore, type StoreContext } from '../store/nats.js';
import { LogFixture } from '../store/log-fixture.js';

const ORIGIN = 'chio.test/checkpointer';
const logKey = newEd25519SignerKey(ORIGIN, new Uint8Array(32).fill(4));
const entries = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => new TextEncoder().encode(`entry ${from + i}`));

function checkpointerOf(store: StoreContext, log: LogFixture, js: JetStreamClient = store.js): Checkpointer {
  return new Checkpointer({ js, jsm: store.jsm, tiles: log.tiles, origin: ORIGIN, logSignerKey: logKey.signerKey, log: createLogger('silent') });
}

async function latestSize(store: StoreContext): Promise<number | undefined> {
  const latest = await readLatestCheckpoint(store.jsm);
  return latest && openCheckpoint(latest.note, logKey.verifierKey).size;
}

class InjectedFailure extends Error {}

/** A JetStream client whose next publish fails: after storing the message (a lost PubAck) or before. */
function lossy(js: JetStreamClient): { js: JetStreamClient; failNext(stored: boolean): void } {
  let fail: 'stored' | 'not-stored' | undefined;
  const proxy = new Proxy(js, {
    get(target, prop, receiver) {
      if (prop !== 'publish') return Reflect.get(target, prop, receiver);
      return async (...args: Parameters<JetStreamClient['publish']>) => {
        const mode = fail;
        fail = undefined;
        if (mode === 'not-stored') throw new InjectedFailure('connection lost before the publish');
        const ack = await target.publish(...args);
        if (mode === 'stored') throw new InjectedFailure('PubAck lost');
        return ack;
      };
    },
  });
  return { js: proxy, failNext: (stored) => (fail = stored ? 'stored' : 'not-stored') };
}

describe('Checkpointer.publish', () => {
  const store = useTestStore();

  it('publishes the first checkpoint, then a new one only when the tree grew', async () => {
    const log = new LogFixture(store);
    const checkpointer = checkpointerOf(store, log);
    expect(await checkpointer.open()).toBeUndefined();
    const empty = await checkpointer.publish(0, emptyHash());
    expect(empty).toMatchObject({ size: 0 });
    expect(await checkpointer.publish(0, emptyHash())).toBeUndefined();

    await log.writeEntries(entries(0, 5));
    const five = await checkpointer.publish(5, await log.root());
    expect(five).toMatchObject({ size: 5, streamSeq: empty!.streamSeq + 1 });
    expect(await checkpointer.publish(5, await log.root())).toBeUndefined();
    expect(await checkpointer.publish(3, await log.root(3))).toBeUndefined();

    const latest = (await readLatestCheckpoint(store.jsm))!;
    expect(latest).toMatchObject({ note: five!.note, streamSeq: five!.streamSeq });
    const cp = openCheckpoint(latest.note, logKey.verifierKey);
    expect([cp.origin, cp.size, toHex(cp.root)]).toEqual([ORIGIN, 5, toHex(await log.root())]);
  });

  it('reopens at the latest checkpoint after a restart and goes on from it', async () => {
    const log = new LogFixture(store);
    await log.writeEntries(entries(0, 5));
    const restarted = checkpointerOf(store, log);
    expect(await restarted.open()).toMatchObject({ size: 5 });
    await log.writeEntries(entries(5, 9));
    expect(await restarted.publish(9, await log.root())).toMatchObject({ size: 9 });
    expect(await latestSize(store)).toBe(9);
  });
});

describe('Checkpointer, when a publish fails', () => {
  const store = useTestStore();

  it('adopts the checkpoint it stored when only the PubAck was lost, and extends it next', async () => {
    const log = new LogFixture(store);
    const { js, failNext } = lossy(store.js);
    const checkpointer = checkpointerOf(store, log, js);
    await checkpointer.open();
    await log.writeEntries(entries(0, 3));
    failNext(true);
    await expect(checkpointer.publish(3, await log.root())).rejects.toBeInstanceOf(InjectedFailure);
    expect(checkpointer.latest).toMatchObject({ size: 3, streamSeq: (await readLatestCheckpoint(store.jsm))!.streamSeq });
    expect(await checkpointer.publish(3, await log.root())).toBeUndefined();
    await log.writeEntries(entries(3, 4));
    expect(await checkpointer.publish(4, await log.root())).toMatchObject({ size: 4 });
  });

  it('keeps the previous checkpoint when nothing was stored, and publishes again next time', async () => {
    const log = new LogFixture(store);
    await log.writeEntries(entries(0, 4));
    const { js, failNext } = lossy(store.js);
    const checkpointer = checkpointerOf(store, log, js);
    await checkpointer.open();
    await log.writeEntries(entries(4, 6));
    failNext(false);
    await expect(checkpointer.publish(6, await log.root())).rejects.toBeInstanceOf(InjectedFailure);
    expect(checkpointer.latest).toMatchObject({ size: 4 });
    expect(await checkpointer.publish(6, await log.root())).toMatchObject({ size: 6 });
    expect(await latestSize(store)).toBe(6);
  });

  it('refuses to extend a checkpoint another writer published since, and adopts the newer one', async () => {
    const log = new LogFixture(store);
    // Tiles exist for each committed size, as the integrator writes them batch by batch.
    await log.writeEntries(entries(0, 7));
    await log.writeEntries(entries(7, 8));
    const first = checkpointerOf(store, log);
    const second = checkpointerOf(store, log);
    await first.open();
    await second.open();
    await first.publish(7, await log.root(7));
    await expect(second.publish(8, await log.root(8))).rejects.toMatchObject({ code: JetStreamApiCodes.StreamWrongLastSequence });
    expect(second.latest).toMatchObject({ size: 7 });
    expect(await latestSize(store)).toBe(7);
  });
});

describe('Checkpointer.open, when the stored tree does not match the latest checkpoint', () => {
  const store = useTestStore();

  it('refuses to sign (TREE_INCONSISTENT) when the tree does not hash to the published root', async () => {
    const log = new LogFixture(store);
    await log.writeEntries(entries(0, 5));
    await log.publishCheckpoint(ORIGIN, logKey.signerKey, 5, await log.root(4));
    await expectRejectCode(checkpointerOf(store, log).open(), 'TREE_INCONSISTENT');
  });
});

describe('Checkpointer.open, when no published checkpoint is signed by this log key', () => {
  const store = useTestStore();

  it('refuses to sign (TREE_INCONSISTENT): it is not this log\'s writer', async () => {
    const log = new LogFixture(store);
    await log.writeEntries(entries(0, 5));
    const other = newEd25519SignerKey(ORIGIN, new Uint8Array(32).fill(5));
    await log.publishCheckpoint(ORIGIN, other.signerKey, 5);
    await expectRejectCode(checkpointerOf(store, log).open(), 'TREE_INCONSISTENT');
  });
});

describe('Checkpointer, when someone else publishes on the checkpoints subject', () => {
  const store = useTestStore();
  const foreign = (text: string) => store.js.publish(CHECKPOINTS_SUBJECT, new TextEncoder().encode(text));

  it('passes over what is no checkpoint of this log, and goes on publishing after it', async () => {
    const log = new LogFixture(store);
    const running = checkpointerOf(store, log);
    await running.open();
    await log.writeEntries(entries(0, 3));
    await running.publish(3, await log.root());
    await foreign('not a checkpoint');
    await foreign(`${ORIGIN}\n1000\nAAAA\n\n— ${ORIGIN} AAAA\n`);
    // A checkpointer that starts now opens at size 3, and its next append names the last message.
    const restarted = checkpointerOf(store, log);
    expect(await restarted.open()).toMatchObject({ size: 3 });
    await log.writeEntries(entries(3, 5));
    expect(await restarted.publish(5, await log.root())).toMatchObject({ size: 5 });
    expect(await latestSize(store)).toBe(5);
    // One that ran all along: its append is refused once, and it goes on after reading again.
    await foreign('x');
    await log.writeEntries(entries(5, 6));
    await expect(running.publish(6, await log.root())).rejects.toMatchObject({ code: JetStreamApiCodes.StreamWrongLastSequence });
    expect(await running.publish(6, await log.root())).toMatchObject({ size: 6 });
    expect(await latestSize(store)).toBe(6);
  });
});

describe('Checkpointer.publish, when the checkpoint another writer published since does not match its tree', () => {
  const store = useTestStore();

  it('does not append after a checkpoint it found forked from its tree (it stops, as at start-up)', async () => {
    const log = new LogFixture(store);
    await log.writeEntries(entries(0, 4));
    await log.writeEntries(entries(4, 6));
    const running = checkpointerOf(store, log);
    await running.open();
    await running.publish(4, await log.root(4));
    // Another writer (the committed state gone back, another trust set) signs a size-6 tree
    // other than this one's: its append is refused, it reads the stream again and finds the fork.
    const fork = await log.publishCheckpoint(ORIGIN, logKey.signerKey, 6, await log.root(5));
    await expectRejectCode(running.publish(6, await log.root(6)), 'TREE_INCONSISTENT');
    // The next tick must not sign past it as though it had not seen it.
    await expect(running.publish(6, await log.root(6))).rejects.toThrow();
    expect((await readLatestCheckpoint(store.jsm))?.note).toBe(fork);
  });
});
