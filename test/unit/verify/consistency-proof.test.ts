import { beforeAll, describe, expect, it } from 'vitest';
import { fromBase64, toBase64, utf8 } from '../../../src/encoding.js';
import { verifyConsistencyProof, type ConsistencyProof } from '../../../src/verify/consistency-proof.js';
import { MAX_PROOF_LENGTH, MemoryHashStore, generateSignerKey, proveTree, signCheckpoint, treeHash } from '../../../src/tlog/index.js';
import { expectCode } from '../../support/errors.js';

const ORIGIN = 'chio.local/receipts';
const seeded = (name: string, byte: number) => generateSignerKey(name, () => new Uint8Array(32).fill(byte));
const LOG = seeded(ORIGIN, 31);
const IMPOSTOR_LOG = seeded(ORIGIN, 32);

const SIZE = 9;
const STORE = new MemoryHashStore();
for (let i = 0; i < SIZE; i++) STORE.append(utf8(`leaf ${i}`));
// The same log, except that leaf 2 was rewritten: every tree from size 3 on differs.
const FORK = new MemoryHashStore();
for (let i = 0; i < SIZE; i++) FORK.append(utf8(i === 2 ? 'leaf 2, rewritten' : `leaf ${i}`));

async function checkpointOf(size: number, store = STORE, signerKey = LOG.signerKey): Promise<string> {
  return signCheckpoint({ origin: ORIGIN, size, root: await treeHash(size, store.readHashes) }, signerKey);
}

/** What the verifier answers for GET /v1/consistency?old=<older>&new=<newer>. */
async function answerOf(older: number, newer: number): Promise<ConsistencyProof> {
  return { old: older, new: newer, proof: (await proveTree(newer, older, STORE.readHashes)).map(toBase64) };
}

const flipBit = (b64: string, bit: number): string => {
  const bytes = fromBase64(b64);
  bytes[bit >> 3] = bytes[bit >> 3]! ^ (1 << (bit & 7));
  return toBase64(bytes);
};

