/**
 * A hostile receipts stream (issue #12, SPEC §6): anyone who can publish to `chio.receipts.>`
 * can put any bytes there. Receipts with bad signatures, bad ids, broken chains, forks,
 * non-JSON, oversized bytes, an untrusted key, empty messages and a group-commit message with
 * a bad line among good ones, one of 128 lines of junk and one of more lines than a writer
 * stores are published straight into the stream, next to live traffic over gRPC. Every bad one
 * is quarantined with its reason and is no leaf, in one quarantine message per receipts-stream
 * message whatever its refused lines (each named with its code and reason), so junk costs the
 * ledger one write per message its writer stored; every good one is a leaf; the ledger keeps
 * integrating, and a Check answered after the flood is proven.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { startTestNats, tempDir, type TestNats } from '../support/nats.js';
import { startTestChio, testConfig, type TestChio } from '../support/chio.js';
import { buildCheckRequest } from '../../src/cli/envoy-request.js';
import { sendCheck } from '../../src/cli/check.js';
import { proveReceipt } from '../../src/cli/prove.js';
import { demoToken } from '../../src/up.js';
import { loadKey } from '../../src/keys.js';
import { canonicalBytes } from '../../src/receipt/jcs.js';
import { GENESIS_PREV, MAX_RECEIPT_BYTES, type Receipt } from '../../src/receipt/receipt.js';
import { QUARANTINE_STREAM, RECEIPTS_STREAM, ensureResources, receiptSubject, type ChioResources } from '../../src/store/resources.js';
import { MAX_RECEIPTS_PER_MESSAGE, joinReceiptMessage } from '../../src/store/receipt-message.js';
import { readIndexEntry } from '../../src/store/receipt-index.js';
import { readLedgerState } from '../../src/store/ledger-state.js';
import { draftOf, kernelOf, signBody, bodyOf, type Kernel } from '../unit/receipt/helpers.js';

let nats: TestNats;
let chio: TestChio;
let dataDir: string;
let js: JetStreamClient;
let jsm: JetStreamManager;
let resources: ChioResources;

const utf8 = (s: string) => new TextEncoder().encode(s);
const keyFile = (name: string) => readFileSync(join(dataDir, 'keys', name), 'utf8').trim();

/** A receipt on `chain` at `seq` after `prev`, signed by `kernel`. */
function receiptOn(kernel: Kernel, chain: string, seq: number, prev: string, i = seq): Receipt {
  return signBody(bodyOf(draftOf(i), { chain, seq, prev }, kernel.verifierKey), kernel.signer);
}

async function publish(chain: string, data: Uint8Array): Promise<number> {
  return (await js.publish(receiptSubject(chain), data)).seq;
}

interface Quarantined {
  code: string;
  reason: string;
  streamSeq: number;
  line: number;
  /** Chio-Refused-Line: each refused line's number and code, when more than one line is refused. */
  refusedLines: string[];
  subject: string;
}

async function quarantined(): Promise<Quarantined[]> {
  const info = await jsm.streams.info(QUARANTINE_STREAM);
  const out: Quarantined[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(QUARANTINE_STREAM, { seq });
    if (!m) continue;
    out.push({
      code: m.header.get('Chio-Reason-Code'),
      reason: m.header.get('Chio-Reason'),
      streamSeq: Number(m.header.get('Chio-Stream-Seq')),
      line: Number(m.header.get('Chio-Line') || '0'),
      refusedLines: m.header.values('Chio-Refused-Line').map((v) => v.split(' ').slice(0, 2).join(' ')),
      subject: m.subject,
    });
  }
  return out;
}

