/**
 * `chio prove` against a verifier on loopback that answers what the test scripts: every HTTP
 * answer of SPEC §7 becomes the code of the status table, and a 200 is believed only when the
 * proof verifies with the operator's keys.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { isChioError, statusOf, type ChioErrorCode } from '../../../src/errors/index.js';
import { fromBase64, toBase64 } from '../../../src/encoding.js';
import { generateSignerKey } from '../../../src/tlog/index.js';
import type { ReceiptProof } from '../../../src/verify/index.js';
import { MAX_ANSWER_BYTES, PROVE_RETRY_INTERVAL_MS, formatProven, proveReceipt, toProvenJson, type ProveOptions } from '../../../src/cli/prove.js';
import { toCorrectionDraft } from '../../../src/receipt/correction.js';
import { chainOf, kernelOf, signReceipt } from '../receipt/helpers.js';
import { receiptProofOf } from '../verify/proofs.js';
import { startHttpServer } from '../../../src/http.js';
import { createLogger } from '../../../src/log.js';
import { tempDir } from '../../support/nats.js';
import { chio } from '../../support/chio-cli.js';
import { signerSecret } from '../../support/secrets.js';

const ORIGIN = 'chio.local/receipts';
const LOG = generateSignerKey(ORIGIN, () => new Uint8Array(32).fill(51));
const OTHER_LOG = generateSignerKey(ORIGIN, () => new Uint8Array(32).fill(52));
const KERNEL = kernelOf(53);
const RECEIPTS = chainOf(3, KERNEL);
const ID = RECEIPTS[1]!.id;
// The same chain where receipt 2 was stored but answered 503, and corrected by the next.
const CORRECTION = signReceipt(toCorrectionDraft(RECEIPTS[1]!, '2025-01-01T00:59:00.000Z'), { chain: RECEIPTS[1]!.chain, seq: 3, prev: ID }, KERNEL);
const CORRECTED_LOG = [RECEIPTS[0]!, RECEIPTS[1]!, CORRECTION];

interface Answer {
  status: number;
  body: string;
}
const json = (status: number, value: unknown): Answer => ({ status, body: JSON.stringify(value) });

/** The verifier's answers in order; the last one repeats. */
let script: Answer[] = [];
let requests: string[] = [];
let server: Server;
let options: ProveOptions;
let proof: ReceiptProof;

const proofOf = (index: number, logKey = LOG.signerKey) => receiptProofOf(RECEIPTS, index, logKey);

/** The code proveReceipt fails with. */
async function failureOf(opts: ProveOptions = options): Promise<ChioErrorCode> {
  try {
    await proveReceipt(ID, opts);
  } catch (err) {
    if (isChioError(err)) return err.code;
    throw err;
  }
  throw new Error('proveReceipt succeeded');
}

beforeAll(async () => {
  proof = await proofOf(1);
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const answer = script[Math.min(requests.length - 1, script.length - 1)]!;
    res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  options = { verifierUrl: `http://127.0.0.1:${port}`, logKey: LOG.verifierKey, kernelKeys: [KERNEL.verifierKey], waitMs: 0 };
});

