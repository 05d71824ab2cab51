/**
 * The ledger's signature checks over worker threads answer exactly as the one-thread check
 * does, in order, for batches of every size; a failed thread fails its batch, never a "valid".
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createNodeSignatureCheck, createNodeSigner } from '../../../src/crypto/ed25519.js';
import { SignatureCheckPool, type SignatureToCheck } from '../../../src/crypto/ed25519-pool.js';
import { KEYS_NO_ONE_HOLDS, identityForgery } from '../../support/small-order-keys.js';

const signers = [1, 2, 3].map((k) => createNodeSigner(new Uint8Array(32).fill(k)));
const one = createNodeSignatureCheck();

/** n checks from three keys: every 3rd signature forged, every 5th under another key, every 7th over another message. */
function batchOf(n: number): SignatureToCheck[] {
  return Array.from({ length: n }, (_, i) => {
    const signer = signers[i % 3]!;
    const message = new TextEncoder().encode(`receipt body ${i} ${'x'.repeat(i % 40)}`);
    const signature = signer.sign(i % 7 === 0 ? new TextEncoder().encode('another') : message);
    if (i % 3 === 0) signature[i % 64]! ^= 0x10;
    return { signature, message, publicKey: i % 5 === 0 ? signers[(i + 1) % 3]!.publicKey : signer.publicKey };
  });
}

const pools: SignatureCheckPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

describe('SignatureCheckPool', () => {
  for (const threads of [1, 2]) {
    it(`with ${threads} thread(s), answers each check of a batch as the one-thread check does, in order`, async () => {
      const pool = new SignatureCheckPool(threads);
      pools.push(pool);
      for (const n of [0, 1, 63, 64, 65, 500, 1024]) {
        const batch = batchOf(n);
        const expected = batch.map((s) => one(s.signature, s.message, s.publicKey));
        expect(expected.filter(Boolean).length).toBeGreaterThanOrEqual(Math.floor(n / 3));
        expect(await pool.check(batch)).toEqual(expected);
      }
    });
  }

  it('checks concurrent batches without mixing their answers', async () => {
    const pool = new SignatureCheckPool(2);
    pools.push(pool);
    const batches = [batchOf(200), batchOf(300).reverse(), batchOf(128)];
    const answers = await Promise.all(batches.map((b) => pool.check(b)));
    answers.forEach((a, k) => expect(a).toEqual(batches[k]!.map((s) => one(s.signature, s.message, s.publicKey))));
  });

  it('asks its pause hook between the checks it makes on the calling thread', async () => {
    let asked = 0;
    const pool = new SignatureCheckPool(1, () => (asked++, undefined));
    pools.push(pool);
    await pool.check(batchOf(200));
    expect(asked).toBe(100);
  });

  it('checks here what a thread that dies was checking, and uses a new thread for the next batch', async () => {
    let crash = false;
    // Test-only reach into the pool: its first pause ends the thread, as a crash would, while it checks its share.
    const pool: SignatureCheckPool = new SignatureCheckPool(1, () => {
      if (!crash) return undefined;
      crash = false;
      return (pool as unknown as { workers: Array<{ terminate(): Promise<number> }> }).workers[0]!.terminate().then(() => undefined);
    });
    pools.push(pool);
    const batch = batchOf(2000);
    const expected = batch.map((s) => one(s.signature, s.message, s.publicKey));
    expect(await pool.check(batch)).toEqual(expected);
    crash = true;
    expect(await pool.check(batch)).toEqual(expected);
    expect(crash).toBe(false);
    expect(await pool.check(batch)).toEqual(expected);
  });

  it('answers false for a signature that is not 64 bytes, wherever it is checked', async () => {
    const pool = new SignatureCheckPool(1);
    pools.push(pool);
    const batch = batchOf(300).map((s, i) => (i % 10 === 1 ? { ...s, signature: s.signature.subarray(0, i % 64) } : s));
    const expected = batch.map((s) => s.signature.length === 64 && one(s.signature, s.message, s.publicKey));
    expect(expected.filter(Boolean).length).toBeGreaterThan(100);
    expect(await pool.check(batch)).toEqual(expected);
    pool.checkAhead(batch);
    expect(await pool.check(batch)).toEqual(expected);
  });

  it('answers false on every thread for a signature under a key no one holds, as the one-thread check does', async () => {
    // A batch this large is shared with the threads; under these keys node:crypto alone takes
    // R = the identity, S = 0 for every message.
    const pool = new SignatureCheckPool(2);
    pools.push(pool);
    const batch = Array.from({ length: 3 * 64 }, (_, i) => ({ signature: identityForgery(), message: new TextEncoder().encode(`forged ${i}`), publicKey: KEYS_NO_ONE_HOLDS[i % KEYS_NO_ONE_HOLDS.length]! }));
    expect(batch.map((s) => one(s.signature, s.message, s.publicKey))).not.toContain(true);
    expect(await pool.check(batch)).not.toContain(true);
    pool.checkAhead(batch);
    expect(await pool.check(batch)).not.toContain(true);
  });

  it('refuses a thread count that is not a positive integer, and work once closed', async () => {
    expect(() => new SignatureCheckPool(0)).toThrow(/positive integer/);
    const pool = new SignatureCheckPool(1);
    await pool.close();
    await expect(pool.check(batchOf(100))).rejects.toThrow(/closed/);
  });
});

describe('SignatureCheckPool.checkAhead', () => {
  it('answers a later check() from the work it started, the same as checking then', async () => {
    const pool = new SignatureCheckPool(1);
    pools.push(pool);
    // Each over its own message (Ed25519 is deterministic: the same message and key, the same signature).
    const batch = batchOf(500).filter((_, i) => i % 7 !== 0);
    const signatures = batch.length;
    pool.checkAhead(batch);
    expect(await pool.check(batch)).toEqual(batch.map((s) => one(s.signature, s.message, s.publicKey)));
    expect(pool.answeredAhead).toBe(signatures);
    // Taken once: the same batch again is checked anew.
    expect(await pool.check(batch)).toEqual(batch.map((s) => one(s.signature, s.message, s.publicKey)));
    expect(pool.answeredAhead).toBe(signatures);
  });

  it('never lends an answer to another message or key under the same signature', async () => {
    const pool = new SignatureCheckPool(1);
    pools.push(pool);
    const signer = signers[0]!;
    const message = new TextEncoder().encode('the genuine receipt body');
    const genuine = { signature: signer.sign(message), message, publicKey: signer.publicKey };
    const otherMessage = { ...genuine, message: new TextEncoder().encode('a forged receipt body') };
    const otherKey = { ...genuine, publicKey: signers[1]!.publicKey };
    // A valid answer made ahead is not used for a forgery that copies its signature …
    pool.checkAhead([genuine]);
    expect(await pool.check([otherMessage])).toEqual([false]);
    pool.checkAhead([genuine]);
    expect(await pool.check([otherKey])).toEqual([false]);
    // … and a forgery checked ahead does not spoil the genuine receipt.
    pool.checkAhead([otherMessage, otherKey].slice(0, 1));
    expect(await pool.check([genuine])).toEqual([true]);
    expect(pool.answeredAhead).toBe(0);
  });

  it('checks here what a dead thread was checking ahead', async () => {
    const pool = new SignatureCheckPool(1);
    pools.push(pool);
    const batch = batchOf(300);
    pool.checkAhead(batch);
    await (pool as unknown as { workers: Array<{ terminate(): Promise<number> }> }).workers[0]!.terminate();
    expect(await pool.check(batch)).toEqual(batch.map((s) => one(s.signature, s.message, s.publicKey)));
  });
});
