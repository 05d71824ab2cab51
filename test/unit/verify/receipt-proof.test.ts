import { beforeAll, describe, expect, it } from 'vitest';
import { isChioError, type ChioErrorCode } from '../../../src/errors/index.js';
import { fromBase64, toBase64 } from '../../../src/encoding.js';
import { receiptBytes, type Receipt } from '../../../src/receipt/receipt.js';
import { verifyReceiptProof, type ReceiptProof } from '../../../src/verify/receipt-proof.js';
import { MAX_PROOF_LENGTH, MemoryHashStore, generateSignerKey, leafHash, proveRecord, signCheckpoint, treeHash } from '../../../src/tlog/index.js';
import { chainOf, draftOf, expectCode, kernelOf, signReceipt } from '../receipt/helpers.js';

const ORIGIN = 'chio.local/receipts';
const seeded = (name: string, byte: number) => generateSignerKey(name, () => new Uint8Array(32).fill(byte));
const LOG = seeded(ORIGIN, 21);
const IMPOSTOR_LOG = seeded(ORIGIN, 22); // same origin, another key
const KERNEL = kernelOf(23);
const OTHER_KERNEL = kernelOf(24);
const TRUST = { logKey: LOG.verifierKey, kernelKeys: [KERNEL.verifierKey] };

const SIZE = 9;
const RECEIPTS = chainOf(SIZE, KERNEL);
const STORE = new MemoryHashStore();
for (const r of RECEIPTS) STORE.append(receiptBytes(r));

/** The signed checkpoint of the first `size` leaves. */
async function checkpointOf(size: number, signerKey = LOG.signerKey): Promise<string> {
  return signCheckpoint({ origin: ORIGIN, size, root: await treeHash(size, STORE.readHashes) }, signerKey);
}

/** What the verifier answers for leaf `index` under the checkpoint of size `size`. */
async function proofOf(index: number, size = SIZE): Promise<ReceiptProof> {
  const hashes = await proveRecord(size, index, STORE.readHashes);
  return { receipt: RECEIPTS[index]!, index, checkpoint: await checkpointOf(size), inclusion_proof: hashes.map(toBase64) };
}

const flipBit = (b64: string, bit: number): string => {
  const bytes = fromBase64(b64);
  bytes[bit >> 3] = bytes[bit >> 3]! ^ (1 << (bit & 7));
  return toBase64(bytes);
};

