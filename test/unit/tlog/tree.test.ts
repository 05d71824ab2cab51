/**
 * Known answers from transparency-dev/merkle proof/verify_test.go (the RFC 6962 test leaves,
 * their roots for sizes 1..8, and the inclusion and consistency proof vectors; the same values
 * are in testdata/inclusion and testdata/consistency), plus exhaustive checks over small trees in
 * the manner of Go's sumdb/tlog tlog_test.go.
 */
import { describe, expect, it } from 'vitest';
import { fromBase64, fromHex, toHex } from '../../../src/encoding.js';
import { isChioError } from '../../../src/errors/index.js';
import {
  type Hash,
  type HashReader,
  MemoryHashStore,
  checkRecord,
  checkTree,
  emptyHash,
  leafHash,
  proveRecord,
  proveTree,
  splitStoredHashIndex,
  storedHashCount,
  storedHashIndex,
  storedHashes,
  treeHash,
} from '../../../src/tlog/index.js';
import { ARGON2020 } from './fixtures/argon2020.js';
import { CONSISTENCY, INCLUSION, LEAVES, ROOTS } from './fixtures/rfc6962.js';
import { expectCode, expectRejectCode, flipBit, leafData, storeOf } from './helpers.js';

const SOME_HASH = fromHex('abacaba000000000000000000000000000000000000000000060061e00123456');

function rfcStore(): MemoryHashStore {
  const store = new MemoryHashStore();
  for (const leaf of LEAVES) store.append(fromHex(leaf));
  return store;
}

const root = (size: number): Hash => fromHex(ROOTS[size - 1]!);

/** Like Go's testHashStorage: fails unless every read asks for strictly increasing indexes. */
function increasing(read: HashReader): HashReader {
  return (indexes) => {
    indexes.forEach((x, i) => expect(i === 0 || indexes[i - 1]! < x).toBe(true));
    return read(indexes);
  };
}
const hexes = (proof: Hash[]): string[] => proof.map(toHex);

/** Does checkRecord accept? False for PROOF_INVALID; any other error fails the test. */
function recordOk(proof: Hash[], t: number, th: Hash, n: number, h: Hash): boolean {
  try {
    checkRecord(proof, t, th, n, h);
    return true;
  } catch (err) {
    if (!isChioError(err, 'PROOF_INVALID')) throw err;
    return false;
  }
}

function treeOk(proof: Hash[], t: number, th: Hash, n: number, h: Hash): boolean {
  try {
    checkTree(proof, t, th, n, h);
    return true;
  } catch (err) {
    if (!isChioError(err, 'PROOF_INVALID')) throw err;
    return false;
  }
}

describe('storedHashIndex', () => {
  describe('when laying out the first records', () => {
    it('follows the Crosby–Wallach order of Go tlog', () => {
      const order = [[0, 0], [0, 1], [1, 0], [0, 2], [0, 3], [1, 1], [2, 0], [0, 4]];
      order.forEach(([level, n], index) => expect(storedHashIndex(level!, n!)).toBe(index));
    });
  });

  describe('when split again', () => {
    it('round-trips through splitStoredHashIndex for levels 0..9 and n 0..99', () => {
      for (let level = 0; level < 10; level++) {
        for (let n = 0; n < 100; n++) expect(splitStoredHashIndex(storedHashIndex(level, n))).toEqual({ level, n });
      }
    });
  });

  describe('when n is near 2^52', () => {
    it('stays exact', () => {
      const n = 2 ** 52 - 1;
      const index = storedHashIndex(0, n);
      expect(Number.isSafeInteger(index)).toBe(true);
      expect(splitStoredHashIndex(index)).toEqual({ level: 0, n });
    });
  });
});

describe('storedHashes', () => {
  describe('when appending 100 records through an async reader', () => {
    it('matches storedHashCount and MemoryHashStore', async () => {
      const hashes: Hash[] = [];
      const reader = increasing(async (indexes: number[]) => indexes.map((i) => hashes[i]!));
      const store = storeOf(100);
      for (let n = 0; n < 100; n++) {
        hashes.push(...(await storedHashes(n, leafData(n), reader)));
        expect(hashes.length).toBe(storedHashCount(n + 1));
      }
      expect(hexes(hashes)).toEqual(hexes(store.readHashes([...hashes.keys()])));
    });
  });
});