afterEach(() => {
  script = [];
  requests = [];
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('proveReceipt', () => {
  describe('when the verifier answers 200 with the proof', () => {
    it('asks for the receipt by id and returns it verified, with its index and tree size', async () => {
      script = [json(200, proof)];
      const proven = await proveReceipt(ID, options);
      expect(proven).toEqual({ receipt: RECEIPTS[1], index: 1, treeSize: 3, origin: ORIGIN, answer: proof });
      expect(requests).toEqual([`/v1/receipts/${ID}`]);
    });
  });

  describe('when the 200 answer does not verify', () => {
    const flipped = (b64: string) => {
      const bytes = fromBase64(b64);
      bytes[0] = bytes[0]! ^ 1;
      return toBase64(bytes);
    };

    it.each<{ what: string; tamper: () => Promise<unknown>; code: ChioErrorCode; exit: number }>([
      { what: 'a proof hash is flipped', tamper: async () => ({ ...proof, inclusion_proof: [flipped(proof.inclusion_proof[0]!), ...proof.inclusion_proof.slice(1)] }), code: 'PROOF_INVALID', exit: 3 },
      { what: 'the index is another leaf', tamper: async () => ({ ...proof, index: 0 }), code: 'PROOF_INVALID', exit: 3 },
      { what: 'the checkpoint is signed by another log key', tamper: () => proofOf(1, OTHER_LOG.signerKey), code: 'UNTRUSTED_KEY', exit: 3 },
      { what: 'the receipt is another one than asked for', tamper: () => proofOf(2), code: 'RECEIPT_INVALID', exit: 3 },
      { what: 'the receipt was changed', tamper: async () => ({ ...proof, receipt: { ...proof.receipt, seq: 7 } }), code: 'RECEIPT_INVALID', exit: 3 },
    ])('fails when $what, with $code (exit $exit)', async ({ tamper, code, exit }) => {
      script = [json(200, await tamper())];
      expect(await failureOf()).toBe(code);
      expect(statusOf(code).exit).toBe(exit);
    });

    it('fails with MALFORMED when the body is not JSON', async () => {
      script = [{ status: 200, body: '{"receipt":' }];
      expect(await failureOf()).toBe('MALFORMED');
    });
  });

  describe('when the verifier says the receipt was corrected', () => {
    const correctedProof = async () => ({ ...(await receiptProofOf(CORRECTED_LOG, 1, LOG.signerKey)), corrected_by: CORRECTION.id });

    it("fetches and verifies the correction's proof too, and shows the answer given, never a plain allow", async () => {
      script = [json(200, await correctedProof()), json(200, await receiptProofOf(CORRECTED_LOG, 2, LOG.signerKey))];
      const proven = await proveReceipt(ID, options);
      expect(requests).toEqual([`/v1/receipts/${ID}`, `/v1/receipts/${CORRECTION.id}`]);
      expect(proven.correction?.receipt).toEqual(CORRECTION);
      const text = formatProven(proven);
      expect(text).toContain(`receipt ${ID}: decided allow, stored, but answered deny 503 by ReceiptLedger (corrected by ${CORRECTION.id})`);
      expect(text).not.toMatch(/\(allow\)/);
      expect(toProvenJson(proven)).toEqual({ id: ID, index: 1, tree_size: 3, verdict: 'deny', corrected_by: CORRECTION.id, ok: true });
    });

    it("chio prove --out --receipt-out saves the correction's proof too: chio verify-proof shows the answer given offline", async () => {
      script = [json(200, await correctedProof()), json(200, await receiptProofOf(CORRECTED_LOG, 2, LOG.signerKey))];
      const dir = tempDir('chio-prove-');
      const [proofFile, receiptFile] = [join(dir, 'r.tlog-proof'), join(dir, 'r.json')];
      const keys = ['--log-key', LOG.verifierKey, '--kernel-key', KERNEL.verifierKey];
      await chio('prove', ID, '--url', options.verifierUrl, ...keys, '--wait', '0', '--out', proofFile, '--receipt-out', receiptFile);
      const offline = await chio('verify-proof', proofFile, '--receipt', receiptFile, ...keys, '--json');
      expect(JSON.parse(offline)).toEqual({ id: ID, index: 1, tree_size: 3, verdict: 'deny', corrected_by: CORRECTION.id, ok: true });
      expect(await chio('verify-proof', proofFile, '--receipt', receiptFile, ...keys)).toContain('stored, but answered deny 503 by ReceiptLedger');
    });

    it('takes --log-key and --kernel-key as files holding the keys too, and refuses a value that is neither without echoing it', async () => {
      script = [json(200, await correctedProof()), json(200, await receiptProofOf(CORRECTED_LOG, 2, LOG.signerKey))];
      const dir = tempDir('chio-prove-');
      const [proofFile, receiptFile, logPub, kernelPub] = [join(dir, 'r.tlog-proof'), join(dir, 'r.json'), join(dir, 'log.pub'), join(dir, 'kernel.pub')];
      writeFileSync(logPub, `${LOG.verifierKey}\n`);
      writeFileSync(kernelPub, `${KERNEL.verifierKey}\n`);
      await chio('prove', ID, '--url', options.verifierUrl, '--log-key', LOG.verifierKey, '--kernel-key', KERNEL.verifierKey, '--wait', '0', '--out', proofFile, '--receipt-out', receiptFile);
      const offline = await chio('verify-proof', proofFile, '--receipt', receiptFile, '--log-key', logPub, '--kernel-key', kernelPub, '--json');
      expect(JSON.parse(offline)).toMatchObject({ id: ID, ok: true });
      // A signer key passed by mistake: a secret, never printed back.
      const refused = await chio('verify-proof', proofFile, '--receipt', receiptFile, '--log-key', LOG.signerKey, '--kernel-key', kernelPub).then(() => undefined, (e: unknown) => e as Error & { code?: string });
      expect(refused).toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringMatching(/^--log-key: neither a verifier key \(.*\) nor a file: it holds a signer \(private\) key; give its verifier key/) });
      expect(refused!.message).not.toContain(signerSecret(LOG.signerKey));
    });

    it('fails with CORRECTION_INVALID when the receipt it names does not correct this one', async () => {
      script = [json(200, { ...(await correctedProof()), corrected_by: RECEIPTS[2]!.id }), json(200, await receiptProofOf(RECEIPTS, 2, LOG.signerKey))];
      expect(await failureOf()).toBe('CORRECTION_INVALID');
      expect(statusOf('CORRECTION_INVALID').exit).toBe(3);
    });

    it("fails with the correction's proof's code when that proof does not verify", async () => {
      script = [json(200, await correctedProof()), json(200, await receiptProofOf(CORRECTED_LOG, 2, OTHER_LOG.signerKey))];
      expect(await failureOf()).toBe('UNTRUSTED_KEY');
    });
  });

  describe('when the receipt is a correction', () => {
    it('shows what it corrects', async () => {
      script = [json(200, await receiptProofOf(CORRECTED_LOG, 2, LOG.signerKey))];
      const proven = await proveReceipt(CORRECTION.id, options);
      expect(formatProven(proven)).toContain(`receipt ${CORRECTION.id} (deny, guard ReceiptLedger, a correction of ${ID})`);
      expect(toProvenJson(proven)).toEqual({ id: CORRECTION.id, index: 2, tree_size: 3, verdict: 'deny', corrects: ID, ok: true });
    });
  });

  describe('when the receipt was not corrected', () => {
    it('shows its own verdict', () => {
      const text = formatProven({ receipt: RECEIPTS[1]!, index: 1, treeSize: 3, origin: ORIGIN });
      expect(text).toBe(`receipt ${ID} (allow)\nincluded at index 1 in a checkpoint of size 3 (${ORIGIN}); signatures OK`);
      expect(toProvenJson({ receipt: RECEIPTS[1]!, index: 1, treeSize: 3, origin: ORIGIN })).toEqual({ id: ID, index: 1, tree_size: 3, verdict: 'allow', ok: true });
    });
  });

  // A receipt made in shadow mode records the would-be verdict; the Check was answered allow.
  // prove printed "(deny, guard Policy)" and --json "verdict":"deny", which reads as a deny
  // although receipts.md says verdict "is always the answer given".
  describe('when the receipt was made in shadow mode', () => {
    const shadowDeny = { ...RECEIPTS[1]!, decision: { guard: 'Policy', http_status: 403, reason: 'denied by policy p', shadow: true, verdict: 'deny' } } as typeof RECEIPTS[1] & object;
    it('shows the answer given, allow, and the would-be verdict beside it', () => {
      const text = formatProven({ receipt: shadowDeny, index: 1, treeSize: 3, origin: ORIGIN });
      expect(text).toBe(`receipt ${ID} (allow; shadow verdict deny, guard Policy)\nincluded at index 1 in a checkpoint of size 3 (${ORIGIN}); signatures OK`);
      expect(toProvenJson({ receipt: shadowDeny, index: 1, treeSize: 3, origin: ORIGIN })).toEqual({ id: ID, index: 1, tree_size: 3, verdict: 'allow', shadow_verdict: 'deny', ok: true });
    });
    it('a shadow allow (CHIO_MODE=shadow) says so too', () => {
      const shadowAllow = { ...RECEIPTS[1]!, decision: { http_status: 200, shadow: true, verdict: 'allow' } } as typeof RECEIPTS[1] & object;
      expect(formatProven({ receipt: shadowAllow, index: 1, treeSize: 3, origin: ORIGIN })).toContain(`receipt ${ID} (allow; shadow verdict allow)`);
      expect(toProvenJson({ receipt: shadowAllow, index: 1, treeSize: 3, origin: ORIGIN })).toMatchObject({ verdict: 'allow', shadow_verdict: 'allow' });
    });
  });

  describe('when the verifier answers with an error', () => {
    it.each<[number, ChioErrorCode]>([
      [404, 'NOT_FOUND'],
      [400, 'MALFORMED'],
      [504, 'TIMEOUT'],
      [408, 'REQUEST_TIMEOUT'],
      [431, 'HEADERS_TOO_LARGE'],
      [500, 'UNAVAILABLE'],
    ])('maps %i to %s at once, without asking again', async (status, code) => {
      // The verifier's own error answer: a 404 of its route, not a port without one.
      script = [json(status, { error: 'no', code })];
      expect(await failureOf({ ...options, waitMs: 60_000 })).toBe(code);
      expect(requests).toHaveLength(1);
    });

    it("reads back a Chio HTTP port's refusal of a head over 16 KiB, its error text and code", async () => {
      // prove's own requests are short (the id is checked first): what such a port answers a
      // longer head (a proxy's headers, say) is fetched here and answered to prove.
      const http = await startHttpServer({ bind: '127.0.0.1', port: 0, log: createLogger('silent'), ready: () => undefined });
      try {
        const refusal = await fetch(`http://127.0.0.1:${http.port}/v1/receipts/${'a'.repeat(20_000)}`);
        script = [{ status: refusal.status, body: await refusal.text() }];
      } finally {
        await http.stop();
      }
      const refused = proveReceipt(ID, options);
      await expect(refused).rejects.toSatisfy((err: unknown) => isChioError(err, 'HEADERS_TOO_LARGE') && /^verifier answered 431 HEADERS_TOO_LARGE: \S/.test(err.message));
    });
  });

  describe('when the receipt is pending (202) or the ledger is behind (503)', () => {
    it.each([202, 503])('asks again after %i and verifies the proof once it is there', async (status) => {
      script = [json(status, { status: 'pending' }), json(200, proof)];
      const proven = await proveReceipt(ID, { ...options, waitMs: 10 * PROVE_RETRY_INTERVAL_MS });
      expect(proven.index).toBe(1);
      expect(requests).toHaveLength(2);
    });

    it.each<[number, ChioErrorCode]>([
      [202, 'PENDING'],
      [503, 'UNAVAILABLE'],
    ])('fails after waitMs of %i answers with %s', async (status, code) => {
      script = [json(status, { status: 'pending' })];
      expect(await failureOf({ ...options, waitMs: PROVE_RETRY_INTERVAL_MS })).toBe(code);
      expect(requests.length).toBeGreaterThan(1);
    });
  });

  describe('when the verifier sends an answer without end', () => {
    /** What the verifier sends at the most: far more than prove reads, so reading it all shows. */
    const SENT = 64 * 1024 * 1024;

    it.each<[number, ChioErrorCode]>([
      [200, 'MALFORMED'],
      [404, 'NOT_FOUND'],
    ])('reads a %i answer only up to its bound, and fails with %s', async (status, code) => {
      let sent = 0;
      let closed!: Promise<void>;
      const endless = createServer((_req, res) => {
        closed = new Promise((resolve) => res.on('close', resolve));
        res.writeHead(status, { 'content-type': 'application/json' }).write('{"receipt":"');
        const chunk = Buffer.alloc(1024 * 1024, 'a');
        const pump = () => {
          for (let more = true; more && sent < SENT && !res.destroyed;) {
            sent += chunk.length;
            more = res.write(chunk);
          }
          if (sent >= SENT && !res.writableEnded) res.end('"}');
        };
        res.on('drain', pump);
        pump();
      });
      await new Promise<void>((resolve) => endless.listen(0, '127.0.0.1', resolve));
      try {
        const { port } = endless.address() as AddressInfo;
        const err = await proveReceipt(ID, { ...options, verifierUrl: `http://127.0.0.1:${port}` }).then(() => undefined, (e: unknown) => e);
        expect(isChioError(err, code)).toBe(true);
        if (status === 200) expect((err as Error).message).toContain(`over ${MAX_ANSWER_BYTES} bytes`);
        else expect((err as Error).message.length).toBeLessThan(600);
        await closed;
        // The client went away after what it reads: what the server could send meanwhile sits in socket buffers.
        expect(sent).toBeLessThan(SENT / 2);
      } finally {
        endless.closeAllConnections();
        await new Promise<void>((resolve) => endless.close(() => resolve()));
      }
    });
  });

  describe('when the verifier cannot be reached', () => {
    it('fails with UNAVAILABLE', async () => {
      const closed = createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const { port } = closed.address() as AddressInfo;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      expect(await failureOf({ ...options, verifierUrl: `http://127.0.0.1:${port}` })).toBe('UNAVAILABLE');
      // What to look at: chio up on other ports prints the --url to use.
      await expect(proveReceipt(ID, { ...options, verifierUrl: `http://127.0.0.1:${port}` })).rejects.toThrow(
        `cannot reach the verifier at http://127.0.0.1:${port}: is Chio running, and is that its verifier (--url; CHIO_VERIFIER_PORT, 9093 unless set; \`chio up\` prints the --url to use)?`,
      );
    });
  });
});

