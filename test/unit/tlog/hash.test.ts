import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../../src/encoding.js';
import { emptyHash, isHash, leafHash, nodeHash } from '../../../src/tlog/index.js';
import { bytesEqual } from '../../../src/encoding.js';

describe('leafHash', () => {
  describe('when hashing the RFC 6962 test leaves', () => {
    it('prefixes 0x00 (the empty leaf is the root of the size-1 tree of transparency-dev)', () => {
      expect(toHex(leafHash(new Uint8Array(0)))).toBe('6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d');
      // SHA-256(0x00 ‖ 0x00), the size-2 root's right half in transparency-dev's vectors.
      expect(toHex(leafHash(fromHex('00')))).toBe('96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7');
    });
  });
});

describe('nodeHash', () => {
  describe('when combining the first two test leaves', () => {
    it('gives the RFC 6962 root of the size-2 tree', () => {
      const root = nodeHash(leafHash(new Uint8Array(0)), leafHash(fromHex('00')));
      expect(toHex(root)).toBe('fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125');
    });
  });

  describe('when given a hash of the wrong size', () => {
    it('fails an internal assertion', () => {
      expect(() => nodeHash(new Uint8Array(31), new Uint8Array(32))).toThrow(/invariant/);
    });
  });
});

describe('emptyHash', () => {
  describe('when called', () => {
    it('is SHA-256 of the empty string, and a fresh copy each time', () => {
      const a = emptyHash();
      expect(toHex(a)).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
      a[0] = 0;
      expect(toHex(emptyHash()).slice(0, 2)).toBe('e3');
    });
  });
});

describe('isHash / bytesEqual', () => {
  describe('when given hashes and non-hashes', () => {
    it('accepts exactly 32-byte arrays and compares bytes', () => {
      expect(isHash(new Uint8Array(32))).toBe(true);
      expect(isHash(new Uint8Array(33))).toBe(false);
      expect(isHash('x'.repeat(32))).toBe(false);
      expect(bytesEqual(emptyHash(), emptyHash())).toBe(true);
      expect(bytesEqual(emptyHash(), leafHash(new Uint8Array(0)))).toBe(false);
    });
  });
});
