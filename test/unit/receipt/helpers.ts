/**
 * Receipts for unit tests, signed by the code the publisher signs with (src/receipt/sign.ts,
 * SPEC §5) and a node:crypto kernel key, so that a broken signer breaks these tests too.
 */
import { GENESIS_PREV, RECEIPT_SCHEMA, type Receipt, type ReceiptBody, type ReceiptDraft } from '../../../src/receipt/receipt.js';
import { prepareBody, sealReceipts, signReceipt as signReceiptBody, type PreparedBody } from '../../../src/receipt/sign.js';
import { createNodeSigner, type Ed25519Signer } from '../../../src/crypto/ed25519.js';
import { newEd25519SignerKey } from '../../../src/tlog/index.js';

/** A kernel signing key: the node:crypto signer and its C2SP verifier key. */
export interface Kernel {
  seed: Uint8Array;
  signer: Ed25519Signer;
  verifierKey: string;
}

/** A kernel whose 32-byte seed is `byte` repeated, so every run signs the same bytes. */
export function kernelOf(byte: number, name = 'chio-kernel'): Kernel {
  const seed = new Uint8Array(32).fill(byte);
  return { seed, signer: createNodeSigner(seed), verifierKey: newEd25519SignerKey(name, seed).verifierKey };
}

/** A decided request, as the pipeline hands it to the publisher. */
export function draftOf(i: number, overrides: Partial<ReceiptDraft> = {}): ReceiptDraft {
  return {
    time: `2025-01-01T00:00:${String(i % 60).padStart(2, '0')}.000Z`,
    request: { id: `req-${i}`, method: 'POST', host: 'api.example', path: `/tools/t${i}`, protocol: 'HTTP/1.1', source_principal: 'cluster.local/ns/default/sa/agent', source_address: '10.0.0.1:5000' },
    subject: { capability_id: `cap-${i}`, subject: 'agent-1', credential_sha256: 'ab'.repeat(32) },
    decision: { verdict: 'allow', http_status: 200, shadow: false },
    evidence: [{ guard: 'Request', verdict: 'allow' }, { guard: 'Capability', verdict: 'allow', details: { grant: 0 } }],
    policy_hash: `sha256:${'cd'.repeat(32)}`,
    ...overrides,
  };
}

export interface ChainPosition {
  chain: string;
  seq: number;
  prev: string;
}

/** The body the publisher builds from a draft at `at` on a chain. */
export function bodyOf(draft: ReceiptDraft, at: ChainPosition, kernelKey: string): ReceiptBody {
  return { ...draft, schema: RECEIPT_SCHEMA, chain: at.chain, seq: at.seq, prev: at.prev, kernel_key: kernelKey };
}

/** Id and signature over `body`; `kernelKey` in the body may name a key other than `signer`. */
export function signBody(body: ReceiptBody, signer: Ed25519Signer): Receipt {
  return signReceiptBody(body, signer);
}

/** Sign `draft` at `at` with `kernel`, as ReceiptPublisher does. */
export function signReceipt(draft: ReceiptDraft, at: ChainPosition, kernel: Kernel): Receipt {
  return signBody(bodyOf(draft, at, kernel.verifierKey), kernel.signer);
}

/** Receipts 1 … n of one chain, each linked to the one before. */
export function chainOf(n: number, kernel: Kernel, chain = 'chain-a'): Receipt[] {
  const out: Receipt[] = [];
  for (let i = 0; i < n; i++) {
    const prev = out[i - 1]?.id ?? GENESIS_PREV;
    out.push(signReceipt(draftOf(i), { chain, seq: i + 1, prev }, kernel));
  }
  return out;
}

/** Bodies 1 … n of one chain, serialised with their ids as the publisher prepares a message. Drafts from `from`. */
export function preparedBatchOf(n: number, kernel: Kernel, chain = 'chain-b', from = 0): PreparedBody[] {
  const prepared: PreparedBody[] = [];
  let prev = GENESIS_PREV;
  for (let i = 0; i < n; i++) {
    const p = prepareBody(bodyOf(draftOf(from + i), { chain, seq: i + 1, prev }, kernel.verifierKey));
    prepared.push(p);
    prev = p.id;
  }
  return prepared;
}

/**
 * Receipts 1 … n of one chain stored in one message, as the publisher seals them: one batch
 * signature for all (one receipt: the plain form), with their stored bytes. Drafts from `from`.
 */
export function sealedBatchOf(n: number, kernel: Kernel, chain = 'chain-b', from = 0): Array<{ receipt: Receipt; bytes: Uint8Array }> {
  return sealReceipts(preparedBatchOf(n, kernel, chain, from), kernel.signer);
}

export { expectCode, thrownCode } from '../../support/errors.js';

export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
export const fromUtf8 = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

export function hex(text: string): Uint8Array {
  return Uint8Array.from(text.match(/../g) ?? [], (b) => parseInt(b, 16));
}
