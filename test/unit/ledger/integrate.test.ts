/**
 * The pure integrate() over an in-memory log: the tree it plans is the RFC 6962 tree of the
 * stream's valid receipts in stream order, refused receipts are quarantined with a precise
 * code, duplicates are skipped, and after a crash at any write the same batch plans the same
 * bytes again (the crash rule).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { distinctSignedBodies, integrate, type IntegrationChecks, type IntegrationPlan } from '../../../src/ledger/integrate.js';
import { createNodeSignatureCheck } from '../../../src/crypto/ed25519.js';
import { canonicalBytes } from '../../../src/receipt/jcs.js';
import type { Receipt } from '../../../src/receipt/receipt.js';
import { MAX_RECEIPTS_PER_MESSAGE, type StoredMessage } from '../../../src/store/receipts.js';
import { MAX_RECEIPT_MESSAGE_BYTES } from '../../../src/store/resources.js';
import { joinReceiptMessage } from '../../../src/store/receipt-message.js';
import { TILE_WIDTH } from '../../../src/store/tile-store.js';
import { MemoryHashStore, TILE_HEIGHT, decodeEntryBundle, entriesPath, newTiles, readTileData, tilePath } from '../../../src/tlog/index.js';
import { toHex } from '../../../src/encoding.js';
import { chainOf, kernelOf, signBody, bodyOf, draftOf, sealedBatchOf } from '../receipt/helpers.js';
import { expectRejectCode } from '../../support/errors.js';
import { Crash, MemoryLog, planText, writesOf } from './memory-log.js';

const kernel = kernelOf(7);
const stranger = kernelOf(9);
// node:crypto keeps the big batches fast; the @noble default is covered below.
const checks: IntegrationChecks = { kernelKeys: [kernel.verifierKey], checkSignature: createNodeSignatureCheck() };

/** Messages numbered from `firstSeq`, one per receipt (or raw bytes). */
function messagesOf(items: ReadonlyArray<Receipt | Uint8Array>, firstSeq = 1): StoredMessage[] {
  return items.map((item, i) => ({ seq: firstSeq + i, data: item instanceof Uint8Array ? item : canonicalBytes(item) }));
}

/** Two chains, interleaved as two authz processes would store them. */
function interleaved(n: number): Receipt[] {
  const a = chainOf(Math.ceil(n / 2), kernel, 'chain-a');
  const b = chainOf(Math.floor(n / 2), kernel, 'chain-b');
  return Array.from({ length: n }, (_, i) => (i % 2 === 0 ? a[i / 2]! : b[(i - 1) / 2]!));
}

/** RFC 6962 §2.1 Merkle Tree Hash, written out independently of src/tlog. */
function mth(entries: readonly Uint8Array[]): string {
  const sha = (...parts: Uint8Array[]) => createHash('sha256').update(Buffer.concat(parts)).digest();
  const hash = (d: readonly Uint8Array[]): Buffer => {
    if (d.length === 0) return sha();
    if (d.length === 1) return sha(Uint8Array.of(0), d[0]!);
    let k = 1;
    while (k * 2 < d.length) k *= 2;
    return sha(Uint8Array.of(1), hash(d.slice(0, k)), hash(d.slice(k)));
  };
  return hash(entries).toString('hex');
}

async function integrateAll(log: MemoryLog, batch: StoredMessage[], with_ = checks): Promise<IntegrationPlan> {
  const plan = await integrate(log.state, batch, log.reader(), with_);
  log.apply(plan);
  return plan;
}