describe('treeHash', () => {
  describe('when given the RFC 6962 test leaves', () => {
    it('gives the published roots for sizes 1..8', async () => {
      const store = rfcStore();
      for (let size = 1; size <= 8; size++) expect(toHex(await treeHash(size, store.readHashes))).toBe(ROOTS[size - 1]);
    });
  });

  describe('when the tree is empty', () => {
    it('is MTH({}) = SHA-256()', async () => {
      expect(toHex(await treeHash(0, () => []))).toBe(toHex(emptyHash()));
    });
  });

  describe('when the size is not a tree size', () => {
    it('throws MALFORMED', async () => {
      await expectRejectCode(treeHash(-1, () => []), 'MALFORMED');
      await expectRejectCode(treeHash(1.5, () => []), 'MALFORMED');
      await expectRejectCode(treeHash(2 ** 53, () => []), 'MALFORMED');
    });
  });

  describe('when the reader breaks its contract', () => {
    it('throws INTERNAL', async () => {
      await expectRejectCode(treeHash(3, () => [emptyHash()]), 'INTERNAL');
    });
  });
});

describe('proveRecord', () => {
  describe('when given the transparency-dev inclusion vectors', () => {
    it.each(INCLUSION)('proves leaf $leaf in size $size exactly as published', async ({ leaf, size, proof }) => {
      expect(hexes(await proveRecord(size, leaf - 1, rfcStore().readHashes))).toEqual(proof);
    });
  });

  describe('when the record is not in the tree', () => {
    it('throws MALFORMED', async () => {
      const store = storeOf(3);
      await expectRejectCode(proveRecord(3, 3, store.readHashes), 'MALFORMED');
      await expectRejectCode(proveRecord(0, 0, store.readHashes), 'MALFORMED');
      await expectRejectCode(proveRecord(3, -1, store.readHashes), 'MALFORMED');
    });
  });
});

describe('checkRecord', () => {
  describe('when given the transparency-dev inclusion vectors', () => {
    it.each(INCLUSION)('accepts leaf $leaf in size $size and rejects every corruption', ({ leaf, size, proof: hex }) => {
      const proof = hex.map(fromHex);
      const n = leaf - 1;
      const h = leafHash(fromHex(LEAVES[n]!));
      const th = root(size);
      checkRecord(proof, size, th, n, h);
      // transparency-dev's corruptInclusionProof probes.
      const probes: [Hash[], number, Hash, number, Hash][] = [
        [proof, size, th, n - 1, h],
        [proof, size, th, n + 1, h],
        [proof, size, th, n ^ 2, h],
        [proof, size * 2, th, n, h],
        [proof, Math.floor(size / 2), th, n, h],
        [proof, size, th, n, leafHash(new TextEncoder().encode('WrongLeaf'))],
        [proof, size, emptyHash(), n, h],
        [proof, size, SOME_HASH, n, h],
        [[...proof, new Uint8Array(0)], size, th, n, h],
        [[...proof, th], size, th, n, h],
        [[new Uint8Array(0), ...proof], size, th, n, h],
        [[th, ...proof], size, th, n, h],
        ...proof.map((_, i): [Hash[], number, Hash, number, Hash] => [proof.map((p, j) => (j === i ? flipBit(p, 3) : p)), size, th, n, h]),
      ];
      if (proof.length > 0) probes.push([proof.slice(0, -1), size, th, n, h]);
      if (proof.length > 1) probes.push([[proof[0]!, SOME_HASH, ...proof.slice(1)], size, th, n, h]);
      for (const probe of probes) expect(recordOk(...probe)).toBe(false);
    });
  });

  describe('when the inputs are out of range or the wrong shape', () => {
    it('throws PROOF_INVALID', () => {
      const h = leafHash(new Uint8Array(0));
      for (const [n, t] of [[0, 0], [1, 0], [2, 1], [-1, 1], [0, 2 ** 53]]) expectCode(() => checkRecord([], t!, h, n!, h), 'PROOF_INVALID');
      expectCode(() => checkRecord([], 1, new Uint8Array(0), 0, h), 'PROOF_INVALID');
      expectCode(() => checkRecord([], 1, h, 0, new Uint8Array(31)), 'PROOF_INVALID');
      expectCode(() => checkRecord(Array<Hash>(65).fill(h), 2 ** 40, h, 0, h), 'PROOF_INVALID');
    });
  });

  describe('when every record of every tree of size 1..100 is proven', () => {
    it('accepts each proof and rejects it after any change of proof, hashes, index or size', async () => {
      const store = new MemoryHashStore();
      const leaves: Hash[] = [];
      for (let t = 1; t <= 100; t++) {
        store.append(leafData(t - 1));
        leaves.push(leafHash(leafData(t - 1)));
        const th = await treeHash(t, increasing(store.readHashes));
        for (let n = 0; n < t; n++) {
          const proof = await proveRecord(t, n, increasing(store.readHashes));
          const h = leaves[n]!;
          checkRecord(proof, t, th, n, h);
          proof.forEach((p, k) => {
            expect(recordOk(proof.map((q, j) => (j === k ? flipBit(q, (t * 7 + n) % 256) : q)), t, th, n, h)).toBe(false);
          });
          expect(recordOk(proof, t, flipBit(th, n % 256), n, h)).toBe(false);
          expect(recordOk(proof, t, th, n, flipBit(h, t % 256))).toBe(false);
          if ((n ^ 1) < t) expect(recordOk(proof, t, th, n ^ 1, h)).toBe(false);
          expect(recordOk(proof, t * 2, th, n, h)).toBe(false);
          if (Math.floor(t / 2) > n) expect(recordOk(proof, Math.floor(t / 2), th, n, h)).toBe(false);
          expect(recordOk(proof.slice(1), t, th, n, h)).toBe(proof.length === 0);
          expect(recordOk([...proof, th], t, th, n, h)).toBe(false);
        }
      }
    });
  });

  describe('when every bit of a proof is flipped', () => {
    it('rejects all 256 variants of each element (tree of size 13)', async () => {
      const store = storeOf(13);
      const th = await treeHash(13, store.readHashes);
      for (let n = 0; n < 13; n++) {
        const proof = await proveRecord(13, n, store.readHashes);
        const h = leafHash(leafData(n));
        for (let k = 0; k < proof.length; k++) {
          for (let bit = 0; bit < 256; bit++) {
            expect(recordOk(proof.map((q, j) => (j === k ? flipBit(q, bit) : q)), 13, th, n, h)).toBe(false);
          }
        }
      }
    });
  });
});

