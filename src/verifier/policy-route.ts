/**
 * GET /v1/policies/<sha256:hex> (SPEC §7): the policy set behind a policy hash, as authz
 * archived it when it loaded the set — the JCS bytes of the normalised set, so the answer's
 * own SHA-256 is the hash asked for. The verifier hashes the archived bytes before serving
 * them and refuses (500, saying so) when they do not match: a damaged archive is never passed
 * off as a receipt's policy. The answer can never change: cached as immutable.
 */
import type { ObjectStore } from '@nats-io/obj';
import { sha256Hex } from '../crypto/sha256.js';
import { sendCacheable, sendError, type Route } from '../http.js';
import { POLICY_HASH_PATTERN, readArchivedPolicySet } from '../store/policy-archive.js';

const POLICY_PATH = /^\/v1\/policies\/(.*)$/;

export function policyRoute(archive: ObjectStore): Route {
  return async (req, res, url) => {
    const m = POLICY_PATH.exec(url.pathname);
    if (req.method !== 'GET' || !m) return false;
    // Attacker-controlled; `sha256%3A…` is the same hash with its colon escaped.
    const hash = m[1]!.replace(/^sha256%3A/i, 'sha256:');
    if (!POLICY_HASH_PATTERN.test(hash)) return sendError(res, 'MALFORMED', 'a policy hash is sha256: and 64 lower-case hex digits'), true;
    const bytes = await readArchivedPolicySet(archive, hash);
    if (!bytes) return sendError(res, 'NOT_FOUND', `no policy set with hash ${hash} was archived`), true;
    if (`sha256:${sha256Hex(bytes)}` !== hash) return sendError(res, 'INTERNAL', `the archived policy set for ${hash} does not hash to it; the archive is damaged`), true;
    sendCacheable(req, res, 200, bytes, 'application/json', true, { 'x-chio-policy-hash': hash });
    return true;
  };
}
