import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type ChioErrorCode, isChioError } from '../../../src/errors/index.js';
import { toBase64 } from '../../../src/encoding.js';
import { canonicalBytes, canonicalize } from '../../../src/receipt/jcs.js';
import { GENESIS_PREV, MAX_RECEIPT_BYTES, receiptBytes, type Receipt, type ReceiptBody } from '../../../src/receipt/receipt.js';
import { checkChainLink, claimedSignedBody, readReceiptBytes, verifyReceipt, verifyReceiptBytes } from '../../../src/receipt/verify.js';
import { parseVerifierKey } from '../../../src/tlog/index.js';
import {
  bodyOf, chainOf, draftOf, expectCode, fromUtf8, kernelOf, signBody, signReceipt, thrownCode, utf8,
} from './helpers.js';

const KERNEL = kernelOf(7);
const OTHER = kernelOf(8);
const TRUSTED = [KERNEL.verifierKey];
const GENESIS = { chain: 'chain-a', seq: 1, prev: GENESIS_PREV };
const R1 = signReceipt(draftOf(0), GENESIS, KERNEL);
const R1_BYTES = receiptBytes(R1);
const R1_TEXT = fromUtf8(R1_BYTES);

/** A copy of R1 with `edit` applied, serialized canonically without re-signing. */
function edited(edit: (r: Record<string, unknown>) => void): Uint8Array {
  const r = structuredClone(R1) as unknown as Record<string, unknown>;
  edit(r);
  return canonicalBytes(r);
}