describe('proveTree', () => {
  describe('when given the transparency-dev consistency vectors', () => {
    it.each(CONSISTENCY)('proves $size1 → $size2 exactly as published', async ({ size1, size2, proof }) => {
      expect(hexes(await proveTree(size2, size1, rfcStore().readHashes))).toEqual(proof);
    });
  });

  describe('when the sizes are out of order', () => {
    it('throws MALFORMED', async () => {
      const store = storeOf(4);
      await expectRejectCode(proveTree(3, 4, store.readHashes), 'MALFORMED');
      await expectRejectCode(proveTree(-1, 0, store.readHashes), 'MALFORMED');
    });
  });

  describe('when the old tree is empty', () => {
    it('is the empty proof', async () => {
      expect(await proveTree(5, 0, storeOf(5).readHashes)).toEqual([]);
    });
  });
});

describe('checkTree', () => {
  describe('when given the transparency-dev consistency vectors', () => {
    it.each(CONSISTENCY)('accepts $size1 → $size2 and rejects every corruption', ({ size1, size2, proof: hex }) => {
      const proof = hex.map(fromHex);
      const [r1, r2] = [root(size1), root(size2)];
      checkTree(proof, size2, r2, size1, r1);
      if (proof.length === 0) return;
      const wrong = new TextEncoder().encode('WrongRoot');
      // transparency-dev's corruptConsistencyProof probes.
      const probes: [Hash[], number, Hash, number, Hash][] = [
        [proof, size2, r2, size1 - 1, r1],
        [proof, size2, r2, size1 + 1, r1],
        [proof, size2, r2, size1 ^ 2, r1],
        [proof, size2 * 2, r2, size1, r1],
        [proof, Math.floor(size2 / 2), r2, size1, r1],
        [proof, size2, r2, size1, wrong],
        [proof, size2, wrong, size1, r1],
        [proof, size2, r1, size1, r2],
        [[], size2, r2, size1, r1],
        [[...proof, new Uint8Array(0)], size2, r2, size1, r1],
        [[...proof, r1], size2, r2, size1, r1],
        [[...proof, r2], size2, r2, size1, r1],
        [[new Uint8Array(0), ...proof], size2, r2, size1, r1],
        [[r1, ...proof], size2, r2, size1, r1],
        [[r2, ...proof], size2, r2, size1, r1],
        [[proof[0]!, ...proof], size2, r2, size1, r1],
        [proof.slice(0, -1), size2, r2, size1, r1],
        ...proof.map((_, i): [Hash[], number, Hash, number, Hash] => [proof.map((p, j) => (j === i ? flipBit(p, 4) : p)), size2, r2, size1, r1]),
      ];
      for (const probe of probes) expect(treeOk(...probe)).toBe(false);
    });
  });

  describe('when the old tree is empty', () => {
    it('accepts only the empty proof from the empty root', () => {
      const r = root(3);
      checkTree([], 3, r, 0, emptyHash());
      checkTree([], 0, emptyHash(), 0, emptyHash());
      expectCode(() => checkTree([], 3, r, 0, r), 'PROOF_INVALID');
      expectCode(() => checkTree([r], 3, r, 0, emptyHash()), 'PROOF_INVALID');
      expectCode(() => checkTree([], 0, r, 0, emptyHash()), 'PROOF_INVALID');
    });
  });

  describe('when the sizes are equal', () => {
    it('accepts only the empty proof between equal roots', () => {
      checkTree([], 5, root(5), 5, root(5));
      expectCode(() => checkTree([], 5, root(5), 5, root(4)), 'PROOF_INVALID');
      expectCode(() => checkTree([emptyHash()], 5, root(5), 5, root(5)), 'PROOF_INVALID');
    });
  });

  describe('when the sizes are out of order', () => {
    it('throws PROOF_INVALID', () => {
      expectCode(() => checkTree([], 1, root(1), 2, root(2)), 'PROOF_INVALID');
      expectCode(() => checkTree([], 2 ** 53, root(1), 1, root(1)), 'PROOF_INVALID');
    });
  });

  describe('when every pair of tree sizes 1..60 is proven', () => {
    it('accepts each proof and rejects it after any change of proof, roots or sizes', async () => {
      const store = storeOf(60);
      const roots: Hash[] = [];
      for (let t = 1; t <= 60; t++) roots[t] = await treeHash(t, store.readHashes);
      for (let t = 1; t <= 60; t++) {
        for (let n = 1; n <= t; n++) {
          const proof = await proveTree(t, n, increasing(store.readHashes));
          const [th, h] = [roots[t]!, roots[n]!];
          checkTree(proof, t, th, n, h);
          proof.forEach((_, k) => {
            expect(treeOk(proof.map((q, j) => (j === k ? flipBit(q, (t + 3 * n) % 256) : q)), t, th, n, h)).toBe(false);
          });
          expect(treeOk(proof, t, flipBit(th, n % 256), n, h)).toBe(false);
          expect(treeOk(proof, t, th, n, flipBit(h, t % 256))).toBe(false);
          if (n < t) expect(treeOk(proof, t, th, n + 1, h)).toBe(false);
          if (n > 1) expect(treeOk(proof, t, th, n - 1, h)).toBe(false);
          expect(treeOk(proof, t * 2, th, n, h)).toBe(false);
          if (Math.floor(t / 2) >= n && n < t) expect(treeOk(proof, Math.floor(t / 2), th, n, h)).toBe(false);
          expect(treeOk([...proof, h], t, th, n, h)).toBe(false);
        }
      }
    });
  });
});

