/**
 * Batch signatures (src/receipt/batch.ts, SPEC §5): the batch's tree is RFC 6962's, held to the
 * published vectors and to the log's own tree code; every receipt of a batch verifies alone
 * with the kernel key, and any change to its place, path, signature or body is refused.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromBase64, fromHex, toHex } from '../../../src/encoding.js';
import { leafHash, MemoryHashStore, checkRecord, proveRecord, treeHash } from '../../../src/tlog/index.js';
import { MAX_BATCH_PATH, MAX_BATCH_SIZE, batchLeaf, batchMessage, batchRoot, batchTree } from '../../../src/receipt/batch.js';
import { SEAL_MAX_BYTES, prepareBody, sealReceipts } from '../../../src/receipt/sign.js';
import { receiptBytes, type Receipt } from '../../../src/receipt/receipt.js';
import { sha256Node } from '../../../src/crypto/sha256.js';
import { canonicalBytes } from '../../../src/receipt/jcs.js';
import { createNodeSignatureCheck } from '../../../src/crypto/ed25519.js';
import { claimedSignedBody, nobleSignatureCheck, readReceiptBytes, verifyReceipt, verifyReceiptBytes } from '../../../src/receipt/verify.js';
import { INCLUSION, LEAVES, ROOTS } from '../tlog/fixtures/rfc6962.js';
import { bodyOf, draftOf, expectCode, kernelOf, preparedBatchOf, sealedBatchOf, type Kernel } from './helpers.js';

const kernel = kernelOf(7);
const trusted = [kernel.verifierKey];

const batchOf = (n: number, k: Kernel = kernel, from = 0) => sealedBatchOf(n, k, 'chain-b', from);

const edit = (receipt: Receipt, change: (r: Receipt) => void): Uint8Array => {
  const copy = structuredClone(receipt);
  change(copy);
  return canonicalBytes(copy);
};

describe('batch tree (RFC 6962)', () => {
  const leaves = LEAVES.map((l) => leafHash(fromHex(l)));

  it('has the published roots for the trees of sizes 1 to 8', () => {
    for (let n = 1; n <= 8; n++) expect(toHex(batchTree(leaves.slice(0, n)).root), `size ${n}`).toBe(ROOTS[n - 1]);
  });

  it('gives the published inclusion paths, and batchRoot climbs them to the published roots', () => {
    for (const v of INCLUSION) {
      const { paths } = batchTree(leaves.slice(0, v.size));
      expect(paths[v.leaf - 1]!.map(toHex), `leaf ${v.leaf} of ${v.size}`).toEqual(v.proof);
      expect(toHex(batchRoot(leaves[v.leaf - 1]!, v.leaf - 1, v.size, v.proof.map(fromHex))!)).toBe(ROOTS[v.size - 1]);
    }
  });

  it('is the log tree for every size up to a full batch: same root, and every path checks as a log proof', async () => {
    const all = Array.from({ length: MAX_BATCH_SIZE }, (_, i) => leafHash(new TextEncoder().encode(`r${i}`)));
    const store = new MemoryHashStore();
    for (let n = 1; n <= MAX_BATCH_SIZE; n++) {
      store.appendLeafHash(all[n - 1]!);
      const { root, paths } = batchTree(all.slice(0, n));
      expect(toHex(root)).toBe(toHex(await treeHash(n, store.readHashes)));
      for (const i of [0, n - 1, Math.floor(n / 2), Math.floor(n / 3)]) {
        expect(paths[i]!.map(toHex)).toEqual((await proveRecord(n, i, store.readHashes)).map(toHex));
        checkRecord(paths[i]!, n, root, i, all[i]!);
        expect(toHex(batchRoot(all[i]!, i, n, paths[i]!)!)).toBe(toHex(root));
        expect(paths[i]!.length).toBeLessThanOrEqual(MAX_BATCH_PATH);
      }
    }
  });

  it('batchRoot finds no root for a path that does not fit its place', () => {
    const { paths } = batchTree(leaves);
    expect(batchRoot(leaves[5]!, 5, 8, paths[5]!.slice(0, 2))).toBeUndefined(); // too short
    expect(batchRoot(leaves[5]!, 5, 8, [...paths[5]!, leaves[0]!])).toBeUndefined(); // too long
    expect(batchRoot(leaves[5]!, 8, 8, paths[5]!)).toBeUndefined(); // index past the end
    expect(batchRoot(leaves[5]!, -1, 8, paths[5]!)).toBeUndefined();
    expect(batchRoot(leaves[5]!, 5, 6, paths[5]!)).toBeUndefined(); // a tree of another shape
    expect(() => batchRoot(leaves[5]!, 5, 8, [paths[5]![0]!.subarray(1), ...paths[5]!.slice(1)])).toThrow(); // a hash that is not 32 bytes
  });

  it('refuses an empty batch and one larger than a message', () => {
    expect(() => batchTree([])).toThrow(RangeError);
    expect(() => batchTree(Array.from({ length: MAX_BATCH_SIZE + 1 }, () => leaves[0]!))).toThrow(RangeError);
  });
});

describe('batch-signed receipts', () => {
  it('share one signature, over the size and root of their ids; each verifies alone, with noble and node:crypto', () => {
    const sealed = batchOf(5);
    const { root } = batchTree(sealed.map((s) => batchLeaf(s.receipt.id)));
    expect(new TextDecoder().decode(batchMessage(5, root))).toBe(`chio.receipt.batch.v1\n5\n${toHex(root)}\n`);
    expect(new Set(sealed.map((s) => s.receipt.signature)).size).toBe(1);
    expect(kernel.signer.sign(batchMessage(5, root))).toEqual(fromBase64(sealed[0]!.receipt.signature));
    sealed.forEach(({ receipt, bytes }, i) => {
      expect(receipt.batch).toMatchObject({ index: i, size: 5 });
      expect(bytes).toEqual(receiptBytes(receipt));
      for (const check of [nobleSignatureCheck, createNodeSignatureCheck()]) expect(verifyReceiptBytes(bytes, trusted, check)).toEqual(receipt);
      verifyReceipt(receipt, trusted);
    });
  });

  it('are the same, byte for byte, with node:crypto\'s SHA-256 as with @noble\'s, and read back the same', () => {
    const prepared = preparedBatchOf(9, kernel);
    const viaNode = sealReceipts(prepared, kernel.signer, sha256Node);
    expect(viaNode.map((s) => s.bytes)).toEqual(sealReceipts(prepared, kernel.signer).map((s) => s.bytes));
    for (const { bytes } of viaNode) {
      const read = readReceiptBytes(bytes, trusted, undefined, sha256Node);
      expect(read.signed).toEqual(readReceiptBytes(bytes, trusted).signed);
      expect(claimedSignedBody(bytes, trusted, sha256Node)).toEqual(read.signed);
    }
  });

  it('a lone receipt keeps the plain form: signed over its body, no batch member', () => {
    const [one] = batchOf(1);
    expect(one!.receipt.batch).toBeUndefined();
    expect(new TextDecoder().decode(one!.bytes)).not.toContain('"batch"');
    expect(verifyReceiptBytes(one!.bytes, trusted)).toEqual(one!.receipt);
  });

  it('refuses a receipt moved to another place, given another path or size, or stripped of its batch', () => {
    const sealed = batchOf(6);
    const r = sealed[2]!.receipt;
    const other = sealed[3]!.receipt;
    expectCode(() => verifyReceiptBytes(edit(r, (c) => (c.batch!.index = 3)), trusted), 'SIGNATURE_INVALID');
    expectCode(() => verifyReceiptBytes(edit(r, (c) => (c.batch!.path = other.batch!.path)), trusted), 'SIGNATURE_INVALID');
    expectCode(() => verifyReceiptBytes(edit(r, (c) => (c.batch!.path[0] = '00'.repeat(32))), trusted), 'SIGNATURE_INVALID');
    expectCode(() => verifyReceiptBytes(edit(r, (c) => (c.batch!.size = 7)), trusted), 'SIGNATURE_INVALID');
    expectCode(() => verifyReceiptBytes(edit(r, (c) => c.batch!.path.pop()), trusted), 'SIGNATURE_INVALID');
    expectCode(() => verifyReceiptBytes(edit(r, (c) => delete c.batch), trusted), 'SIGNATURE_INVALID');
    // Another batch's signature, over a root this receipt's path does not lead to.
    const foreign = batchOf(6, kernel, 100)[2]!.receipt;
    expectCode(() => verifyReceiptBytes(edit(r, (c) => (c.signature = foreign.signature)), trusted), 'SIGNATURE_INVALID');
    // The body changed: the id no longer matches, before any signature is looked at.
    expectCode(() => verifyReceiptBytes(edit(r, (c) => (c.decision.verdict = 'deny')), trusted), 'RECEIPT_INVALID');
    // Signed by a key that is not trusted.
    expectCode(() => verifyReceiptBytes(batchOf(3, kernelOf(9))[1]!.bytes, trusted), 'UNTRUSTED_KEY');
  });

  it('refuses a batch member of the wrong shape as RECEIPT_INVALID', () => {
    const r = batchOf(4)[1]!.receipt;
    const bad: Array<(c: { batch: Record<string, unknown> }) => void> = [
      (c) => (c.batch.size = 1),
      (c) => (c.batch.size = MAX_BATCH_SIZE + 1),
      (c) => (c.batch.index = 4),
      (c) => (c.batch.index = 1.5),
      (c) => (c.batch.path = 'ab'),
      (c) => (c.batch.path = Array.from({ length: MAX_BATCH_PATH + 1 }, () => '00'.repeat(32))),
      (c) => (c.batch.path = ['AB'.repeat(32)]),
      (c) => (c.batch.extra = true),
      (c) => ((c as { batch: unknown }).batch = [1]),
    ];
    for (const change of bad) expectCode(() => verifyReceiptBytes(edit(r, change as unknown as (c: Receipt) => void), trusted), 'RECEIPT_INVALID');
  });

  it('refuse, when checked as parsed objects, a batch member of any other shape rather than ignore it', () => {
    const plain = batchOf(1)[0]!.receipt;
    const inBatch = batchOf(3)[1]!.receipt;
    for (const batch of [null, 0, false, '', {}]) expectCode(() => verifyReceipt({ ...plain, batch } as unknown as Receipt, trusted), 'RECEIPT_INVALID');
    expectCode(() => verifyReceipt({ ...inBatch, batch: { ...inBatch.batch!, extra: 1 } } as Receipt, trusted), 'RECEIPT_INVALID');
    expectCode(() => verifyReceipt({ ...inBatch, batch: { ...inBatch.batch!, path: inBatch.batch!.path.map((h) => h.toUpperCase()) } }, trusted), 'RECEIPT_INVALID');
    verifyReceipt(inBatch, trusted);
  });

  it('stay within SEAL_MAX_BYTES of their body, and equal receiptBytes, for any batch size (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX_BATCH_SIZE }), fc.integer({ min: 0, max: 1000 }), (n, from) => {
        const sealed = batchOf(n, kernel, from);
        const last = sealed[n - 1]!;
        expect(last.bytes).toEqual(receiptBytes(last.receipt));
        expect(last.bytes.length).toBeLessThanOrEqual(prepareBody(bodyOf(draftOf(from + n - 1), { chain: 'chain-b', seq: n, prev: last.receipt.prev }, kernel.verifierKey)).bytes.length + SEAL_MAX_BYTES);
        expect(verifyReceiptBytes(sealed[Math.floor(n / 2)]!.bytes, trusted)).toEqual(sealed[Math.floor(n / 2)]!.receipt);
      }),
      { numRuns: 40 },
    );
  });
});
