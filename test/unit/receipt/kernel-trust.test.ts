/**
 * Kernel key validity windows (src/receipt/kernel-trust.ts): a receipt is trusted when its
 * kernel_key is in the set and its own `time` is inside that key's window, both ends
 * inclusive, to the nanosecond. A plain list of keys keeps working everywhere.
 */
import { describe, expect, it } from 'vitest';
import { GENESIS_PREV, receiptBytes } from '../../../src/receipt/receipt.js';
import { verifyReceiptBytes } from '../../../src/receipt/verify.js';
import { KernelTrustSet, MAX_TRUSTED_KERNEL_KEYS, checkKernelKey, kernelKeyEntries, kernelKeyList, rfc3339Nanos } from '../../../src/receipt/kernel-trust.js';
import { draftOf, expectCode, kernelOf, signReceipt } from './helpers.js';
import { newEd25519VerifierKey } from '../../../src/tlog/index.js';
import { SMALL_ORDER_POINTS } from '../../support/small-order-keys.js';

const OLD = kernelOf(21);
const NEW = kernelOf(22);
const NOT_AFTER = '2025-06-01T12:00:00Z';
const NOT_BEFORE = '2025-06-01T11:00:00Z';
const ROTATED = new KernelTrustSet([{ key: NEW.verifierKey, not_before: NOT_BEFORE }, { key: OLD.verifierKey, not_after: NOT_AFTER }]);

const signedAt = (time: string, kernel = OLD) => receiptBytes(signReceipt(draftOf(1, { time }), { chain: 'c', seq: 1, prev: GENESIS_PREV }, kernel));

describe('KernelTrustSet.check', () => {
  it.each([
    ['a second before not_after', '2025-06-01T11:59:59Z'],
    ['exactly not_after (inclusive)', '2025-06-01T12:00:00Z'],
    ['exactly not_after, with a zero fraction', '2025-06-01T12:00:00.000000000Z'],
    ['exactly not_after, in another offset', '2025-06-01T14:00:00+02:00'],
    ['long before the rotation', '2020-01-01T00:00:00.123Z'],
  ])('trusts the retired key for a receipt %s', (_what, time) => {
    expect(() => ROTATED.check(OLD.verifierKey, time)).not.toThrow();
  });

  it.each([
    ['a millisecond after not_after', '2025-06-01T12:00:00.001Z'],
    ['a nanosecond after not_after (Date.parse would round it away)', '2025-06-01T12:00:00.000000001Z'],
    ['after not_after in another offset', '2025-06-01T07:00:01-05:00'],
    ['a day after', '2025-06-02T00:00:00Z'],
  ])('refuses the retired key for a receipt %s', (_what, time) => {
    expectCode(() => ROTATED.check(OLD.verifierKey, time), 'UNTRUSTED_KEY');
  });

  it('trusts the new key from not_before on, inclusive, and not a nanosecond earlier', () => {
    expect(() => ROTATED.check(NEW.verifierKey, NOT_BEFORE)).not.toThrow();
    expect(() => ROTATED.check(NEW.verifierKey, '2030-01-01T00:00:00Z')).not.toThrow();
    expectCode(() => ROTATED.check(NEW.verifierKey, '2025-06-01T10:59:59.999999999Z'), 'UNTRUSTED_KEY');
  });

  it('refuses a windowed key when the receipt time is not an RFC 3339 time, but not a key without a window', () => {
    for (const time of ['yesterday', '2025-06-01 12:00:00Z', '2025-06-01T12:00:00', '2025-02-30T00:00:00Z', '2025-06-01T24:00:00Z', '']) {
      expectCode(() => ROTATED.check(OLD.verifierKey, time), 'UNTRUSTED_KEY');
    }
    expect(() => new KernelTrustSet([{ key: OLD.verifierKey }]).check(OLD.verifierKey, 'yesterday')).not.toThrow();
  });

  it('refuses a key not in the set', () => {
    expectCode(() => ROTATED.check(kernelOf(23).verifierKey, '2025-06-01T11:30:00Z'), 'UNTRUSTED_KEY');
  });
});