describe('chio prove --wait', () => {
  // Number('5s') is NaN, and a NaN deadline waited not at all: a pending receipt failed at once.
  it.each(['5s', 'abc', '-1', '1.5', ''])('refuses %j, which is not a whole number of milliseconds, before asking the verifier', async (value) => {
    script = [json(202, { status: 'pending' })];
    let said = '';
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((said += String(chunk)), true));
    try {
      // The parser's refusal ends the process (exit 1, as for any option it refuses), which vitest reports as thrown.
      await expect(chio('prove', ID, '--url', options.verifierUrl, '--log-key', LOG.verifierKey, '--kernel-key', KERNEL.verifierKey, '--wait', value)).rejects.toThrow();
    } finally {
      stderr.mockRestore();
    }
    expect(said).toContain(`error: option '--wait <ms>' argument '${value}' is invalid. a whole number of milliseconds`);
    expect(requests).toEqual([]);
  });
});

describe('chio prove --url', () => {
  // new URL() threw inside the command, and a host:port without http:// said only "chio: Invalid URL".
  it.each([
    ['127.0.0.1:9093', ' (--url http://127.0.0.1:9093)'],
    ['localhost:9093', ' (--url http://localhost:9093)'],
    ['ftp://127.0.0.1:9093', ''],
    ['', ''],
  ])('refuses %j, which is not an http(s) URL, before asking anything', async (value, hint) => {
    script = [json(202, { status: 'pending' })];
    let said = '';
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((said += String(chunk)), true));
    try {
      // The parser's refusal ends the process (exit 1, as for any option it refuses), which vitest reports as thrown.
      await expect(chio('prove', ID, '--url', value, '--log-key', LOG.verifierKey, '--kernel-key', KERNEL.verifierKey)).rejects.toThrow();
    } finally {
      stderr.mockRestore();
    }
    expect(said).toContain(`error: option '--url <url>' argument '${value}' is invalid. the verifier's URL, http:// or https:// and host:port, e.g. http://127.0.0.1:9093${hint}\n`);
    expect(requests).toEqual([]);
  });

  it('takes an http URL, with a trailing slash too', async () => {
    script = [json(200, proof)];
    expect(await chio('prove', ID, '--url', `${options.verifierUrl}/`, '--log-key', LOG.verifierKey, '--kernel-key', KERNEL.verifierKey, '--wait', '0')).toContain(`receipt ${ID}`);
  });
});
