/**
 * Ed25519 checks of a batch spread over worker threads (node:crypto in each), for the ledger:
 * a signature check costs 40 µs to 100 µs, half of the ledger's time when it runs on one thread.
 * The calling thread checks a share of each batch itself while the workers check the rest, so a
 * two-core machine uses both cores with one worker. A batch can also be handed to the workers
 * ahead of time (checkAhead: the ledger's next batch, while it writes this one); check() then
 * takes the answers from there for the checks whose signature, message and key are the same.
 *
 * The workers run plain JavaScript given here as text (no module file to find, whether Chio runs
 * from dist/ or from source), and check as createNodeSignatureCheck does: the same key import
 * (JWK), the same node:crypto verify, and no signature holds under a key no one holds the secret
 * of (a small-order point), which the calling thread tells them for each key of a batch.
 */
import { Worker } from 'node:worker_threads';
import { ChioError } from '../errors/index.js';
import { createNodeSignatureCheck } from './ed25519.js';
import { bytesEqual } from '../encoding.js';
import { canHoldSignatures } from '../tlog/note.js';
import { signatureHolds, type SignedBody } from '../receipt/verify.js';

/** What one check needs: a signature (only 64 bytes can hold), the message, the 32-byte public key. */
export type SignatureToCheck = SignedBody;

/** A batch this small is checked on the calling thread: a round trip to a worker costs more. */
const MIN_SPREAD = 64;
/**
 * Checks made ahead and not yet asked for that are kept (each holds its message, about a KiB):
 * a ledger batch of 256 messages holds 1,024 receipts at 4 per message, more under heavy group
 * commit. The oldest go first, never those of the batch being handed over.
 */
