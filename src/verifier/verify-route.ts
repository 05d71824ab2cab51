/**
 * POST /v1/verify (SPEC §7): check a posted receipt, a receipt with its tlog-proof, or a
 * compliance bundle, and say what holds and what does not, check by check
 * (src/verify/report.ts and bundle-report.ts, the same portable code a browser and `chio
 * verify-export` run). Trust material is the verifier's own keys: to trust no server, run the
 * same checks yourself (`chio verify-proof`, `chio verify-export`, `chio/verify`).
 *
 * `application/json`: `{"receipt": {…}, "proof"?: "<tlog-proof@v1 text>", "previous"?: {…}}`,
 * at most MAX_VERIFY_BODY_BYTES, and MAX_VERIFY_BODIES_HELD_BYTES of such bodies at once.
 * `application/x-tar`: a bundle's directory as `tar -C DIR -cf - .` writes it, at most
 * MAX_VERIFY_BUNDLE_BYTES, one bundle at a time per verifier (it is held in memory while it is
 * checked), with the verifier's export key (export.pub) and the log key its manifest must
 * name. 413 past a bound; a well-formed request is answered 200 with the report, whatever it
 * says; a body that is not such a request (not JSON, not a tar) is 400.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ChioError, isChioError } from '../errors/index.js';
import { readBody, sendError, sendJson, type Route } from '../http.js';
import { reportVerification, toVerifyRequest } from '../verify/report.js';
import { reportBundle } from '../verify/bundle-report.js';
import type { ProofTrust } from '../verify/receipt-proof.js';
import { NotATar, readBundleTar } from './bundle-tar.js';

/** Largest request body: a receipt is at most 16 KiB and a proof about as large as its note. */
export const MAX_VERIFY_BODY_BYTES = 1024 * 1024;
/**
 * JSON bodies held at once, all requests together. Each is bounded, but a client may send most
 * of one and then nothing for the request timeout: at the connection limit (1,024) that was a
 * gigabyte held. Past it a request is 503 with Retry-After; real ones are some kilobytes.
 */
export const MAX_VERIFY_BODIES_HELD_BYTES = 64 * 1024 * 1024;
/** Largest bundle posted (it is held in memory): a larger one is for `chio verify-export`. */
export const MAX_VERIFY_BUNDLE_BYTES = 64 * 1024 * 1024;
/**
 * Bundle bodies held at once, being read or checked. A bundle is read before it takes the one
 * place to be checked, so that a client that sends the start of one and then nothing holds only
 * what it sent, not the place (it held it for the 30 s request timeout, and every other bundle
 * was 503 meanwhile, for 512 bytes sent back to back).
 */
export const MAX_VERIFY_BUNDLES_HELD_BYTES = 2 * MAX_VERIFY_BUNDLE_BYTES;
/** Retry-After of a bundle posted while another is being checked. */
export const BUNDLE_BUSY_RETRY_SECONDS = 5;

const JSON_TYPE = /^application\/json\s*(;|$)/i;
const TAR_TYPE = /^application\/x-tar\s*(;|$)/i;
/** An answer given before the body was read: the connection is not reused for the rest of it. */
const UNREAD_BODY = { connection: 'close' };

/** The bodies being read hold their bound already. */
class BodiesHeld extends Error {}

/**
 * Bytes held by the bodies of one kind being read, all requests together, within `max`: each
 * request's `hold` (readBody's) counts its chunks, and its `release` gives them back.
 */
function heldBytes(max: number) {
  let total = 0;
  return () => {
    let mine = 0;
    return {
      hold: (bytes: number) => {
        mine += bytes;
        total += bytes;
        if (total > max) throw new BodiesHeld();
      },
      release: () => {
        total -= mine;
        mine = 0;
      },
    };
  };
}