describe('integrate', () => {
  it('asks its pause hook before each receipt\'s checks and before its signature check, and waits on the pause it gets, planning the same tree', async () => {
    const receipts = interleaved(40);
    let asked = 0;
    let paused = 0;
    const pausing: IntegrationChecks = {
      ...checks,
      // Every 8th receipt, a real wait: the next receipt is checked only once it is over.
      pause: () => (++asked % 8 === 0 ? new Promise<void>((resolve) => setTimeout(() => (paused++, resolve()), 1)) : undefined),
    };
    const plain = await integrate(new MemoryLog().state, messagesOf(receipts), new MemoryLog().reader(), checks);
    const withPauses = await integrate(new MemoryLog().state, messagesOf(receipts), new MemoryLog().reader(), pausing);
    expect(asked).toBe(80);
    expect(paused).toBe(10);
    expect(planText(withPauses)).toBe(planText(plain));
    const failing: IntegrationChecks = { ...checks, pause: () => Promise.reject(new Error('stop')) };
    await expect(integrate(new MemoryLog().state, messagesOf(receipts), new MemoryLog().reader(), failing)).rejects.toThrow('stop');
  });

  describe('when every receipt passes', () => {
    const receipts = interleaved(300);
    const messages = messagesOf(receipts);

    it('builds the RFC 6962 tree of the stream, batch after batch, across tile boundaries', async () => {
      const log = new MemoryLog();
      for (const [from, to] of [[0, 37], [37, 100], [100, 270], [270, 300]] as const) await integrateAll(log, messages.slice(from, to));
      const bytes = messages.map((m) => m.data);
      expect(log.state).toMatchObject({ size: 300, streamSeq: 300 });
      expect(toHex(log.state.root)).toBe(mth(bytes));
      // Every tile of the final tree holds exactly the reference tree's hashes.
      const reference = new MemoryHashStore();
      for (const b of bytes) reference.append(b);
      for (const tile of newTiles(TILE_HEIGHT, 0, 300)) {
        expect(toHex(log.tiles.get(tilePath(tile))!), tilePath(tile)).toBe(toHex(await readTileData(tile, reference.readHashes)));
      }
      expect(decodeEntryBundle(log.bundles.get(entriesPath(0))!)).toEqual(bytes.slice(0, TILE_WIDTH));
      expect(decodeEntryBundle(log.bundles.get(entriesPath(1, 44))!)).toEqual(bytes.slice(TILE_WIDTH));
    });

    it('indexes every receipt at its leaf and moves each chain head to its last leaf', async () => {
      const plan = await integrate(new MemoryLog().state, messages.slice(0, 5), new MemoryLog().reader(), checks);
      expect(plan.indexEntries).toEqual(receipts.slice(0, 5).map((r, i) => ({ id: r.id, entry: { index: i, seq: i + 1 } })));
      expect(plan.chainHeads).toEqual([
        { chain: 'chain-a', head: { seq: 3, id: receipts[4]!.id, index: 4 } },
        { chain: 'chain-b', head: { seq: 2, id: receipts[3]!.id, index: 3 } },
      ]);
      expect(plan.quarantined).toEqual([]);
      expect(plan.duplicates).toEqual([]);
    });

    it('checks signatures with the portable @noble check when given none', async () => {
      const log = new MemoryLog();
      await integrateAll(log, messages.slice(0, 3), { kernelKeys: [kernel.verifierKey] });
      expect(toHex(log.state.root)).toBe(mth(messages.slice(0, 3).map((m) => m.data)));
    });
  });

  describe('when a receipt fails a check', () => {
    const [r1, r2, r3] = chainOf(3, kernel, 'chain-a') as [Receipt, Receipt, Receipt];
    // `chain` is the subject it is quarantined under: the chain the bytes name, when they parse.
    const cases: Array<{ name: string; bad: Receipt | Uint8Array; code: string; chain?: string }> = [
      { name: 'bytes that are not JSON', bad: new TextEncoder().encode('not json'), code: 'MALFORMED' },
      { name: 'an id that does not match the content', bad: { ...r2, time: '2030-01-01T00:00:00.000Z' }, code: 'RECEIPT_INVALID', chain: 'chain-a' },
      { name: 'a kernel key that is not trusted', bad: signBody(bodyOf(draftOf(1), { chain: 'chain-a', seq: 2, prev: r1.id }, stranger.verifierKey), stranger.signer), code: 'UNTRUSTED_KEY', chain: 'chain-a' },
      { name: 'a signature that does not verify', bad: { ...r2, signature: signBody(bodyOf(draftOf(9), { chain: 'chain-a', seq: 2, prev: r1.id }, kernel.verifierKey), kernel.signer).signature }, code: 'SIGNATURE_INVALID', chain: 'chain-a' },
      { name: 'an empty signature', bad: { ...r2, signature: '' }, code: 'SIGNATURE_INVALID', chain: 'chain-a' },
      { name: 'a signature of 3 bytes', bad: { ...r2, signature: 'AAAA' }, code: 'SIGNATURE_INVALID', chain: 'chain-a' },
      { name: 'a signature of 63 bytes', bad: { ...r2, signature: r2.signature.slice(0, 84) }, code: 'SIGNATURE_INVALID', chain: 'chain-a' },
      { name: 'a link that skips a seq', bad: r3, code: 'CHAIN_BROKEN', chain: 'chain-a' },
    ];

    // Checked one by one, and as a batch (how the ledger checks them on worker threads).
    const batchChecks: IntegrationChecks = { kernelKeys: checks.kernelKeys, checkSignatures: async (signed) => signed.map((s) => createNodeSignatureCheck()(s.signature, s.message, s.publicKey)) };
    for (const [how, withChecks] of [['one by one', checks], ['as a batch', batchChecks]] as const) for (const { name, bad, code, chain } of cases) {
      it(`quarantines ${name} as ${code} and leaves the next receipt its index (signatures checked ${how})`, async () => {
        const batch = messagesOf([r1, bad, r2]);
        const plan = await integrate(new MemoryLog().state, batch, new MemoryLog().reader(), withChecks);
        expect(plan.quarantined).toEqual([{ seq: 2, line: 0, data: batch[1]!.data, chain, code, reason: expect.any(String) }]);
        expect(plan.leaves.map((l) => [l.receipt.id, l.index, l.seq])).toEqual([[r1.id, 0, 1], [r2.id, 1, 3]]);
        expect(plan.next).toMatchObject({ size: 2, streamSeq: 3 });
        expect(toHex(plan.next.root)).toBe(mth([batch[0]!.data, batch[2]!.data]));
      });
    }

    it('checks the batch\'s signatures with checkSignatures when given it, and quarantines the ones it refuses', async () => {
      const forged = { ...r2, signature: cases[3]!.bad instanceof Uint8Array ? '' : cases[3]!.bad.signature };
      const batch = messagesOf([r1, forged, r2, r3]);
      const asked: number[] = [];
      const plan = await integrate(new MemoryLog().state, batch, new MemoryLog().reader(), {
        kernelKeys: [kernel.verifierKey],
        checkSignature: () => {
          throw new Error('checked one by one');
        },
        checkSignatures: async (signed) => (asked.push(signed.length), signed.map((s) => createNodeSignatureCheck()(s.signature, s.message, s.publicKey))),
      });
      expect(asked).toEqual([4]);
      expect(plan.quarantined.map((q) => [q.seq, q.code])).toEqual([[2, 'SIGNATURE_INVALID']]);
      expect(plan.leaves.map((l) => l.receipt.id)).toEqual([r1.id, r2.id, r3.id]);
      const wrongCount = integrate(new MemoryLog().state, batch, new MemoryLog().reader(), { kernelKeys: [kernel.verifierKey], checkSignatures: async () => [true] });
      await expectRejectCode(wrongCount, 'INTERNAL');
    });

    it('checks the one signature of a batch-signed message once, and still quarantines a receipt whose path was changed', async () => {
      const sealed = sealedBatchOf(10, kernel, 'chain-z');
      const asked: number[] = [];
      const checkOnce: IntegrationChecks = { kernelKeys: [kernel.verifierKey], checkSignatures: async (signed) => (asked.push(signed.length), signed.map((s) => createNodeSignatureCheck()(s.signature, s.message, s.publicKey))) };
      const plan = await integrate(new MemoryLog().state, [{ seq: 1, data: joinReceiptMessage(sealed.map((s) => s.bytes)) }], new MemoryLog().reader(), checkOnce);
      expect(asked).toEqual([1]);
      expect(plan.leaves.map((l) => l.receipt.id)).toEqual(sealed.map((s) => s.receipt.id));

      // Receipt 4 carries receipt 5's path: its own signed root differs, so its check is its own, and fails.
      const moved = canonicalBytes({ ...sealed[4]!.receipt, batch: { ...sealed[4]!.receipt.batch!, path: sealed[5]!.receipt.batch!.path } });
      asked.length = 0;
      const tampered = await integrate(new MemoryLog().state, [{ seq: 1, data: joinReceiptMessage([...sealed.slice(0, 4).map((s) => s.bytes), moved]) }], new MemoryLog().reader(), checkOnce);
      expect(asked).toEqual([2]);
      expect(tampered.quarantined.map((q) => [q.line, q.code])).toEqual([[4, 'SIGNATURE_INVALID']]);
      expect(tampered.leaves).toHaveLength(4);
    });

    it('shares a check only between the very same signature, message and key', () => {
      const sig = new Uint8Array(64).fill(1);
      const key = new Uint8Array(32).fill(2);
      const msg = (b: number) => new Uint8Array(90).fill(b);
      const checks = [
        { signature: sig, message: msg(3), publicKey: key },
        { signature: sig, message: msg(3), publicKey: key },
        { signature: sig, message: msg(4), publicKey: key },
        { signature: sig, message: msg(3), publicKey: new Uint8Array(32).fill(5) },
        { signature: new Uint8Array(64).fill(6), message: msg(3), publicKey: key },
        { signature: sig, message: msg(3), publicKey: key },
      ];
      const { distinct, of } = distinctSignedBodies(checks);
      expect(of).toEqual([0, 0, 1, 2, 3, 0]);
      expect(distinct).toEqual([checks[0], checks[2], checks[3], checks[4]]);
      // Thousands sharing one copied signature, each with its own message: all checked, each once.
      const hostile = Array.from({ length: 5_000 }, (_, i) => ({ signature: sig, message: new TextEncoder().encode(`m${i}`), publicKey: key }));
      expect(distinctSignedBodies(hostile).distinct).toHaveLength(5_000);
    });

    it('uses the signature check it is given', async () => {
      const plan = await integrate(new MemoryLog().state, messagesOf([r1]), new MemoryLog().reader(), { ...checks, checkSignature: () => false });
      expect(plan.quarantined.map((q) => q.code)).toEqual(['SIGNATURE_INVALID']);
      expect(plan.leaves).toEqual([]);
    });
  });

  describe('when a message holds several receipts (group commit)', () => {
    const [r1, r2, r3, r4] = chainOf(4, kernel, 'chain-a') as [Receipt, Receipt, Receipt, Receipt];
    const joined = (...items: Array<Receipt | Uint8Array>) => joinReceiptMessage(items.map((r) => (r instanceof Uint8Array ? r : canonicalBytes(r))));

    it('makes each receipt a leaf, in line order, indexed by stream sequence and line', async () => {
      const batch: StoredMessage[] = [{ seq: 1, data: joined(r1, r2, r3) }, { seq: 2, data: canonicalBytes(r4) }];
      const plan = await integrate(new MemoryLog().state, batch, new MemoryLog().reader(), checks);
      expect(plan.leaves.map((l) => [l.receipt.id, l.index, l.seq, l.line])).toEqual([[r1.id, 0, 1, 0], [r2.id, 1, 1, 1], [r3.id, 2, 1, 2], [r4.id, 3, 2, 0]]);
      expect(plan.indexEntries.map((e) => e.entry)).toEqual([{ index: 0, seq: 1 }, { index: 1, seq: 1, line: 1 }, { index: 2, seq: 1, line: 2 }, { index: 3, seq: 2 }]);
      expect(plan.next).toMatchObject({ size: 4, streamSeq: 2 });
      expect(toHex(plan.next.root)).toBe(mth([r1, r2, r3, r4].map((r) => canonicalBytes(r))));
    });

    it('quarantines a bad line by stream sequence and line, and keeps the others of its message', async () => {
      const bad = new TextEncoder().encode('not json');
      const plan = await integrate(new MemoryLog().state, [{ seq: 1, data: joined(r1, bad, r2) }], new MemoryLog().reader(), checks);
      expect(plan.quarantined).toEqual([{ seq: 1, line: 1, data: bad, chain: undefined, code: 'MALFORMED', reason: expect.any(String) }]);
      expect(plan.leaves.map((l) => [l.receipt.id, l.line])).toEqual([[r1.id, 0], [r2.id, 2]]);
    });

    // No writer stores an empty line or more than MAX_RECEIPTS_PER_MESSAGE receipts in one
    // message; anyone else who may publish could, and 64 KiB of line feeds were 65,000 receipts
    // quarantined one publish at a time. Such a message is refused whole, as one entry.
    it.each([
      ['an empty line (a message ending in a line feed)', () => new Uint8Array([...joined(r1), 0x0a]), 'a message with an empty line'],
      ['nothing but line feeds', () => new Uint8Array(MAX_RECEIPT_MESSAGE_BYTES - 64).fill(0x0a), `a message of more than ${MAX_RECEIPTS_PER_MESSAGE} lines`],
      ['one line more than a message holds', () => joined(...Array.from({ length: MAX_RECEIPTS_PER_MESSAGE + 1 }, () => r1)), `a message of more than ${MAX_RECEIPTS_PER_MESSAGE} lines`],
    ])('refuses whole a message with %s', async (_name, data, why) => {
      const bytes = data();
      const plan = await integrate(new MemoryLog().state, [{ seq: 1, data: bytes }, { seq: 2, data: canonicalBytes(r1) }], new MemoryLog().reader(), checks);
      expect(plan.quarantined).toEqual([{ seq: 1, line: 0, data: bytes, chain: undefined, code: 'RECEIPT_INVALID', reason: `not a message of receipts: ${why}` }]);
      expect(plan.leaves.map((l) => [l.receipt.id, l.seq])).toEqual([[r1.id, 2]]);
    });

    it('keeps a message of exactly MAX_RECEIPTS_PER_MESSAGE receipts', async () => {
      const many = chainOf(MAX_RECEIPTS_PER_MESSAGE, kernel, 'chain-many');
      const plan = await integrate(new MemoryLog().state, [{ seq: 1, data: joined(...many) }], new MemoryLog().reader(), checks);
      expect(plan.quarantined).toEqual([]);
      expect(plan.leaves).toHaveLength(MAX_RECEIPTS_PER_MESSAGE);
    });
  });

  describe('when a receipt is a duplicate', () => {
    it('skips a second copy in the same batch and in a later batch, advancing only the stream position', async () => {
      const [r1, r2] = chainOf(2, kernel, 'chain-a') as [Receipt, Receipt];
      const log = new MemoryLog();
      const first = await integrateAll(log, messagesOf([r1, r1, r2]));
      expect(first.duplicates).toEqual([{ seq: 2, line: 0 }]);
      const again = await integrateAll(log, messagesOf([r2, r1], 4));
      expect(again.duplicates).toEqual([{ seq: 4, line: 0 }, { seq: 5, line: 0 }]);
      expect(again.leaves).toEqual([]);
      expect(again.quarantined).toEqual([]);
      expect(log.state).toMatchObject({ size: 2, streamSeq: 5 });
    });
  });

  describe('index reads', () => {
    it('reads the index only for a receipt that does not extend its chain (a duplicate, a fork), never for the next receipt of a chain', async () => {
      const receipts = interleaved(40);
      const log = new MemoryLog();
      const read: string[] = [];
      const reader = { ...log.reader(), readIndexEntry: async (id: string) => (read.push(id), log.index.get(id)) };
      const plan = await integrate(log.state, messagesOf(receipts), reader, checks);
      log.apply(plan);
      expect(plan.leaves).toHaveLength(40);
      expect(read).toEqual([]);
      // A copy of an integrated receipt does not extend its chain: looked up, found, skipped.
      const copy = receipts[3]!;
      const again = await integrate(log.state, messagesOf([copy], 41), { ...log.reader(), readIndexEntry: async (id: string) => (read.push(id), log.index.get(id)) }, checks);
      expect(read).toEqual([copy.id]);
      expect(again.duplicates).toEqual([{ seq: 41, line: 0 }]);
    });
  });

  describe('when a batch is integrated again after a crash at any write', () => {
    it('plans the same leaves, tiles, bundles, index entries and heads, and commits the same tree', async () => {
      const receipts = interleaved(270);
      const stored: Array<Receipt | Uint8Array> = [...receipts];
      stored.splice(260, 0, new TextEncoder().encode('{}')); // a quarantined message in the batch
      const messages = messagesOf(stored);
      const committed = new MemoryLog();
      await integrateAll(committed, messages.slice(0, 250));
      const batch = messages.slice(250); // crosses the first tile boundary at 256
      const plan = await integrate(committed.state, batch, committed.reader(), checks);
      expect(plan.quarantined).toHaveLength(1);

      for (let budget = 0; budget < writesOf(plan); budget++) {
        const log = committed.clone();
        expect(() => log.apply(plan, budget)).toThrow(Crash);
        expect(log.state).toBe(committed.state); // nothing committed
        const replanned = await integrate(log.state, batch, log.reader(), checks);
        expect(planText(replanned), `after ${budget} writes`).toBe(planText(plan));
        log.apply(replanned);
        expect(toHex(log.state.root)).toBe(mth(receipts.map((r) => canonicalBytes(r))));
      }
    });
  });

  describe('when the batch does not follow the committed stream position', () => {
    it('skips messages already integrated', async () => {
      const log = new MemoryLog();
      const messages = messagesOf(chainOf(3, kernel, 'chain-a'));
      await integrateAll(log, messages.slice(0, 2));
      const plan = await integrate(log.state, messages, log.reader(), checks);
      expect(plan.leaves.map((l) => l.seq)).toEqual([3]);
    });

    it('plans nothing for a batch of old messages', async () => {
      const log = new MemoryLog();
      const messages = messagesOf(chainOf(2, kernel, 'chain-a'));
      await integrateAll(log, messages);
      const plan = await integrate(log.state, messages, log.reader(), checks);
      expect(plan).toMatchObject({ leaves: [], quarantined: [], duplicates: [], indexEntries: [], chainHeads: [], tiles: [], bundles: [] });
      expect(plan.next).toEqual(log.state);
    });

    it('refuses a gap in stream sequences (INTERNAL)', async () => {
      const messages = messagesOf(chainOf(2, kernel, 'chain-a'));
      await expectRejectCode(integrate(new MemoryLog().state, [messages[0]!, { ...messages[1]!, seq: 3 }], new MemoryLog().reader(), checks), 'INTERNAL');
    });
  });
});
