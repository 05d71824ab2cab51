/**
 * C2SP tlog-proof@v1: hand-made vectors written from the spec's text (header, optional extra
 * line, index line, hashes, empty line, checkpoint verbatim), every leaf of small trees, and
 * rejection of each part changed.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { fromBase64, toBase64 } from '../../../src/encoding.js';
import { receiptBytes } from '../../../src/receipt/receipt.js';
import { MAX_PROOF_LENGTH, MemoryHashStore, generateSignerKey, proveRecord, signCheckpoint, treeHash } from '../../../src/tlog/index.js';
import { formatTlogProof, parseTlogProof, verifyTlogProof, type TlogProof } from '../../../src/verify/tlog-proof.js';
import { chainOf, expectCode, kernelOf, utf8 } from '../receipt/helpers.js';

const ORIGIN = 'chio.local/receipts';
const LOG = generateSignerKey(ORIGIN, () => new Uint8Array(32).fill(61));
const OTHER_LOG = generateSignerKey(ORIGIN, () => new Uint8Array(32).fill(62));
const KERNEL = kernelOf(63);
const TRUST = { logKey: LOG.verifierKey, kernelKeys: [KERNEL.verifierKey] };
const SIZE = 7;
const RECEIPTS = chainOf(SIZE, KERNEL);
const STORE = new MemoryHashStore();
for (const r of RECEIPTS) STORE.append(receiptBytes(r));

const hashOf = (byte: number) => new Uint8Array(32).fill(byte);
/** A checkpoint-shaped note; parsing does not open it, so its signature line may be anything. */
const NOTE = 'example.com/log\n9\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— example.com/log AAAA\n';

async function proofOf(index: number, size = SIZE, signerKey = LOG.signerKey): Promise<string> {
  const checkpoint = signCheckpoint({ origin: ORIGIN, size, root: await treeHash(size, STORE.readHashes) }, signerKey);
  return formatTlogProof({ index, hashes: await proveRecord(size, index, STORE.readHashes), checkpoint });
}

describe('parseTlogProof', () => {
  describe('when the text follows the spec', () => {
    it('reads header, index, hashes in order, and the checkpoint verbatim', () => {
      const text = `c2sp.org/tlog-proof@v1\nindex 73894\n${toBase64(hashOf(1))}\n${toBase64(hashOf(2))}\n\n${NOTE}`;
      expect(parseTlogProof(text)).toEqual({ index: 73894, hashes: [hashOf(1), hashOf(2)], checkpoint: NOTE });
    });

    it('reads the optional extra line as opaque bytes', () => {
      const text = `c2sp.org/tlog-proof@v1\nextra ${toBase64(utf8('age-v1.2.1-darwin-arm64.tar.gz'))}\nindex 0\n${toBase64(hashOf(3))}\n\n${NOTE}`;
      const proof = parseTlogProof(text);
      expect(new TextDecoder().decode(proof.extra)).toBe('age-v1.2.1-darwin-arm64.tar.gz');
      expect(proof.index).toBe(0);
    });

    it('reads a proof of no hashes (the only leaf of a tree of one)', () => {
      expect(parseTlogProof(`c2sp.org/tlog-proof@v1\nindex 0\n\n${NOTE}`)).toEqual({ index: 0, hashes: [], checkpoint: NOTE });
    });

    it('formats back to the same bytes', () => {
      for (const text of [
        `c2sp.org/tlog-proof@v1\nindex 5\n${toBase64(hashOf(4))}\n\n${NOTE}`,
        `c2sp.org/tlog-proof@v1\nextra ${toBase64(utf8('x'))}\nindex 0\n\n${NOTE}`,
      ]) expect(formatTlogProof(parseTlogProof(text))).toBe(text);
    });
  });

  describe('when the text breaks a rule', () => {
    const good = (p: Partial<TlogProof> = {}) => formatTlogProof({ index: 5, hashes: [hashOf(4)], checkpoint: NOTE, ...p });
    it.each([
      ['another header', (t: string) => t.replace('tlog-proof@v1', 'tlog-proof@v2')],
      ['a CRLF header', (t: string) => t.replace('@v1\n', '@v1\r\n')],
      ['no index line', (t: string) => t.replace('index 5\n', '')],
      ['a leading zero in the index', (t: string) => t.replace('index 5', 'index 05')],
      ['a negative index', (t: string) => t.replace('index 5', 'index -5')],
      ['an index past 2^53', (t: string) => t.replace('index 5', 'index 9007199254740993')],
      ['two spaces after index', (t: string) => t.replace('index 5', 'index  5')],
      ['the extra line after the index', (t: string) => t.replace('index 5\n', `index 5\nextra ${toBase64(utf8('x'))}\n`)],
      ['a 31-byte hash', (t: string) => t.replace(toBase64(hashOf(4)), toBase64(new Uint8Array(31)))],
      ['a hash that is not base64', (t: string) => t.replace(toBase64(hashOf(4)), '!'.repeat(44))],
      ['no empty line before the checkpoint', (t: string) => t.replace('\n\nexample.com', '\nexample.com')],
      ['no checkpoint', (t: string) => t.slice(0, t.indexOf('example.com'))],
      ['a checkpoint without its final newline', (t: string) => t.slice(0, -1)],
    ])('refuses %s (MALFORMED)', (_what, change) => {
      expectCode(() => parseTlogProof(change(good())), 'MALFORMED');
    });

    it(`refuses more than ${MAX_PROOF_LENGTH} hashes`, () => {
      const hashes = Array.from({ length: MAX_PROOF_LENGTH + 1 }, () => toBase64(hashOf(1))).join('\n');
      expectCode(() => parseTlogProof(`c2sp.org/tlog-proof@v1\nindex 0\n${hashes}\n\n${NOTE}`), 'MALFORMED');
    });

    it('refuses what is not a string, and texts over the size bound', () => {
      expectCode(() => parseTlogProof(42 as unknown as string), 'MALFORMED');
      expectCode(() => parseTlogProof(`c2sp.org/tlog-proof@v1\nindex 0\n\n${'a'.repeat(3 << 20)}\n`), 'MALFORMED');
    });
  });
});