/** `exportKey`: the verifier key of export.pub, when the key directory has one; bundles are checked only with it. */
export function verifyRoute(trust: ProofTrust, exportKey?: string): Route {
  // One bundle at a time: each is held whole (up to MAX_VERIFY_BUNDLE_BYTES, and its files again).
  let checkingBundle = false;
  const jsonBody = heldBytes(MAX_VERIFY_BODIES_HELD_BYTES);
  const bundleBody = heldBytes(MAX_VERIFY_BUNDLES_HELD_BYTES);
  const busy = (res: ServerResponse, headers: Record<string, string> = {}) =>
    sendError(res, 'UNAVAILABLE', 'another bundle is being checked; try again shortly, or check it offline with `chio verify-export DIR`', { 'retry-after': String(BUNDLE_BUSY_RETRY_SECONDS), ...headers });

  const verifyBundle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (exportKey === undefined) {
      return sendError(res, 'NOT_FOUND', 'this verifier has no export key (export.pub in its key directory), so it cannot check bundles; check one offline with `chio verify-export DIR --export-key export.pub`', UNREAD_BODY);
    }
    // Refused unread while one is checked (the common case); taken only once read.
    if (checkingBundle) return busy(res, UNREAD_BODY);
    const held = bundleBody();
    try {
      let body: Uint8Array;
      try {
        body = await readBody(req, MAX_VERIFY_BUNDLE_BYTES, held.hold);
      } catch (err) {
        if (err instanceof BodiesHeld) return sendError(res, 'UNAVAILABLE', 'too many bundles are being read; try again shortly', { 'retry-after': String(BUNDLE_BUSY_RETRY_SECONDS), ...UNREAD_BODY });
        if (!isChioError(err, 'TOO_LARGE')) throw err;
        throw new ChioError('TOO_LARGE', `the bundle is larger than ${MAX_VERIFY_BUNDLE_BYTES / (1024 * 1024)} MiB, the most this verifier takes; check it offline with \`chio verify-export DIR\``);
      }
      if (checkingBundle) return busy(res);
      checkingBundle = true;
      try {
        await checkBundle(res, body, exportKey);
      } finally {
        checkingBundle = false;
      }
    } finally {
      held.release();
    }
  };

  const checkBundle = async (res: ServerResponse, body: Uint8Array, key: string): Promise<void> => {
    let archive;
    try {
      archive = await readBundleTar(body);
    } catch (err) {
      if (err instanceof NotATar) return sendError(res, 'MALFORMED', err.message);
      throw err;
    }
    const report = await reportBundle(archive, { exportKey: key, logKey: trust.logKey, kernelKeys: trust.kernelKeys, ...(trust.checkSignature ? { checkSignature: trust.checkSignature } : {}) });
    sendJson(res, 200, report, { 'cache-control': 'no-store' });
  };

  const verifyJson = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const held = jsonBody();
    try {
      return await verifyJsonHeld(req, res, held.hold);
    } catch (err) {
      if (!(err instanceof BodiesHeld)) throw err;
      return sendError(res, 'UNAVAILABLE', 'too many requests are being read; try again shortly', { 'retry-after': '1', ...UNREAD_BODY });
    } finally {
      held.release();
    }
  };

  const verifyJsonHeld = async (req: IncomingMessage, res: ServerResponse, hold: (bytes: number) => void): Promise<void> => {
    const body = await readBody(req, MAX_VERIFY_BODY_BYTES, hold);
    let value: unknown;
    try {
      value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
    } catch {
      return sendError(res, 'MALFORMED', 'the body is not UTF-8 JSON');
    }
    try {
      return sendJson(res, 200, reportVerification(toVerifyRequest(value), trust), { 'cache-control': 'no-store' });
    } catch (err) {
      if (err instanceof ChioError && err.code === 'MALFORMED') return sendError(res, 'MALFORMED', err.message);
      throw err;
    }
  };

  return async (req, res, url) => {
    if (url.pathname !== '/v1/verify') return false;
    if (req.method !== 'POST') return sendError(res, 'NOT_FOUND', 'POST a JSON receipt or a tar of a bundle to /v1/verify'), true;
    const type = req.headers['content-type'] ?? '';
    if (JSON_TYPE.test(type)) return await verifyJson(req, res), true;
    if (TAR_TYPE.test(type)) return await verifyBundle(req, res), true;
    return sendError(res, 'MALFORMED', 'the body must be application/json (a receipt, with its proof) or application/x-tar (a compliance bundle)', UNREAD_BODY), true;
  };
}
