/**
 * POST /v1/verify's report, check by check: every check holds for a genuine receipt and proof,
 * and each kind of damage makes exactly the checks it touches fail, the rest still reported.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { receiptBodyBytes, receiptBytes, receiptIdOf, type Receipt } from '../../../src/receipt/receipt.js';
import { toBase64 } from '../../../src/encoding.js';
import { MemoryHashStore, generateSignerKey, newEd25519VerifierKey, proveRecord, signCheckpoint, treeHash } from '../../../src/tlog/index.js';
import { formatTlogProof } from '../../../src/verify/tlog-proof.js';
import { reportVerification, toVerifyRequest, type CheckName, type VerifyReport } from '../../../src/verify/report.js';
import { chainOf, expectCode, kernelOf, sealedBatchOf } from '../receipt/helpers.js';
import { createNodeSignatureCheck } from '../../../src/crypto/ed25519.js';

const ORIGIN = 'chio.local/receipts';
const LOG = generateSignerKey(ORIGIN, () => new Uint8Array(32).fill(71));
const OTHER_LOG = generateSignerKey(ORIGIN, () => new Uint8Array(32).fill(72));
const KERNEL = kernelOf(73);
const STRANGER = kernelOf(74);
const TRUST = { logKey: LOG.verifierKey, kernelKeys: [KERNEL.verifierKey] };
const RECEIPTS = chainOf(5, KERNEL);
const STORE = new MemoryHashStore();
for (const r of RECEIPTS) STORE.append(receiptBytes(r));

const statuses = (report: VerifyReport) => Object.fromEntries(report.checks.map((c) => [c.check, c.code ?? c.status])) as Partial<Record<CheckName, string>>;

async function proofOf(index: number, signerKey = LOG.signerKey): Promise<string> {
  const checkpoint = signCheckpoint({ origin: ORIGIN, size: 5, root: await treeHash(5, STORE.readHashes) }, signerKey);
  return formatTlogProof({ index, hashes: await proveRecord(5, index, STORE.readHashes), checkpoint });
}

describe('reportVerification', () => {
  let proof: string; // leaf 2 of 5
  beforeAll(async () => {
    proof = await proofOf(2);
  });

  describe('when a receipt is posted alone', () => {
    it('reports every receipt check as holding and the chain link as skipped', () => {
      const report = reportVerification({ receipt: RECEIPTS[2] }, TRUST);
      expect(report).toMatchObject({ ok: true, subject: 'receipt', receipt_id: RECEIPTS[2]!.id });
      expect(statuses(report)).toEqual({
        'receipt.form': 'holds', 'receipt.id': 'holds', 'receipt.kernel_key': 'holds', 'receipt.signature': 'holds', 'receipt.chain': 'holds', 'receipt.chain_link': 'skipped',
      });
    });

    it('holds every check for a batch-signed receipt, and fails its signature when its path is another one\'s', () => {
      const sealed = sealedBatchOf(5, KERNEL, 'chain-batch').map((s) => s.receipt);
      expect(statuses(reportVerification({ receipt: sealed[3], previous: sealed[2] }, TRUST))).toEqual({
        'receipt.form': 'holds', 'receipt.id': 'holds', 'receipt.kernel_key': 'holds', 'receipt.signature': 'holds', 'receipt.chain': 'holds', 'receipt.chain_link': 'holds',
      });
      const moved = { ...sealed[3]!, batch: { ...sealed[3]!.batch!, path: sealed[1]!.batch!.path } };
      expect(statuses(reportVerification({ receipt: moved }, TRUST))).toMatchObject({ 'receipt.id': 'holds', 'receipt.signature': 'SIGNATURE_INVALID' });
    });

    it('checks the link when the previous receipt is given', () => {
      expect(statuses(reportVerification({ receipt: RECEIPTS[2], previous: RECEIPTS[1] }, TRUST))['receipt.chain_link']).toBe('holds');
      expect(statuses(reportVerification({ receipt: RECEIPTS[2], previous: RECEIPTS[0] }, TRUST))['receipt.chain_link']).toBe('CHAIN_BROKEN');
    });

    it('fails only the id when the content changed, and the signature with it', () => {
      const changed = { ...RECEIPTS[2]!, decision: { ...RECEIPTS[2]!.decision, verdict: 'deny' as const } };
      const report = reportVerification({ receipt: changed }, TRUST);
      expect(report.ok).toBe(false);
      expect(statuses(report)).toMatchObject({ 'receipt.form': 'holds', 'receipt.id': 'RECEIPT_INVALID', 'receipt.kernel_key': 'holds', 'receipt.signature': 'SIGNATURE_INVALID', 'receipt.chain': 'holds' });
    });

    it('fails only the kernel key for a genuine receipt by an untrusted kernel', () => {
      const foreign = chainOf(1, STRANGER)[0]!;
      expect(statuses(reportVerification({ receipt: foreign }, TRUST))).toMatchObject({ 'receipt.id': 'holds', 'receipt.kernel_key': 'UNTRUSTED_KEY', 'receipt.signature': 'holds' });
    });

    it('fails the chain fields for seq 1 with a prev, and skips what a malformed receipt cannot show', () => {
      const withPrev: Receipt = { ...RECEIPTS[0]!, prev: RECEIPTS[1]!.id };
      expect(statuses(reportVerification({ receipt: withPrev }, TRUST))['receipt.chain']).toBe('CHAIN_BROKEN');
      const report = reportVerification({ receipt: { schema: 'chio.receipt.v1' } }, TRUST);
      expect(statuses(report)).toMatchObject({ 'receipt.form': 'RECEIPT_INVALID', 'receipt.id': 'skipped', 'receipt.signature': 'skipped' });
    });
  });

  describe('when a receipt is posted with its tlog-proof', () => {
    it('reports the proof, the checkpoint signature and the inclusion as holding, and where the leaf is', () => {
      const report = reportVerification({ receipt: RECEIPTS[2], proof }, TRUST);
      expect(report).toMatchObject({ ok: true, subject: 'tlog-proof', included: { index: 2, tree_size: 5, origin: ORIGIN } });
      expect(statuses(report)).toMatchObject({ 'proof.form': 'holds', 'checkpoint.signature': 'holds', inclusion: 'holds' });
    });

    it('fails the inclusion only, for another receipt of the same log', () => {
      const report = reportVerification({ receipt: RECEIPTS[3], proof }, TRUST);
      expect(statuses(report)).toMatchObject({ 'receipt.signature': 'holds', 'checkpoint.signature': 'holds', inclusion: 'PROOF_INVALID' });
      expect(report).not.toHaveProperty('included');
    });

    it('fails the checkpoint signature under another log key, and skips the inclusion', async () => {
      const report = reportVerification({ receipt: RECEIPTS[2], proof: await proofOf(2, OTHER_LOG.signerKey) }, TRUST);
      expect(statuses(report)['checkpoint.signature']).toBe('UNTRUSTED_KEY');
      expect(statuses(report).inclusion).toBe('skipped');
    });

    it('fails the proof form for text that is not a tlog-proof', () => {
      expect(statuses(reportVerification({ receipt: RECEIPTS[2], proof: 'hello' }, TRUST))).toMatchObject({ 'proof.form': 'MALFORMED', 'checkpoint.signature': 'skipped', inclusion: 'skipped' });
    });
  });
});

describe('toVerifyRequest', () => {
  it('accepts a receipt with an optional proof and previous receipt', () => {
    expect(toVerifyRequest({ receipt: {}, proof: 'x', previous: {} })).toEqual({ receipt: {}, proof: 'x', previous: {} });
  });

  it('refuses what is not an object, has no receipt, a proof that is not text, or an unknown member (MALFORMED)', () => {
    for (const value of [null, [], 'x', {}, { receipt: {}, proof: 42 }, { receipt: {}, bundle: {} }]) expectCode(() => toVerifyRequest(value), 'MALFORMED');
  });
});

/**
 * A receipt naming as kernel key the identity point (a small-order key), "signed" with R = the
 * identity and S = 0: no secret at all. OpenSSL's cofactorless check takes it for any message.
 */