describe('verifyReceiptBytes', () => {
  describe('when the receipt is signed as the publisher signs it', () => {
    it('commits its id to a hand-written RFC 8785 body (members sorted, no whitespace)', () => {
      const body =
        '{"chain":"chain-a","decision":{"http_status":200,"shadow":false,"verdict":"allow"},' +
        '"evidence":[{"guard":"Request","verdict":"allow"},{"details":{"grant":0},"guard":"Capability","verdict":"allow"}],' +
        `"kernel_key":"${KERNEL.verifierKey}","policy_hash":"sha256:${'cd'.repeat(32)}","prev":"${'0'.repeat(64)}",` +
        '"request":{"host":"api.example","id":"req-0","method":"POST","path":"/tools/t0","protocol":"HTTP/1.1",' +
        '"source_address":"10.0.0.1:5000","source_principal":"cluster.local/ns/default/sa/agent"},' +
        '"schema":"chio.receipt.v1","seq":1,' +
        `"subject":{"capability_id":"cap-0","credential_sha256":"${'ab'.repeat(32)}","subject":"agent-1"},` +
        '"time":"2025-01-01T00:00:00.000Z"}';
      expect(canonicalize(bodyOf(draftOf(0), GENESIS, KERNEL.verifierKey))).toBe(body);
      expect(R1.id).toBe(createHash('sha256').update(body).digest('hex'));
      // The stored bytes are the body with id and signature in their sorted places.
      const withId = body.replace('"kernel_key"', `"id":"${R1.id}","kernel_key"`);
      expect(R1_TEXT).toBe(withId.replace('"subject"', `"signature":"${R1.signature}","subject"`));
    });

    it('returns the receipt', () => {
      expect(verifyReceiptBytes(R1_BYTES, TRUSTED)).toEqual(R1);
    });

    it('verifies every receipt of a chain, with the kernel key among others', () => {
      for (const r of chainOf(5, KERNEL)) expect(verifyReceiptBytes(receiptBytes(r), [OTHER.verifierKey, KERNEL.verifierKey]).id).toBe(r.id);
    });

    it('names the kernel key whose public key signed it', () => {
      expect(parseVerifierKey(R1.kernel_key).publicKey).toEqual(KERNEL.signer.publicKey);
    });
  });

  describe('when any single byte of the canonical receipt is flipped', () => {
    it('rejects every one of them with a ChioError', () => {
      const allowed = new Set<ChioErrorCode>(['MALFORMED', 'RECEIPT_INVALID', 'UNTRUSTED_KEY', 'SIGNATURE_INVALID']);
      const accepted: number[] = [];
      const notChio: number[] = [];
      const codes = new Map<ChioErrorCode, number>();
      for (let i = 0; i < R1_BYTES.length; i++) {
        const bytes = R1_BYTES.slice();
        bytes[i] = bytes[i]! ^ 0x01;
        try {
          verifyReceiptBytes(bytes, TRUSTED);
          accepted.push(i);
        } catch (err) {
          if (!isChioError(err)) notChio.push(i);
          else codes.set(err.code, (codes.get(err.code) ?? 0) + 1);
        }
      }
      expect(accepted).toEqual([]);
      expect(notChio).toEqual([]);
      expect([...codes.keys()].every((c) => allowed.has(c))).toBe(true);
      // Flips in the signature reach the Ed25519 check; flips in the body break the id.
      expect(codes.get('SIGNATURE_INVALID')).toBeGreaterThan(0);
      expect(codes.get('RECEIPT_INVALID')).toBeGreaterThan(0);
    });
  });

  describe('when the JSON is not in canonical form', () => {
    const cases: [string, string][] = [
      ['a space after the opening brace', R1_TEXT.replace('{', '{ ')],
      ['a trailing newline', `${R1_TEXT}\n`],
      ['pretty-printed', JSON.stringify(R1, null, 2)],
      ['members in reverse order', JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(R1_TEXT) as object).reverse()))],
      ['a duplicate member (JSON.parse keeps the last)', R1_TEXT.replace('{"chain":"chain-a"', '{"chain":"chain-b","chain":"chain-a"')],
      ['a byte-order mark', `\ufeff${R1_TEXT}`],
      ['an escape that need not be one', R1_TEXT.replace('"chain-a"', '"ch\\u0061in-a"')],
      ['a non-canonical number', R1_TEXT.replace('"seq":1', '"seq":1.0')],
      ['not JSON at all', R1_TEXT.slice(0, -1)],
    ];
    it.each(cases)('rejects %s with MALFORMED', (_name, text) => {
      expect(text).not.toBe(R1_TEXT);
      expectCode(() => verifyReceiptBytes(utf8(text), TRUSTED), 'MALFORMED');
    });

    it('rejects invalid UTF-8 with MALFORMED', () => {
      const bytes = R1_BYTES.slice();
      bytes[R1_TEXT.indexOf('req-0') + 1] = 0xff;
      expectCode(() => verifyReceiptBytes(bytes, TRUSTED), 'MALFORMED');
    });
  });

  describe('when the id does not match the content', () => {
    it('throws RECEIPT_INVALID for another well-formed id', () => {
      expectCode(() => verifyReceiptBytes(edited((r) => (r.id = 'f'.repeat(64))), TRUSTED), 'RECEIPT_INVALID');
    });

    it('throws RECEIPT_INVALID when the content changes under the same id and signature', () => {
      expectCode(() => verifyReceiptBytes(edited((r) => ((r.decision as { verdict: string }).verdict = 'deny')), TRUSTED), 'RECEIPT_INVALID');
    });

    it('throws SIGNATURE_INVALID when the content changes and the id is recomputed', () => {
      const forged = signBody(bodyOf(draftOf(0, { decision: { verdict: 'deny', http_status: 403, shadow: false } }), GENESIS, KERNEL.verifierKey), KERNEL.signer);
      const bytes = canonicalBytes({ ...forged, signature: R1.signature });
      expectCode(() => verifyReceiptBytes(bytes, TRUSTED), 'SIGNATURE_INVALID');
    });
  });

  describe('when the kernel key is not trusted', () => {
    it('throws UNTRUSTED_KEY', () => {
      expectCode(() => verifyReceiptBytes(R1_BYTES, []), 'UNTRUSTED_KEY');
      expectCode(() => verifyReceiptBytes(R1_BYTES, [OTHER.verifierKey]), 'UNTRUSTED_KEY');
    });

    it('throws UNTRUSTED_KEY for a receipt that names and is signed by an untrusted key', () => {
      const r = signReceipt(draftOf(0), GENESIS, OTHER);
      expectCode(() => verifyReceiptBytes(receiptBytes(r), TRUSTED), 'UNTRUSTED_KEY');
    });
  });

  describe('when the signature is not by the named kernel key', () => {
    it('throws SIGNATURE_INVALID for a signature by another key', () => {
      const r = signBody(bodyOf(draftOf(0), GENESIS, KERNEL.verifierKey), OTHER.signer);
      expectCode(() => verifyReceiptBytes(receiptBytes(r), TRUSTED), 'SIGNATURE_INVALID');
    });

    it('throws SIGNATURE_INVALID for the kernel signature of another receipt', () => {
      const r2 = chainOf(2, KERNEL)[1]!;
      expectCode(() => verifyReceiptBytes(edited((r) => (r.signature = r2.signature)), TRUSTED), 'SIGNATURE_INVALID');
    });

    it('throws SIGNATURE_INVALID for a signature of the wrong length', () => {
      expectCode(() => verifyReceiptBytes(edited((r) => (r.signature = toBase64(new Uint8Array(63)))), TRUSTED), 'SIGNATURE_INVALID');
      expectCode(() => verifyReceiptBytes(edited((r) => (r.signature = toBase64(new Uint8Array(65)))), TRUSTED), 'SIGNATURE_INVALID');
      expectCode(() => verifyReceiptBytes(edited((r) => (r.signature = '')), TRUSTED), 'SIGNATURE_INVALID');
    });

    it('throws MALFORMED for a signature that is not base64', () => {
      expectCode(() => verifyReceiptBytes(edited((r) => (r.signature = 'not base64!')), TRUSTED), 'MALFORMED');
    });
  });

  describe('when the receipt is larger than MAX_RECEIPT_BYTES', () => {
    // A receipt whose canonical bytes are exactly `size` long, padded in request.path.
    function receiptOfSize(size: number): Uint8Array {
      const base = receiptBytes(signReceipt(draftOf(0, { request: { path: '' } }), GENESIS, KERNEL)).length;
      const r = signReceipt(draftOf(0, { request: { path: 'a'.repeat(size - base) } }), GENESIS, KERNEL);
      const bytes = receiptBytes(r);
      expect(bytes.length).toBe(size);
      return bytes;
    }

    it('accepts one of exactly MAX_RECEIPT_BYTES', () => {
      expect(verifyReceiptBytes(receiptOfSize(MAX_RECEIPT_BYTES), TRUSTED).seq).toBe(1);
    });

    it('throws RECEIPT_INVALID for one byte more, signed or not', () => {
      expectCode(() => verifyReceiptBytes(receiptOfSize(MAX_RECEIPT_BYTES + 1), TRUSTED), 'RECEIPT_INVALID');
      expectCode(() => verifyReceiptBytes(new Uint8Array(MAX_RECEIPT_BYTES + 1), TRUSTED), 'RECEIPT_INVALID');
    });
  });

  describe('when the receipt does not have the receipt shape', () => {
    const required = ['schema', 'id', 'prev', 'chain', 'seq', 'time', 'policy_hash', 'kernel_key', 'signature', 'request', 'subject', 'decision', 'evidence'];
    it.each(required)('throws RECEIPT_INVALID without %s', (field) => {
      expectCode(() => verifyReceiptBytes(edited((r) => delete r[field]), TRUSTED), 'RECEIPT_INVALID');
    });

    const wrong: [string, (r: Record<string, unknown>) => void][] = [
      ['schema v2', (r) => (r.schema = 'chio.receipt.v2')],
      ['an upper-case id', (r) => (r.id = R1.id.toUpperCase())],
      ['a 63-digit id', (r) => (r.id = R1.id.slice(1))],
      ['a prev that is not hex', (r) => (r.prev = 'x'.repeat(64))],
      ['seq 0', (r) => (r.seq = 0)],
      ['seq -1', (r) => (r.seq = -1)],
      ['seq 1.5', (r) => (r.seq = 1.5)],
      ['seq as a string', (r) => (r.seq = '1')],
      ['seq past 2^53', (r) => (r.seq = 2 ** 53)],
      ['an empty chain id', (r) => (r.chain = '')],
      ['a chain id with a dot (not a subject token)', (r) => (r.chain = 'chain.a')],
      ['a chain id with a space', (r) => (r.chain = 'chain a')],
      ['a chain id of 65 characters', (r) => (r.chain = 'c'.repeat(65))],
      ['a numeric time', (r) => (r.time = 5)],
      ['a null request', (r) => (r.request = null)],
      ['a list as subject', (r) => (r.subject = [])],
      ['a string as decision', (r) => (r.decision = 'allow')],
      ['verdict maybe', (r) => ((r.decision as Record<string, unknown>).verdict = 'maybe')],
      ['no verdict', (r) => delete (r.decision as Record<string, unknown>).verdict],
      ['evidence as an object', (r) => (r.evidence = {})],
    ];
    it.each(wrong)('throws RECEIPT_INVALID for %s', (_name, edit) => {
      expectCode(() => verifyReceiptBytes(edited(edit), TRUSTED), 'RECEIPT_INVALID');
    });

    // Signed, so that the shape check alone refuses them.
    it.each<[string, unknown]>([
      ['not hex', 'x'.repeat(64)],
      ['in upper case', R1.id.toUpperCase()],
      ['of 63 digits', R1.id.slice(1)],
      ['a number', 1],
      ['null', null],
    ])('throws RECEIPT_INVALID for a signed receipt whose corrects is %s', (_name, corrects) => {
      const body = { ...bodyOf(draftOf(1), { chain: 'chain-a', seq: 2, prev: R1.id }, KERNEL.verifierKey), corrects } as unknown as ReceiptBody;
      expectCode(() => verifyReceiptBytes(receiptBytes(signBody(body, KERNEL.signer)), TRUSTED), 'RECEIPT_INVALID');
    });

    it('accepts a signed receipt whose corrects is a receipt id', () => {
      const body = { ...bodyOf(draftOf(1), { chain: 'chain-a', seq: 2, prev: R1.id }, KERNEL.verifierKey), corrects: R1.id };
      const correction = signBody(body, KERNEL.signer);
      expect(verifyReceiptBytes(receiptBytes(correction), TRUSTED)).toEqual(correction);
    });

    it.each(['[]', '"receipt"', 'null', '1', '{}'])('throws RECEIPT_INVALID for the JSON value %s', (text) => {
      expectCode(() => verifyReceiptBytes(utf8(text), TRUSTED), 'RECEIPT_INVALID');
    });
  });
});

