/**
 * POST /v1/verify (SPEC §7): check a posted receipt, or a receipt with its tlog-proof, and say
 * what holds and what does not, check by check (src/verify/report.ts, the same portable code
 * a browser runs). Trust material is the verifier's own keys: to trust no server, run the same
 * checks yourself (`chio verify-proof`, `chio/verify`).
 *
 * The body is JSON `{"receipt": {…}, "proof"?: "<tlog-proof@v1 text>", "previous"?: {…}}`, at
 * most MAX_VERIFY_BODY_BYTES (413 beyond). A well-formed request is answered 200 with the
 * report, whatever it says; a body that is not such a request is 400.
 */
import { ChioError } from '../errors/index.js';
import { readBody, sendError, sendJson, type Route } from '../http.js';
import { reportVerification, toVerifyRequest } from '../verify/report.js';
import type { ProofTrust } from '../verify/receipt-proof.js';

/** Largest request body: a receipt is at most 16 KiB and a proof about as large as its note. */
export const MAX_VERIFY_BODY_BYTES = 1024 * 1024;

export function verifyRoute(trust: ProofTrust): Route {
  return async (req, res, url) => {
    if (url.pathname !== '/v1/verify') return false;
    if (req.method !== 'POST') return sendError(res, 'NOT_FOUND', 'POST a JSON request to /v1/verify'), true;
    const type = req.headers['content-type'] ?? '';
    if (!/^application\/json\s*(;|$)/i.test(type)) return sendError(res, 'MALFORMED', 'the body must be application/json'), true;
    const body = await readBody(req, MAX_VERIFY_BODY_BYTES);
    let value: unknown;
    try {
      value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
    } catch {
      return sendError(res, 'MALFORMED', 'the body is not UTF-8 JSON'), true;
    }
    try {
      return sendJson(res, 200, reportVerification(toVerifyRequest(value), trust), { 'cache-control': 'no-store' }), true;
    } catch (err) {
      if (err instanceof ChioError && err.code === 'MALFORMED') return sendError(res, 'MALFORMED', err.message), true;
      throw err;
    }
  };
}