const MAX_AHEAD = 16_384;
/** A thread that has not answered a batch in this long is ended and its batch checked here. */
const WORKER_ANSWER_TIMEOUT_MS = 10_000;

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createPublicKey, verify } = require('node:crypto');
const keys = new Map();
function keyOf(raw) {
  const id = Buffer.from(raw).toString('hex');
  let key = keys.get(id);
  if (!key) {
    key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' });
    if (keys.size >= 64) keys.clear();
    keys.set(id, key);
  }
  return key;
}
parentPort.on('message', ({ id, keys: raw, usable, keyIndex, bytes, offsets }) => {
  const objects = raw.map((key, k) => (usable[k] ? keyOf(key) : null));
  const holds = new Uint8Array(keyIndex.length);
  for (let i = 0; i < keyIndex.length; i++) {
    const start = offsets[i];
    const key = objects[keyIndex[i]];
    try {
      holds[i] = key !== null && verify(null, bytes.subarray(start + 64, offsets[i + 1]), key, bytes.subarray(start, start + 64)) ? 1 : 0;
    } catch {
      holds[i] = 0;
    }
  }
  parentPort.postMessage({ id, holds }, [holds.buffer]);
});
`;

const WORKER_LIMITS = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 32 };

/** A batch packed for a worker: every signature then its message, back to back, and which key checks each. */
interface PackedBatch {
  id: number;
  keys: Uint8Array[];
  /** 1 for each key a signature can hold under (canHoldSignatures): OpenSSL alone takes forgeries under the others. */
  usable: Uint8Array<ArrayBuffer>;
  keyIndex: Uint32Array<ArrayBuffer>;
  bytes: Uint8Array<ArrayBuffer>;
  offsets: Uint32Array<ArrayBuffer>;
}

interface Pending {
  resolve(holds: Uint8Array): void;
  reject(err: Error): void;
}

/**
 * The default number of worker threads: one, which with the calling thread fills two cores.
 * Not one per core: in a container the cores Node sees are the node's, not its CPU limit, and
 * each thread costs memory. Machines with more cores for the ledger set CHIO_LEDGER_VERIFY_THREADS.
 */
export const DEFAULT_VERIFY_THREADS = 1;

export class SignatureCheckPool {
  private readonly workers: Array<Worker | undefined>;
  private readonly pending = new Map<number, { worker: Worker; done: Pending; timer: NodeJS.Timeout }>();
  private readonly local = createNodeSignatureCheck();
  /** Checks made ahead, by signature; an answer is used only for the same message and key. */
  private readonly ahead = new Map<string, { check: SignatureToCheck; holds: Promise<boolean> }>();
  private nextId = 1;
  /** Checks answered from checkAhead's work so far. */
  answeredAhead = 0;
  private closed = false;

  /**
   * @param threads worker threads (at least 1)
   * @param pause asked between the calling thread's own checks, as IntegrationChecks.pause is
   */
  constructor(threads: number, private readonly pause?: () => Promise<void> | undefined) {
    if (!Number.isSafeInteger(threads) || threads < 1) throw new ChioError('CONFIG_INVALID', `signature check threads must be a positive integer, not ${threads}`);
    this.workers = Array.from({ length: threads }, () => undefined);
  }

  /**
   * Start checking `batch` on the worker threads only, for a check() to come. Anything may be
   * in it (nothing is trusted: an answer is only ever used for the very same inputs); what is
   * not asked for soon is forgotten.
   */
  checkAhead(batch: readonly SignatureToCheck[]): void {
    if (this.closed) return;
    const fresh = batch.filter((s) => s.signature.length === 64 && !this.ahead.has(keyOf(s))).slice(0, MAX_AHEAD);
    // Room for this batch: the answers made longest ago (never asked for: their receipts failed an earlier check) go.
    for (const key of this.ahead.keys()) {
      if (this.ahead.size + fresh.length <= MAX_AHEAD) break;
      this.ahead.delete(key);
    }
    const size = Math.ceil(fresh.length / this.workers.length);
    for (let w = 0; w < this.workers.length; w++) {
      const share = fresh.slice(w * size, (w + 1) * size);
      const answers = this.send(w, share);
      share.forEach((check, i) => {
        const holds = answers.then((a) => a[i] === 1);
        holds.catch(() => undefined);
        this.ahead.set(keyOf(check), { check, holds });
      });
    }
  }

  /** True for each signature of `batch` that holds, in order. */
  async check(batch: readonly SignatureToCheck[]): Promise<boolean[]> {
    if (this.closed) throw new ChioError('INTERNAL', 'the signature check pool is closed');
    const known = batch.map((s) => this.takeAhead(s));
    const unknown = batch.filter((_, i) => known[i] === undefined);
    const checked = await this.checkNow(unknown);
    let k = 0;
    const holds: boolean[] = [];
    for (const answer of known) {
      // An answer made ahead that failed (a thread died) is made again here.
      const ahead = answer && (await answer.catch(() => undefined));
      if (ahead !== undefined) this.answeredAhead++;
      holds.push(ahead ?? (answer ? signatureHolds(batch[holds.length]!, this.local) : checked[k++]!));
    }
    return holds;
  }

  private takeAhead(s: SignatureToCheck): Promise<boolean> | undefined {
    const key = keyOf(s);
    const made = this.ahead.get(key);
    if (!made) return undefined;
    this.ahead.delete(key);
    return bytesEqual(made.check.message, s.message) && bytesEqual(made.check.publicKey, s.publicKey) ? made.holds : undefined;
  }

  /** Check `batch` here, between pauses. */
  private async checkHere(batch: readonly SignatureToCheck[]): Promise<boolean[]> {
    const holds: boolean[] = [];
    for (const s of batch) {
      const paused = this.pause?.();
      if (paused) await paused;
      holds.push(signatureHolds(s, this.local));
    }
    return holds;
  }

  private async checkNow(batch: readonly SignatureToCheck[]): Promise<boolean[]> {
    const shares = batch.length < MIN_SPREAD ? 1 : this.workers.length + 1;
    const size = Math.ceil(batch.length / shares);
    // A share a thread could not check (it died, or did not answer) is checked here instead.
    const remote = Array.from({ length: shares - 1 }, (_, w) => {
      const share = batch.slice((w + 1) * size, (w + 2) * size);
      return this.send(w, share).then((holds) => Array.from(holds, (h) => h === 1), () => this.checkHere(share));
    });
    // The calling thread's share runs while the workers check theirs.
    const own = await this.checkHere(batch.slice(0, size));
    return own.concat(...(await Promise.all(remote)));
  }

  /** Stop the workers; checks in progress are finished on the calling thread. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w?.terminate()));
  }

  /** The answers of thread `w` for `batch` (only 64-byte signatures are sent: any other is false). */
  private send(w: number, batch: readonly SignatureToCheck[]): Promise<Uint8Array> {
    const sized = batch.filter((s) => s.signature.length === 64);
    if (sized.length === 0) return Promise.resolve(new Uint8Array(batch.length));
    const packed = pack(this.nextId++, sized);
    const worker = this.worker(w);
    const answered = new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(packed.id);
        reject(new ChioError('TIMEOUT', `signature check thread did not answer in ${WORKER_ANSWER_TIMEOUT_MS} ms`));
        void worker.terminate();
      }, WORKER_ANSWER_TIMEOUT_MS);
      timer.unref();
      this.pending.set(packed.id, { worker, done: { resolve, reject }, timer });
      worker.postMessage(packed, [packed.bytes.buffer, packed.offsets.buffer, packed.keyIndex.buffer, packed.usable.buffer]);
    });
    if (sized.length === batch.length) return answered;
    return answered.then((holds) => {
      const all = new Uint8Array(batch.length);
      let k = 0;
      batch.forEach((s, i) => {
        if (s.signature.length === 64) all[i] = holds[k++]!;
      });
      return all;
    });
  }

  private worker(w: number): Worker {
    const existing = this.workers[w];
    if (existing) return existing;
    // A worker keeps nothing but a few keys: a small heap, so that each thread adds little to the process's memory.
    const worker = new Worker(WORKER_SOURCE, { eval: true, resourceLimits: WORKER_LIMITS });
    worker.unref();
    worker.on('message', ({ id, holds }: { id: number; holds: Uint8Array }) => {
      const p = this.pending.get(id);
      if (!p) return;
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.done.resolve(holds);
    });
    // A worker that failed is replaced at the next batch; what it was checking fails here, and is checked by the caller instead.
    const fail = (err: Error) => {
      if (this.workers[w] === worker) this.workers[w] = undefined;
      for (const [id, p] of this.pending) {
        if (p.worker !== worker) continue;
        this.pending.delete(id);
        clearTimeout(p.timer);
        p.done.reject(new ChioError('INTERNAL', `signature check thread failed: ${err.message}`, { cause: err }));
      }
    };
    worker.on('error', fail);
    worker.on('messageerror', fail);
    worker.on('exit', (code) => fail(new Error(`exited with code ${code}`)));
    this.workers[w] = worker;
    return worker;
  }
}

/** Where a check made ahead is found: its signature's bytes. */
function keyOf(s: SignatureToCheck): string {
  return Buffer.from(s.signature.buffer, s.signature.byteOffset, s.signature.byteLength).toString('latin1');
}

/** canHoldSignatures of the keys seen, by hex: a point decompression (~70 µs) for the few kernel keys every batch names. */
const usableKeys = new Map<string, 0 | 1>();

function usableKey(keyId: string, key: Uint8Array): 0 | 1 {
  let usable = usableKeys.get(keyId);
  if (usable === undefined) {
    usable = canHoldSignatures(key) ? 1 : 0;
    if (usableKeys.size >= 1024) usableKeys.clear();
    usableKeys.set(keyId, usable);
  }
  return usable;
}

function pack(id: number, batch: readonly SignatureToCheck[]): PackedBatch {
  const keys: Uint8Array[] = [];
  const usableOfKeys: number[] = [];
  const keyIds = new Map<string, number>();
  const keyIndex = new Uint32Array(batch.length);
  const offsets = new Uint32Array(batch.length + 1);
  let length = 0;
  batch.forEach((s, i) => {
    if (s.signature.length !== 64) throw new ChioError('INTERNAL', 'a signature to check in a thread is 64 bytes');
    offsets[i] = length;
    length += 64 + s.message.length;
    const keyId = Buffer.from(s.publicKey).toString('hex');
    let k = keyIds.get(keyId);
    if (k === undefined) {
      k = keys.push(s.publicKey) - 1;
      usableOfKeys.push(usableKey(keyId, s.publicKey));
      keyIds.set(keyId, k);
    }
    keyIndex[i] = k;
  });
  offsets[batch.length] = length;
  const usable = Uint8Array.from(usableOfKeys);
  const bytes = new Uint8Array(length);
  batch.forEach((s, i) => {
    bytes.set(s.signature, offsets[i]);
    bytes.set(s.message, offsets[i]! + 64);
  });
  return { id, keys, usable, keyIndex, bytes, offsets };
}