describe('verifyReceipt', () => {
  describe('when the receipt is signed as the publisher signs it', () => {
    it('returns without throwing', () => {
      expect(() => verifyReceipt(R1, TRUSTED)).not.toThrow();
    });
  });

  describe('when a check fails', () => {
    it('throws RECEIPT_INVALID for a wrong id', () => {
      expectCode(() => verifyReceipt({ ...R1, id: '0'.repeat(64) }, TRUSTED), 'RECEIPT_INVALID');
    });

    it('throws RECEIPT_INVALID for changed content', () => {
      expectCode(() => verifyReceipt({ ...R1, time: '2025-01-01T00:00:01.000Z' }, TRUSTED), 'RECEIPT_INVALID');
    });

    it('throws UNTRUSTED_KEY for a key not in the list', () => {
      expectCode(() => verifyReceipt(R1, [OTHER.verifierKey]), 'UNTRUSTED_KEY');
    });

    it('throws SIGNATURE_INVALID for a signature by another key', () => {
      const r = signBody(bodyOf(draftOf(0), GENESIS, KERNEL.verifierKey), OTHER.signer);
      expectCode(() => verifyReceipt(r, TRUSTED), 'SIGNATURE_INVALID');
    });

    it('throws SIGNATURE_INVALID for every single-bit flip of the signature', () => {
      const sig = Buffer.from(R1.signature, 'base64');
      for (let bit = 0; bit < sig.length * 8; bit++) {
        const flipped = Uint8Array.from(sig);
        flipped[bit >> 3] = flipped[bit >> 3]! ^ (1 << (bit & 7));
        expect(thrownCode(() => verifyReceipt({ ...R1, signature: toBase64(flipped) }, TRUSTED))).toBe('SIGNATURE_INVALID');
      }
    });
  });
});

