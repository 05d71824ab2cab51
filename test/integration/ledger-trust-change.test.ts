/**
 * The tree stays a function of the stream when the kernel trust set changes between a batch's
 * writes and its commit (kernels.yaml is re-read while the ledger runs, and a standby may read
 * it later than the writer did). Over a real nats-server: a batch is written (index entries,
 * chain heads, tiles) and the ledger dies at its commit; the ledger then opens again trusting
 * one key less. The same messages now give other leaves, and the log must be what integrating
 * them from scratch under the trust in force gives: before, the uncommitted batch's chain heads
 * made valid receipts fail their link (quarantined for good), and a head of a receipt that was
 * never a leaf let the chain's next receipt in with a `prev` the log does not hold.
 */
import { describe, expect, it } from 'vitest';
import type { KV } from '@nats-io/kv';
import { useTestStore } from '../unit/store/nats.js';
import { QUARANTINE_STREAM, receiptSubject } from '../../src/store/resources.js';
import { Integrator } from '../../src/ledger/integrator.js';
import { LedgerLease } from '../../src/store/ledger-lease.js';
import { readChainHeadRecord } from '../../src/store/chain-heads.js';
import { readIndexRecord } from '../../src/store/receipt-index.js';
import type { StoredMessage } from '../../src/store/receipts.js';
import { TileStore } from '../../src/store/tile-store.js';
import { createLogger } from '../../src/log.js';
import { canonicalBytes } from '../../src/receipt/jcs.js';
import { GENESIS_PREV } from '../../src/receipt/receipt.js';
import { MemoryHashStore, newEd25519SignerKey, treeHash } from '../../src/tlog/index.js';
import { Checkpointer } from '../../src/ledger/checkpointer.js';
import { startHttpServer } from '../../src/http.js';
import { verifierRoutes } from '../../src/verifier/api.js';
import { toHex } from '../../src/encoding.js';
import { chainOf, draftOf, kernelOf, signReceipt } from '../unit/receipt/helpers.js';

const store = useTestStore();