/** Wait until the ledger has looked at every message stored so far. */
async function integratedAll(): Promise<void> {
  const last = (await jsm.streams.info(RECEIPTS_STREAM)).state.last_seq;
  const deadline = Date.now() + 20_000;
  while ((await readLedgerState(resources.ledger)).streamSeq < last) {
    if (Date.now() > deadline) throw new Error(`ledger did not reach stream seq ${last}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  nats = await startTestNats();
  dataDir = tempDir('chio-hostile-stream-');
  chio = await startTestChio(testConfig(dataDir, nats.current.url));
  js = jetstream(chio.nc);
  jsm = await jetstreamManager(chio.nc);
  resources = await ensureResources(chio.nc);
});

afterAll(async () => {
  await chio?.stop();
  await nats?.cleanup();
});

describe('a receipts stream with hostile messages in it', () => {
  it('quarantines every bad receipt with its reason, makes every good one a leaf, and keeps serving', async () => {
    const loaded = loadKey(join(dataDir, 'keys'), 'kernel');
    const kernel: Kernel = { seed: new Uint8Array(32), signer: loaded.signer, verifierKey: loaded.verifierKey };
    const stranger = kernelOf(9);
    const token = demoToken(chio.config);
    const check = () => sendCheck(chio.grpcAddr, buildCheckRequest({ method: 'POST', path: '/tools/hello', host: 'tools.chio.local', headers: { 'x-chio-capability-token': token } }));

    const before = await check();
    expect(before.verdict).toBe('allow');

    // Good receipts of hostile-made chains: they must become leaves.
    const a1 = receiptOn(kernel, 'h-a', 1, GENESIS_PREV);
    const b1 = receiptOn(kernel, 'h-b', 1, GENESIS_PREV);
    const c1 = receiptOn(kernel, 'h-c', 1, GENESIS_PREV);
    const c2 = receiptOn(kernel, 'h-c', 2, c1.id);
    const good = [a1, b1, c1, c2];

    const expected: Array<{ what: string; seq: number; line?: number; code: string; refusedLines?: string[] }> = [];
    const bad = async (what: string, chain: string, data: Uint8Array, code: string) => expected.push({ what, seq: await publish(chain, data), code });

    await bad('non-JSON', 'h-x', utf8('hello, ledger'), 'MALFORMED');
    await bad('an empty message', 'h-x', new Uint8Array(0), 'MALFORMED');
    await bad('oversized bytes', 'h-x', utf8(`{"pad":"${'x'.repeat(MAX_RECEIPT_BYTES + 100)}"}`), 'RECEIPT_INVALID');
    await publish('h-a', canonicalBytes(a1));
    const forged = { ...receiptOn(kernel, 'h-a', 2, a1.id), signature: receiptOn(kernel, 'h-a', 2, a1.id, 99).signature };
    await bad('a signature over other content', 'h-a', canonicalBytes(forged), 'SIGNATURE_INVALID');
    await bad('no signature at all', 'h-a', canonicalBytes({ ...receiptOn(kernel, 'h-a', 2, a1.id), signature: '' }), 'SIGNATURE_INVALID');
    const edited = { ...receiptOn(kernel, 'h-a', 2, a1.id), time: '2031-01-01T00:00:00.000Z' };
    await bad('an id that does not match the content', 'h-a', canonicalBytes(edited), 'RECEIPT_INVALID');
    await bad('a key the ledger does not trust', 'h-a', canonicalBytes(receiptOn(stranger, 'h-a', 2, a1.id)), 'UNTRUSTED_KEY');
    await bad('a seq that skips one', 'h-a', canonicalBytes(receiptOn(kernel, 'h-a', 3, a1.id)), 'CHAIN_BROKEN');
    await publish('h-b', canonicalBytes(b1));
    await bad('a fork (a second seq 1)', 'h-b', canonicalBytes(receiptOn(kernel, 'h-b', 1, GENESIS_PREV, 42)), 'CHAIN_BROKEN');
    await bad('a prev that names no receipt', 'h-b', canonicalBytes(receiptOn(kernel, 'h-b', 2, 'f'.repeat(64))), 'CHAIN_BROKEN');
    // A group-commit message: good, garbage, good. Only the garbage line is refused.
    const groupSeq = await publish('h-c', joinReceiptMessage([canonicalBytes(c1), utf8('{"not":"a receipt"}'), canonicalBytes(c2)]));
    expected.push({ what: 'a bad line in a message of several receipts', seq: groupSeq, line: 1, code: 'RECEIPT_INVALID' });
    // As many lines as a message may hold, none a receipt: one quarantine message names them all.
    const junk = joinReceiptMessage(Array.from({ length: MAX_RECEIPTS_PER_MESSAGE }, () => utf8('x')));
    expected.push({ what: 'a message of junk lines', seq: await publish('h-x', junk), code: 'MALFORMED', refusedLines: Array.from({ length: MAX_RECEIPTS_PER_MESSAGE }, (_, i) => `${i} MALFORMED`) });
    // A message no writer would store (more lines than that) is refused whole, at line 0.
    await bad('a message of more lines than a writer stores', 'h-x', joinReceiptMessage(Array.from({ length: MAX_RECEIPTS_PER_MESSAGE + 1 }, () => utf8('x'))), 'RECEIPT_INVALID');

    await integratedAll();
    const after = await check();
    expect(after.verdict).toBe('allow');

    const found = await quarantined();
    for (const e of expected) {
      const q = found.find((f) => f.streamSeq === e.seq && f.line === (e.line ?? 0));
      expect(q, `${e.what} (stream seq ${e.seq}) is quarantined`).toBeDefined();
      expect(q!.code, e.what).toBe(e.code);
      expect(q!.reason.length, e.what).toBeGreaterThan(0);
      expect(q!.refusedLines, e.what).toEqual(e.refusedLines ?? []);
    }
    expect(found, 'nothing else is quarantined').toHaveLength(expected.length);
    // Bad receipts that carry an id never became leaves; the good ones did.
    for (const r of [forged, edited]) expect(await readIndexEntry(resources.index, r.id)).toBeUndefined();
    for (const r of good) expect(await readIndexEntry(resources.index, r.id), `${r.chain} seq ${r.seq}`).toBeDefined();
    const c2Entry = await readIndexEntry(resources.index, c2.id);
    expect(c2Entry).toMatchObject({ seq: groupSeq, line: 2 });

    // Live traffic before and after the flood is provable, with the keys from the key directory.
    for (const a of [before, after]) {
      const proven = await proveReceipt(a.receiptId!, { verifierUrl: chio.verifierUrl, logKey: keyFile('log.pub'), kernelKeys: [keyFile('kernel.pub')], waitMs: 10_000 });
      expect(proven.receipt.id).toBe(a.receiptId);
    }
  });
});