describe('verifyReceiptProof', () => {
  let proof: ReceiptProof; // leaf 3 of 9
  beforeAll(async () => {
    proof = await proofOf(3);
  });

  describe('when the proof is what the verifier serves', () => {
    it('returns the receipt, its index, the tree size and the origin', () => {
      expect(verifyReceiptProof(proof, TRUST, RECEIPTS[3]!.id)).toEqual({ receipt: RECEIPTS[3], index: 3, treeSize: SIZE, origin: ORIGIN });
    });

    it('verifies every leaf of every tree of 1 to 9 receipts', async () => {
      for (let size = 1; size <= SIZE; size++) {
        for (let index = 0; index < size; index++) {
          const p = await proofOf(index, size);
          expect(verifyReceiptProof(p, TRUST, RECEIPTS[index]!.id).treeSize).toBe(size);
        }
      }
    });

    it('hashes the receipt as the RFC 6962 leaf SHA-256(0x00 ‖ receipt bytes)', async () => {
      expect(toBase64((await STORE.readHashes([0]))[0]!)).toBe(toBase64(leafHash(receiptBytes(RECEIPTS[0]!))));
    });
  });

  describe('when the checkpoint text is tampered with', () => {
    it('throws SIGNATURE_INVALID for a changed tree size', () => {
      const checkpoint = proof.checkpoint.replace(`\n${SIZE}\n`, `\n${SIZE + 1}\n`);
      expect(checkpoint).not.toBe(proof.checkpoint);
      expectCode(() => verifyReceiptProof({ ...proof, checkpoint }, TRUST), 'SIGNATURE_INVALID');
    });

    it('throws SIGNATURE_INVALID for a changed root hash', () => {
      const root = proof.checkpoint.split('\n')[2]!;
      const checkpoint = proof.checkpoint.replace(root, flipBit(root, 0));
      expectCode(() => verifyReceiptProof({ ...proof, checkpoint }, TRUST), 'SIGNATURE_INVALID');
    });

    it('rejects every single-character flip of the signed note with a ChioError', () => {
      const accepted: number[] = [];
      const notChio: number[] = [];
      const codes = new Set<ChioErrorCode>();
      for (let i = 0; i < proof.checkpoint.length; i++) {
        const c = proof.checkpoint;
        const checkpoint = c.slice(0, i) + String.fromCharCode(c.charCodeAt(i) ^ 0x01) + c.slice(i + 1);
        try {
          verifyReceiptProof({ ...proof, checkpoint }, TRUST);
          accepted.push(i);
        } catch (err) {
          if (isChioError(err)) codes.add(err.code);
          else notChio.push(i);
        }
      }
      expect(accepted).toEqual([]);
      expect(notChio).toEqual([]);
      expect(codes.has('SIGNATURE_INVALID')).toBe(true);
    });

    it('throws MALFORMED for a checkpoint that is not a string', () => {
      expectCode(() => verifyReceiptProof({ ...proof, checkpoint: undefined as unknown as string }, TRUST), 'MALFORMED');
    });
  });

  describe('when the checkpoint is not signed by the trusted log key', () => {
    it('throws UNTRUSTED_KEY for a log key of the same origin with another key', () => {
      expectCode(() => verifyReceiptProof(proof, { ...TRUST, logKey: IMPOSTOR_LOG.verifierKey }), 'UNTRUSTED_KEY');
    });

    it('throws UNTRUSTED_KEY for a checkpoint signed by an impostor with the right root', async () => {
      const checkpoint = await checkpointOf(SIZE, IMPOSTOR_LOG.signerKey);
      expectCode(() => verifyReceiptProof({ ...proof, checkpoint }, TRUST), 'UNTRUSTED_KEY');
    });

    it('throws UNTRUSTED_KEY for a trusted key named after another origin', () => {
      expectCode(() => verifyReceiptProof(proof, { ...TRUST, logKey: seeded('other.example/log', 21).verifierKey }), 'UNTRUSTED_KEY');
    });

    it('throws KEY_INVALID for a log key that is not a verifier key', () => {
      expectCode(() => verifyReceiptProof(proof, { ...TRUST, logKey: 'not a key' }), 'KEY_INVALID');
    });
  });

  describe('when the receipt is not the one proven or not trusted', () => {
    it('throws RECEIPT_INVALID when the receipt is not the one asked for (expectedId)', () => {
      expectCode(() => verifyReceiptProof(proof, TRUST, RECEIPTS[4]!.id), 'RECEIPT_INVALID');
    });

    it('throws RECEIPT_INVALID for a receipt whose content changed', () => {
      const receipt = { ...proof.receipt, decision: { ...proof.receipt.decision, verdict: 'deny' } } as Receipt;
      expectCode(() => verifyReceiptProof({ ...proof, receipt }, TRUST), 'RECEIPT_INVALID');
    });

    it('throws UNTRUSTED_KEY for a receipt by a kernel key not in the trust list', () => {
      expectCode(() => verifyReceiptProof(proof, { ...TRUST, kernelKeys: [OTHER_KERNEL.verifierKey] }), 'UNTRUSTED_KEY');
    });

    it('throws PROOF_INVALID for another valid receipt at the proven index', () => {
      expectCode(() => verifyReceiptProof({ ...proof, receipt: RECEIPTS[4]! }, TRUST), 'PROOF_INVALID');
    });

    it('throws PROOF_INVALID for a valid receipt that is not in the log', () => {
      const outsider = signReceipt(draftOf(99), { chain: 'chain-b', seq: 1, prev: '0'.repeat(64) }, KERNEL);
      expectCode(() => verifyReceiptProof({ ...proof, receipt: outsider }, TRUST, outsider.id), 'PROOF_INVALID');
    });
  });

  describe('when the inclusion proof is wrong', () => {
    it('throws PROOF_INVALID for every byte of every proof hash flipped', () => {
      expect(proof.inclusion_proof.length).toBe(4); // leaf 3 of 9: three siblings in the left 8, then leaf 8
      for (let h = 0; h < proof.inclusion_proof.length; h++) {
        for (let byte = 0; byte < 32; byte++) {
          const inclusion_proof = proof.inclusion_proof.slice();
          inclusion_proof[h] = flipBit(inclusion_proof[h]!, byte * 8);
          expectCode(() => verifyReceiptProof({ ...proof, inclusion_proof }, TRUST), 'PROOF_INVALID');
        }
      }
    });

    it('throws PROOF_INVALID for a proof with a hash missing, added or reordered', () => {
      const p = proof.inclusion_proof;
      expectCode(() => verifyReceiptProof({ ...proof, inclusion_proof: p.slice(1) }, TRUST), 'PROOF_INVALID');
      expectCode(() => verifyReceiptProof({ ...proof, inclusion_proof: [...p, p[0]!] }, TRUST), 'PROOF_INVALID');
      expectCode(() => verifyReceiptProof({ ...proof, inclusion_proof: [...p].reverse() }, TRUST), 'PROOF_INVALID');
    });

    it('throws PROOF_INVALID for a proof against an older checkpoint', async () => {
      const checkpoint = await checkpointOf(SIZE - 1);
      expectCode(() => verifyReceiptProof({ ...proof, checkpoint }, TRUST), 'PROOF_INVALID');
    });

    it('throws MALFORMED for a hash that is not 32 bytes, not base64 or not a string', () => {
      const p = proof.inclusion_proof;
      expectCode(() => verifyReceiptProof({ ...proof, inclusion_proof: [toBase64(new Uint8Array(31)), ...p.slice(1)] }, TRUST), 'MALFORMED');
      expectCode(() => verifyReceiptProof({ ...proof, inclusion_proof: ['not base64!', ...p.slice(1)] }, TRUST), 'MALFORMED');
      expectCode(() => verifyReceiptProof({ ...proof, inclusion_proof: [7 as unknown as string, ...p.slice(1)] }, TRUST), 'MALFORMED');
    });

    it(`throws MALFORMED for more than MAX_PROOF_LENGTH (${MAX_PROOF_LENGTH}) hashes, and PROOF_INVALID for exactly that many`, () => {
      const filler = toBase64(new Uint8Array(32));
      expectCode(() => verifyReceiptProof({ ...proof, inclusion_proof: Array(MAX_PROOF_LENGTH + 1).fill(filler) }, TRUST), 'MALFORMED');
      expectCode(() => verifyReceiptProof({ ...proof, inclusion_proof: Array(MAX_PROOF_LENGTH).fill(filler) }, TRUST), 'PROOF_INVALID');
    });

    it('throws MALFORMED for an inclusion_proof that is not a list', () => {
      expectCode(() => verifyReceiptProof({ ...proof, inclusion_proof: 'AAAA' as unknown as string[] }, TRUST), 'MALFORMED');
    });
  });

  describe('when the index is wrong', () => {
    it('throws PROOF_INVALID for a neighbouring index with the same proof', () => {
      expectCode(() => verifyReceiptProof({ ...proof, index: 2 }, TRUST), 'PROOF_INVALID');
      expectCode(() => verifyReceiptProof({ ...proof, index: 4 }, TRUST), 'PROOF_INVALID');
    });

    it('throws PROOF_INVALID for an index at or past the tree size', () => {
      expectCode(() => verifyReceiptProof({ ...proof, index: SIZE }, TRUST), 'PROOF_INVALID');
      expectCode(() => verifyReceiptProof({ ...proof, index: SIZE + 100 }, TRUST), 'PROOF_INVALID');
    });

    it('throws MALFORMED for an index that is not a leaf index', () => {
      for (const index of [-1, 1.5, Number.NaN, 2 ** 53, '3' as unknown as number]) {
        expectCode(() => verifyReceiptProof({ ...proof, index }, TRUST), 'MALFORMED');
      }
    });
  });

  describe('when the verifier says the receipt was corrected', () => {
    it('returns the id it names as correctedBy', () => {
      const correctedBy = 'c0'.repeat(32);
      expect(verifyReceiptProof({ ...proof, corrected_by: correctedBy }, TRUST, RECEIPTS[3]!.id).correctedBy).toBe(correctedBy);
    });

    it.each<[string, unknown]>([
      ['upper-case hex', 'C0'.repeat(32)],
      ['63 digits', 'c'.repeat(63)],
      ['a number', 7],
      ['null', null],
    ])('throws MALFORMED for a corrected_by that is %s', (_name, correctedBy) => {
      expectCode(() => verifyReceiptProof({ ...proof, corrected_by: correctedBy } as ReceiptProof, TRUST), 'MALFORMED');
    });
  });

  // `verifyReceiptProof(await res.json(), …)` without a look at the status: the answer is no
  // proof, and the message said "index is not a leaf index", which sent people looking at the
  // index rather than at the answer.
  describe('when given an answer that is no proof (202 pending, a 404 or other error)', () => {
    const refusal = (answer: unknown) => {
      try {
        verifyReceiptProof(answer as ReceiptProof, TRUST);
      } catch (err) {
        if (isChioError(err)) return { code: err.code, message: err.message };
        throw err;
      }
      throw new Error('verified');
    };

    it.each([
      ['202 pending', { status: 'pending' }],
      ['202 pending, with the leaf index it has', { status: 'pending', index: 5 }],
    ])('says that the receipt is not yet in a checkpoint (%s), with the code MALFORMED', (_what, answer) => {
      expect(refusal(answer)).toEqual({ code: 'MALFORMED', message: 'the answer is 202 pending, not a proof: the receipt is stored but not yet in a checkpoint; ask again in a second' });
    });

    it('says the error answer it was given (404: not in this log), with the code MALFORMED', () => {
      expect(refusal({ error: 'no receipt with this id is stored', code: 'NOT_FOUND' })).toEqual({
        code: 'MALFORMED', message: 'the answer is an error, not a proof: the receipt is not in this log (NOT_FOUND: no receipt with this id is stored)',
      });
      expect(refusal({ error: 'the ledger is behind; try again shortly', code: 'UNAVAILABLE' })).toEqual({
        code: 'MALFORMED', message: 'the answer is an error, not a proof (UNAVAILABLE: the ledger is behind; try again shortly)',
      });
    });
  });

  describe('when the proof is not an object', () => {
    it('throws MALFORMED', () => {
      expectCode(() => verifyReceiptProof(null as unknown as ReceiptProof, TRUST), 'MALFORMED');
      expectCode(() => verifyReceiptProof('proof' as unknown as ReceiptProof, TRUST), 'MALFORMED');
    });
  });
});
