/** A ReceiptPublisher on the fake JetStream, and the chain it stored, for the chain tests. */
import { pino } from 'pino';
import { ReceiptPublisher, type PublisherOptions } from '../../../src/chain/publisher.js';
import { storedReceiptVerifier } from '../../../src/chain/chain-head.js';
import type { Receipt, ReceiptDraft } from '../../../src/receipt/receipt.js';
import { checkChainLink, verifyReceiptBytes } from '../../../src/receipt/verify.js';
import { receiptSubject } from '../../../src/store/resources.js';
import { splitReceiptMessage } from '../../../src/store/receipt-message.js';
import { kernelOf } from '../receipt/helpers.js';
import type { FakeJetStream } from './fake-jetstream.js';

export const KERNEL = kernelOf(7);
export const CHAIN = 'chain-p';
export const SUBJECT = receiptSubject(CHAIN);
export const soon = (ms = 1000) => Date.now() + ms;

export function publisherOn(fake: FakeJetStream, overrides: Partial<PublisherOptions> = {}): ReceiptPublisher {
  return new ReceiptPublisher({
    js: fake.js, jsm: fake.jsm, chain: CHAIN, signer: KERNEL.signer, kernelKey: KERNEL.verifierKey, log: pino({ level: 'silent' }), verifyStored: storedReceiptVerifier([KERNEL.verifierKey]),
    // Read at call time, so that a fake clock installed later is the one the publisher sees.
    now: () => Date.now(), ...overrides,
  });
}

/** Store `draft` and wait for the outcome, as a caller that never abandons. */
export const storeOf = (publisher: ReceiptPublisher, draft: ReceiptDraft, deadline = soon()): Promise<Receipt> => publisher.store(draft, deadline).stored;

/**
 * Every receipt stored under the chain's subject, each verified on its own with the kernel key
 * and linked to the one before: seq 1, 2, 3 … with no seq reused and prev naming a stored one.
 */
export function storedChain(fake: FakeJetStream, subject = SUBJECT): Receipt[] {
  const receipts = storedMessages(fake, subject).flat();
  receipts.forEach((r, i) => checkChainLink(i === 0 ? undefined : receipts[i - 1], r));
  return receipts;
}

/** The receipts of each message stored under the chain's subject, each verified on its own. */
export function storedMessages(fake: FakeJetStream, subject = SUBJECT): Receipt[][] {
  return fake.on(subject).map((m) => splitReceiptMessage(m.data).map((bytes) => verifyReceiptBytes(bytes, [KERNEL.verifierKey])));
}