describe('checkChainLink', () => {
  const [c1, c2, c3] = chainOf(3, KERNEL) as [Receipt, Receipt, Receipt];

  describe('when the chain has no head yet', () => {
    it('accepts seq 1 with the genesis prev', () => {
      expect(c1.prev).toBe('0'.repeat(64));
      expect(() => checkChainLink(undefined, c1)).not.toThrow();
    });

    it('throws CHAIN_BROKEN for seq 1 with another prev', () => {
      expectCode(() => checkChainLink(undefined, { ...c1, prev: c2.id }), 'CHAIN_BROKEN');
    });

    it('throws CHAIN_BROKEN for a receipt that is not seq 1', () => {
      expectCode(() => checkChainLink(undefined, c2), 'CHAIN_BROKEN');
      expectCode(() => checkChainLink(undefined, { ...c2, prev: GENESIS_PREV }), 'CHAIN_BROKEN');
    });
  });

  describe('when the chain has a head', () => {
    it('accepts the next receipt linked to the head', () => {
      expect(() => checkChainLink({ seq: 1, id: c1.id }, c2)).not.toThrow();
      expect(() => checkChainLink({ seq: 2, id: c2.id }, c3)).not.toThrow();
    });

    it('throws CHAIN_BROKEN for a gap in seq', () => {
      expectCode(() => checkChainLink({ seq: 1, id: c1.id }, { ...c3, prev: c1.id }), 'CHAIN_BROKEN');
      expectCode(() => checkChainLink({ seq: 1, id: c1.id }, c3), 'CHAIN_BROKEN');
    });

    it('throws CHAIN_BROKEN for a replayed seq', () => {
      expectCode(() => checkChainLink({ seq: 2, id: c2.id }, c2), 'CHAIN_BROKEN');
      expectCode(() => checkChainLink({ seq: 2, id: c2.id }, c1), 'CHAIN_BROKEN');
    });

    it('throws CHAIN_BROKEN for the right seq with the wrong prev', () => {
      expectCode(() => checkChainLink({ seq: 2, id: c2.id }, { ...c3, prev: c1.id }), 'CHAIN_BROKEN');
      expectCode(() => checkChainLink({ seq: 2, id: c1.id }, c3), 'CHAIN_BROKEN');
      expectCode(() => checkChainLink({ seq: 2, id: c2.id }, { ...c3, prev: GENESIS_PREV }), 'CHAIN_BROKEN');
    });
  });
});

describe('claimedSignedBody', () => {
  it('hands over what readReceiptBytes would check the signature of', () => {
    expect(claimedSignedBody(R1_BYTES, TRUSTED)).toEqual(readReceiptBytes(R1_BYTES, TRUSTED).signed);
  });

  it('claims nothing for bytes that are not a receipt, are too large, or name a key not trusted', () => {
    expect(claimedSignedBody(utf8('not json'), TRUSTED)).toBeUndefined();
    expect(claimedSignedBody(utf8('{"schema":"chio.receipt.v1"}'), TRUSTED)).toBeUndefined();
    expect(claimedSignedBody(new Uint8Array(MAX_RECEIPT_BYTES + 1), TRUSTED)).toBeUndefined();
    expect(claimedSignedBody(R1_BYTES, [OTHER.verifierKey])).toBeUndefined();
  });
});