describe('MemoryHashStore', () => {
  describe('when an index is not stored', () => {
    it('throws NOT_FOUND', () => {
      expectCode(() => storeOf(2).readHashes([3]), 'NOT_FOUND');
    });
  });

  describe('when a caller mutates a hash it read', () => {
    it('keeps its own copy', () => {
      const store = storeOf(2);
      const h = store.readHashes([0])[0]!;
      h[0] = h[0]! ^ 1;
      expect(toHex(store.readHashes([0])[0]!)).toBe(toHex(leafHash(leafData(0))));
    });
  });
});

describe('checkRecord and checkTree', () => {
  describe('when given real Certificate Transparency proofs (Argon 2020, as in Go tlog ct_test.go)', () => {
    it('accepts the inclusion proof of entry 10000 and the consistency proof from size 3654490', () => {
      const cp = ARGON2020;
      const root = fromBase64(cp.rootHash);
      checkRecord(cp.auditPath.map(fromBase64), cp.treeSize, root, cp.leafIndex, leafHash(fromBase64(cp.leafInput)));
      checkTree(cp.consistency.map(fromBase64), cp.treeSize, root, cp.oldSize, fromBase64(cp.oldRootHash));
      expectCode(() => checkRecord(cp.auditPath.map(fromBase64), cp.treeSize, root, cp.leafIndex + 1, leafHash(fromBase64(cp.leafInput))), 'PROOF_INVALID');
      expectCode(() => checkTree(cp.consistency.map(fromBase64), cp.treeSize, root, cp.oldSize - 1, fromBase64(cp.oldRootHash)), 'PROOF_INVALID');
    });
  });
});