describe('verifyConsistencyProof', () => {
  let answer: ConsistencyProof; // 3 → 9
  let older: string;
  let newer: string;
  beforeAll(async () => {
    answer = await answerOf(3, SIZE);
    older = await checkpointOf(3);
    newer = await checkpointOf(SIZE);
  });

  describe('when the answer is what the verifier serves', () => {
    it('returns both checkpoints', () => {
      const proven = verifyConsistencyProof(answer, older, newer, LOG.verifierKey);
      expect([proven.older.size, proven.newer.size]).toEqual([3, SIZE]);
      expect(proven.older.origin).toBe(ORIGIN);
    });

    it('verifies every pair of sizes 1 ≤ old ≤ new ≤ 9', async () => {
      for (let n = 1; n <= SIZE; n++) {
        for (let m = n; m <= SIZE; m++) {
          const proven = verifyConsistencyProof(await answerOf(n, m), await checkpointOf(n), await checkpointOf(m), LOG.verifierKey);
          expect([proven.older.size, proven.newer.size]).toEqual([n, m]);
        }
      }
    });
  });

  describe('when the log rewrote what it had published', () => {
    it('throws PROOF_INVALID for a newer checkpoint over a tree that rewrote an older leaf', async () => {
      const forked = await checkpointOf(SIZE, FORK);
      expectCode(() => verifyConsistencyProof(answer, older, forked, LOG.verifierKey), 'PROOF_INVALID');
      const forkedAnswer = { old: 3, new: SIZE, proof: (await proveTree(SIZE, 3, FORK.readHashes)).map(toBase64) };
      expectCode(() => verifyConsistencyProof(forkedAnswer, older, forked, LOG.verifierKey), 'PROOF_INVALID');
    });
  });

  describe('when the proof is wrong', () => {
    it('throws PROOF_INVALID for every byte of every proof hash flipped', () => {
      expect(answer.proof.length).toBeGreaterThan(1);
      for (let h = 0; h < answer.proof.length; h++) {
        for (let byte = 0; byte < 32; byte++) {
          const proof = answer.proof.slice();
          proof[h] = flipBit(proof[h]!, byte * 8);
          expectCode(() => verifyConsistencyProof({ ...answer, proof }, older, newer, LOG.verifierKey), 'PROOF_INVALID');
        }
      }
    });

    it('throws PROOF_INVALID for a proof with a hash missing, added or reordered', () => {
      const p = answer.proof;
      expectCode(() => verifyConsistencyProof({ ...answer, proof: p.slice(1) }, older, newer, LOG.verifierKey), 'PROOF_INVALID');
      expectCode(() => verifyConsistencyProof({ ...answer, proof: [...p, p[0]!] }, older, newer, LOG.verifierKey), 'PROOF_INVALID');
      expectCode(() => verifyConsistencyProof({ ...answer, proof: [...p].reverse() }, older, newer, LOG.verifierKey), 'PROOF_INVALID');
    });

    it('throws PROOF_INVALID when the answer names sizes other than the checkpoints', async () => {
      expectCode(() => verifyConsistencyProof({ ...answer, old: 4 }, older, newer, LOG.verifierKey), 'PROOF_INVALID');
      expectCode(() => verifyConsistencyProof(answer, older, older, LOG.verifierKey), 'PROOF_INVALID');
      const toEight = await answerOf(3, 8);
      expectCode(() => verifyConsistencyProof(toEight, older, newer, LOG.verifierKey), 'PROOF_INVALID');
    });

    it('throws MALFORMED for sizes out of order or not tree sizes', () => {
      for (const sizes of [{ old: 9, new: 3 }, { old: -1 }, { old: 1.5 }, { new: Number.NaN }, { new: '9' as unknown as number }]) {
        expectCode(() => verifyConsistencyProof({ ...answer, ...sizes }, older, newer, LOG.verifierKey), 'MALFORMED');
      }
    });

    it(`throws MALFORMED for a hash that is not 32 bytes, or more than MAX_PROOF_LENGTH (${MAX_PROOF_LENGTH}) hashes`, () => {
      const p = answer.proof;
      expectCode(() => verifyConsistencyProof({ ...answer, proof: [toBase64(new Uint8Array(31)), ...p.slice(1)] }, older, newer, LOG.verifierKey), 'MALFORMED');
      expectCode(() => verifyConsistencyProof({ ...answer, proof: [null as unknown as string, ...p.slice(1)] }, older, newer, LOG.verifierKey), 'MALFORMED');
      expectCode(() => verifyConsistencyProof({ ...answer, proof: Array(MAX_PROOF_LENGTH + 1).fill(p[0]) }, older, newer, LOG.verifierKey), 'MALFORMED');
      expectCode(() => verifyConsistencyProof({ ...answer, proof: 'AAAA' as unknown as string[] }, older, newer, LOG.verifierKey), 'MALFORMED');
    });

    it('throws MALFORMED for an answer that is not an object', () => {
      expectCode(() => verifyConsistencyProof(null as unknown as ConsistencyProof, older, newer, LOG.verifierKey), 'MALFORMED');
    });
  });

  describe('when a checkpoint is not signed by the trusted log key', () => {
    it('throws UNTRUSTED_KEY for either checkpoint signed by an impostor with the right root', async () => {
      expectCode(() => verifyConsistencyProof(answer, older, newer, IMPOSTOR_LOG.verifierKey), 'UNTRUSTED_KEY');
      const forged = await checkpointOf(3, STORE, IMPOSTOR_LOG.signerKey);
      expectCode(() => verifyConsistencyProof(answer, forged, newer, LOG.verifierKey), 'UNTRUSTED_KEY');
    });

    it('throws SIGNATURE_INVALID for a checkpoint whose size was changed after signing', () => {
      const tampered = newer.replace(`\n${SIZE}\n`, `\n${SIZE - 1}\n`);
      expect(tampered).not.toBe(newer);
      expectCode(() => verifyConsistencyProof(answer, older, tampered, LOG.verifierKey), 'SIGNATURE_INVALID');
    });
  });
});
