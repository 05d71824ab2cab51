/**
 * A Ledger on a test store (test/unit/store/nats.ts) and the receipts stream under it: for the
 * suites that delete, remake and refill that stream under a ledger.
 */
import type { Logger } from 'pino';
import type { StoreContext } from '../unit/store/nats.js';
import { RECEIPTS_STREAM, ensureStreams, receiptSubject } from '../../src/store/resources.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { createLogger } from '../../src/log.js';
import { canonicalBytes } from '../../src/receipt/jcs.js';
import { newEd25519SignerKey } from '../../src/tlog/index.js';
import type { Receipt } from '../../src/receipt/receipt.js';
import type { Kernel } from '../unit/receipt/helpers.js';

/** A function that makes a new Ledger of log `origin`, trusting `kernel`, on `store`. */
export function ledgerMaker(store: StoreContext, kernel: Kernel, origin: string, logSeed: number): (log?: Logger) => Ledger {
  const logKey = newEd25519SignerKey(origin, new Uint8Array(32).fill(logSeed));
  return (log = createLogger('silent')) =>
    new Ledger({ nc: store.nc, resources: store.resources, kernelKeys: [kernel.verifierKey], origin, logSignerKey: logKey.signerKey, log, checkpointIntervalMs: 100 });
}

/** Wait until `ok()`, looking every 50 ms; throws naming `what` after `ms`. */
export async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  for (const deadline = Date.now() + ms; !ok(); ) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Store each receipt as a message of its own, as a chain writer of one receipt per message does. */
export async function publishReceipts(store: StoreContext, receipts: readonly Receipt[]): Promise<void> {
  for (const r of receipts) await store.js.publish(receiptSubject(r.chain), canonicalBytes(r), { msgID: r.id });
}

/** Delete the receipts stream and make it again, empty, as a service starting would. */
export async function remakeReceiptsStream(store: StoreContext): Promise<void> {
  await store.jsm.streams.delete(RECEIPTS_STREAM);
  await ensureStreams(store.nc);
}