describe('verifyTlogProof', () => {
  let proof: string; // leaf 4 of 7
  beforeAll(async () => {
    proof = await proofOf(4);
  });

  it('verifies every leaf of every tree of 1 to 7 receipts', async () => {
    for (let size = 1; size <= SIZE; size++) {
      for (let index = 0; index < size; index++) {
        expect(verifyTlogProof(await proofOf(index, size), RECEIPTS[index], TRUST, RECEIPTS[index]!.id)).toMatchObject({ index, treeSize: size, origin: ORIGIN });
      }
    }
  });

  it('refuses another receipt (PROOF_INVALID) and a receipt not asked for (RECEIPT_INVALID)', () => {
    expectCode(() => verifyTlogProof(proof, RECEIPTS[3], TRUST), 'PROOF_INVALID');
    expectCode(() => verifyTlogProof(proof, RECEIPTS[4], TRUST, RECEIPTS[3]!.id), 'RECEIPT_INVALID');
  });

  it('refuses a checkpoint another log key signed (UNTRUSTED_KEY)', async () => {
    const forged = `${proof.slice(0, proof.indexOf('\n\n') + 2)}${signCheckpoint({ origin: ORIGIN, size: SIZE, root: await treeHash(SIZE, STORE.readHashes) }, OTHER_LOG.signerKey)}`;
    expectCode(() => verifyTlogProof(forged, RECEIPTS[4], TRUST), 'UNTRUSTED_KEY');
  });

  it('refuses every bit flipped in every proof hash (PROOF_INVALID)', () => {
    const parsed = parseTlogProof(proof);
    for (let h = 0; h < parsed.hashes.length; h++) {
      for (const bit of [0, 129, 255]) {
        const hashes = parsed.hashes.map((x) => x.slice());
        hashes[h]![bit >> 3]! ^= 1 << (bit & 7);
        expectCode(() => verifyTlogProof(formatTlogProof({ ...parsed, hashes }), RECEIPTS[4], TRUST), 'PROOF_INVALID');
      }
    }
  });

  it('refuses another index, a dropped hash and an index past the tree (PROOF_INVALID)', () => {
    const parsed = parseTlogProof(proof);
    expectCode(() => verifyTlogProof(formatTlogProof({ ...parsed, index: 5 }), RECEIPTS[4], TRUST), 'PROOF_INVALID');
    expectCode(() => verifyTlogProof(formatTlogProof({ ...parsed, hashes: parsed.hashes.slice(1) }), RECEIPTS[4], TRUST), 'PROOF_INVALID');
    expectCode(() => verifyTlogProof(formatTlogProof({ ...parsed, index: SIZE }), RECEIPTS[4], TRUST), 'PROOF_INVALID');
  });

  it('ignores the extra data: it is not authenticated and does not change what is proven', () => {
    const parsed = parseTlogProof(proof);
    expect(verifyTlogProof(formatTlogProof({ ...parsed, extra: fromBase64('AAEC') }), RECEIPTS[4], TRUST).index).toBe(4);
  });
});