function forgedUnderIdentityKey(): Receipt {
  const identity = new Uint8Array(32);
  identity[0] = 1;
  const { id: _id, signature: _sig, ...body } = RECEIPTS[2]!;
  const withKey = { ...body, kernel_key: newEd25519VerifierKey('chio-kernel', identity) };
  const signature = new Uint8Array(64);
  signature[0] = 1;
  return { ...withKey, id: receiptIdOf(receiptBodyBytes(withKey)), signature: toBase64(signature) };
}

describe('reportVerification with a node:crypto signature check, as the verifier service passes', () => {
  it('does not say a signature forged under a small-order kernel key holds', () => {
    const fast = { ...TRUST, checkSignature: createNodeSignatureCheck() };
    const report = statuses(reportVerification({ receipt: forgedUnderIdentityKey() }, fast));
    expect(report).toMatchObject({ 'receipt.id': 'holds', 'receipt.kernel_key': 'UNTRUSTED_KEY', 'receipt.signature': 'SIGNATURE_INVALID' });
  });

  it('reports exactly what the portable check reports, every signature going through the given check', async () => {
    let calls = 0;
    const check = createNodeSignatureCheck();
    const fast = { ...TRUST, checkSignature: (s: Uint8Array, m: Uint8Array, k: Uint8Array) => (calls++, check(s, m, k)) };
    const changed = { ...RECEIPTS[2]!, decision: { ...RECEIPTS[2]!.decision, verdict: 'deny' as const } };
    const forged = { ...RECEIPTS[2]!, signature: RECEIPTS[3]!.signature };
    const requests = [
      { receipt: RECEIPTS[2], proof: await proofOf(2) },
      { receipt: RECEIPTS[2], proof: await proofOf(2, OTHER_LOG.signerKey) },
      { receipt: RECEIPTS[3], proof: await proofOf(2) },
      { receipt: RECEIPTS[2], previous: RECEIPTS[1] },
      { receipt: changed },
      { receipt: forged, previous: forged },
      { receipt: chainOf(1, STRANGER)[0] },
      { receipt: forgedUnderIdentityKey() },
    ];
    reportVerification(requests[0]!, fast);
    expect(calls).toBe(2); // the receipt's signature and the checkpoint's
    for (const request of requests) expect(reportVerification(request, fast)).toEqual(reportVerification(request, TRUST));
  });
});