describe('new KernelTrustSet', () => {
  it.each([
    ['a key that is not a verifier key', [{ key: 'chio-kernel+00000000+AAAA' }], 'KEY_INVALID', /entry 1: not a C2SP verifier key/],
    ['a key twice', [{ key: OLD.verifierKey }, { key: OLD.verifierKey, not_after: NOT_AFTER }], 'MALFORMED', /entry 2: .* is listed twice/],
    ['a not_after that is no time', [{ key: OLD.verifierKey, not_after: 'next week' }], 'MALFORMED', /entry 1: not_after "next week" is not an RFC 3339 time/],
    ['a not_before after its not_after', [{ key: OLD.verifierKey, not_before: NOT_AFTER, not_after: NOT_BEFORE }], 'MALFORMED', /entry 1: not_before .* is after not_after/],
    // The ledger's threads check with node:crypto, which takes R = the identity, S = 0 under it.
    ['a key no one holds (the identity point)', [{ key: OLD.verifierKey }, { key: newEd25519VerifierKey('chio-kernel', SMALL_ORDER_POINTS[0]!) }], 'KEY_INVALID', /entry 2: not a key anyone holds the secret of/],
    ['too many keys', Array.from({ length: MAX_TRUSTED_KERNEL_KEYS + 1 }, (_, i) => ({ key: kernelOf(100 + i).verifierKey })), 'MALFORMED', /more than 32 kernel keys/],
  ])('refuses %s, naming the entry', (_what, entries, code, message) => {
    expectCode(() => new KernelTrustSet(entries), code as 'MALFORMED');
    expect(() => new KernelTrustSet(entries)).toThrow(message);
  });

  it('keeps a copy of its entries: the caller changing the array later changes nothing', () => {
    const entries = [{ key: OLD.verifierKey, not_after: NOT_AFTER }];
    const set = new KernelTrustSet(entries);
    entries[0]!.not_after = '2099-01-01T00:00:00Z';
    expect(set.entries).toEqual([{ key: OLD.verifierKey, not_after: NOT_AFTER }]);
    expectCode(() => set.check(OLD.verifierKey, '2026-01-01T00:00:00Z'), 'UNTRUSTED_KEY');
  });
});

describe('verifyReceiptBytes with a trust set', () => {
  it('takes a receipt of the retired key signed up to its not_after, and quarantines one signed after', () => {
    expect(verifyReceiptBytes(signedAt('2025-06-01T11:59:59.999Z'), ROTATED).kernel_key).toBe(OLD.verifierKey);
    expectCode(() => verifyReceiptBytes(signedAt('2025-06-01T12:00:00.001Z'), ROTATED), 'UNTRUSTED_KEY');
  });

  it('still takes a plain list, at any time', () => {
    expect(verifyReceiptBytes(signedAt('2099-01-01T00:00:00Z'), [OLD.verifierKey]).kernel_key).toBe(OLD.verifierKey);
    expectCode(() => verifyReceiptBytes(signedAt(NOT_BEFORE, NEW), [OLD.verifierKey]), 'UNTRUSTED_KEY');
  });
});

describe('lists and sets alike', () => {
  it('checkKernelKey, kernelKeyList and kernelKeyEntries read either', () => {
    expectCode(() => checkKernelKey([NEW.verifierKey], OLD.verifierKey, NOT_AFTER), 'UNTRUSTED_KEY');
    expect(kernelKeyList(ROTATED)).toEqual([NEW.verifierKey, OLD.verifierKey]);
    expect(kernelKeyEntries([OLD.verifierKey])).toEqual([{ key: OLD.verifierKey }]);
  });
});

describe('rfc3339Nanos', () => {
  it('reads fractions to the nanosecond and offsets', () => {
    expect(rfc3339Nanos('1970-01-01T00:00:00.000000001Z')).toBe(1n);
    expect(rfc3339Nanos('1970-01-01T01:00:00+01:00')).toBe(0n);
    expect(rfc3339Nanos('2025-06-01t12:00:00z')).toBe(BigInt(Date.parse(NOT_AFTER)) * 1_000_000n);
  });

  it.each(['2025-06-01', '2025-06-01T12:00Z', '2025-13-01T00:00:00Z', '2025-06-01T12:00:60Z', '2025-06-01T12:00:00.1234567890Z', '2025-06-01T12:00:00+24:00', ' 2025-06-01T12:00:00Z'])('refuses %s', (text) => {
    expect(rfc3339Nanos(text)).toBeUndefined();
  });
});