/** The lease bucket, whose next put fails once `crash.armed`: the ledger dies at its commit. */
function crashingAtCommit(kv: KV, crash: { armed: boolean }): KV {
  return new Proxy(kv, {
    get(target, prop, receiver) {
      if (prop === 'put') {
        return async (...args: Parameters<KV['put']>) => {
          if (crash.armed) {
            crash.armed = false;
            throw new Error('injected crash at the commit');
          }
          return target.put(...args);
        };
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe('a trust change between a batch that did not commit and its integration again', () => {
  it('gives the leaves integrating from scratch under the new trust gives, and no head of a receipt that is no leaf', async () => {
    const log = createLogger('silent');
    const { js, jsm, resources } = store;
    const [kA, kB] = [kernelOf(21), kernelOf(22, 'chio-kernel-b')];
    const a = chainOf(9, kA, 'a');
    const b1 = signReceipt(draftOf(100), { chain: 'b', seq: 1, prev: GENESIS_PREV }, kB);
    const b2 = signReceipt(draftOf(101), { chain: 'b', seq: 2, prev: b1.id }, kB);
    // The stream: a1 a2 a3 | b1 a4 a5 | a6 a7 a8 a9 | b2
    const messages: StoredMessage[] = [];
    for (const r of [...a.slice(0, 3), b1, ...a.slice(3), b2]) {
      const data = canonicalBytes(r);
      messages.push({ seq: (await js.publish(receiptSubject(r.chain), data)).seq, data });
    }
    const crash = { armed: false };
    let lease: LedgerLease | undefined;
    const open = async (kernelKeys: string[]) => {
      await lease?.release().catch(() => undefined);
      lease = new LedgerLease(crashingAtCommit(resources.ledger, crash), { holder: 'trust-change' });
      expect(await lease.tryAcquire()).toBe('free');
      const integrator = new Integrator({ js, jsm, index: resources.index, chains: resources.chains, lease, tiles: new TileStore(resources.tiles, resources.entries), kernelKeys, log, breakConfirmMs: 0 });
      await integrator.open();
      return integrator;
    };
    const quarantined = async () => (await jsm.streams.info(QUARANTINE_STREAM)).state.messages;

    // Trust {A, B}: a1..a3 are leaves. b1 a4 a5 are written, and the ledger dies at the commit.
    let integrator = await open([kA.verifierKey, kB.verifierKey]);
    expect(await integrator.integrate(messages.slice(0, 3))).toBe(3);
    crash.armed = true;
    await expect(integrator.integrate(messages.slice(3, 6))).rejects.toThrow(/injected crash/);
    expect((await readChainHeadRecord(resources.chains, 'b')).head?.id).toBe(b1.id);

    // Open again trusting A alone (B removed from kernels.yaml): b1 is refused, a4 a5 are leaves.
    integrator = await open([kA.verifierKey]);
    expect(integrator.size).toBe(3);
    const before = await quarantined();
    expect(await integrator.integrate(messages.slice(3, 6))).toBe(5);
    expect(await quarantined()).toBe(before + 1);
    expect(await readChainHeadRecord(resources.chains, 'a')).toMatchObject({ head: { id: a[4]!.id, index: 4 }, base: 2 });
    // b's head is still the dead batch's (nothing moves a head but a batch); it is read as none.
    expect(await readChainHeadRecord(resources.chains, 'b')).toMatchObject({ head: { id: b1.id, index: 3 }, base: null });
    expect(await integrator.integrate(messages.slice(6, 10))).toBe(9);
    const fromScratch = new MemoryHashStore();
    for (const r of a) fromScratch.append(canonicalBytes(r));
    expect(toHex(integrator.root)).toBe(toHex(await treeHash(9, fromScratch.readHashes)));

    // The verifier proves a4 at its new place, and b1, whose index entry the dead batch wrote
    // (leaf 3, which is a4's now), is not in the log: 404, not a damaged-store 500.
    const logKey = newEd25519SignerKey('chio.local/trust-change', new Uint8Array(32).fill(5));
    const checkpointer = new Checkpointer({ js, jsm, tiles: new TileStore(resources.tiles, resources.entries), origin: 'chio.local/trust-change', logSignerKey: logKey.signerKey, log });
    await checkpointer.open();
    await checkpointer.publish(integrator.size, integrator.root);
    const server = await startHttpServer({ bind: '127.0.0.1', port: 0, log, ready: () => undefined, routes: verifierRoutes({ js, jsm, resources, logKey: logKey.verifierKey, kernelKeys: [kA.verifierKey] }) });
    try {
      const proof = await fetch(`http://127.0.0.1:${server.port}/v1/receipts/${a[3]!.id}`);
      expect(proof.status).toBe(200);
      expect(((await proof.json()) as { index: number }).index).toBe(3);
      const refused = await fetch(`http://127.0.0.1:${server.port}/v1/receipts/${b1.id}`);
      expect([refused.status, await refused.json()]).toEqual([404, { error: 'no receipt with this id is in the log', code: 'NOT_FOUND' }]);
    } finally {
      await server.stop();
    }

    // B trusted again: b2 names b1, which the log does not hold. It is refused, not a leaf.
    integrator = await open([kA.verifierKey, kB.verifierKey]);
    expect(await integrator.integrate(messages.slice(10))).toBe(9);
    expect(await quarantined()).toBe(before + 2);
    const last = await jsm.streams.getMessage(QUARANTINE_STREAM, { last_by_subj: 'chio.quarantine.b' });
    expect(last?.header.get('Chio-Reason-Code')).toBe('CHAIN_BROKEN');

    // b1 stored again, B trusted: it is no leaf, so it extends chain b (read as headless) and
    // becomes one. Its index entry, the dead batch's, names leaf 3 (a4's): stale, so it is
    // replaced, where it stopped the ledger as another's write (LEDGER_FENCED) on every retry.
    const again = canonicalBytes(b1);
    const seq = (await js.publish(receiptSubject('b'), again)).seq;
    expect(await integrator.integrate([{ seq, data: again }])).toBe(10);
    expect(await readIndexRecord(resources.index, b1.id)).toMatchObject({ entry: { index: 9, seq } });
  }, 60_000);
});
