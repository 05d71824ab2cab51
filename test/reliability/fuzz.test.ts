/**
 * Fuzzing with fast-check (issue #12): structure-aware CheckRequests against the decision core,
 * and random input to every parser that reads something from outside.
 *
 * Properties:
 *   - decide() never throws and never reports an internal error: every hostile request is a
 *     decision with a reason (an internal error is a deny too, but it means a case went
 *     unhandled);
 *   - never an allow without a credential that verifies: random or mangled tokens are denied;
 *   - parsers (canonical JSON, capability tokens, signed notes, checkpoints, verifier keys,
 *     policy files) refuse random input with a typed ChioError, never anything else.
 *
 * Seeds are printed by fast-check on failure; FUZZ_RUNS raises the number of runs.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CheckRequest } from '../../src/authz/wire.js';
import { isChioError } from '../../src/errors/index.js';
import { parseCanonical } from '../../src/receipt/jcs.js';
import { decodeCapabilityToken, verifyCapability } from '../../src/credentials/capability.js';
import { openNote, parseVerifierKey } from '../../src/tlog/note.js';
import { openCheckpoint, parseCheckpoint } from '../../src/tlog/checkpoint.js';
import { loadPolicySetFiles } from '../../src/policy/policy-set.js';
import { generateKeys } from '../../src/keys.js';
import {
  ISSUER, ISTIO_JWT, JWT_READS, NOW_MS, TOOLS_WITH_CAPABILITY, DENY_ADMIN, capabilityToken, checkOf, later, pipelineOf, policySetOf,
} from '../unit/decision/fixtures.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const SET = policySetOf({ authorization: [TOOLS_WITH_CAPABILITY, JWT_READS, DENY_ADMIN], jwt: true });
const TOKEN = capabilityToken();

/** Only a ChioError may come out of a parser given hostile input. */
function refusesTyped(parse: () => unknown): void {
  try {
    parse();
  } catch (err) {
    if (!isChioError(err)) throw new Error(`not a ChioError: ${String(err)}`, { cause: err });
  }
}

// ---- hostile CheckRequests ----------------------------------------------------------------

const nasty = fc.oneof(
  fc.string({ maxLength: 64 }),
  fc.string({ unit: 'grapheme', maxLength: 32 }),
  fc.string({ unit: 'binary', maxLength: 32 }),
  fc.constantFrom('', ' ', '%', '%zz', '%00', '\u0000', '..', '/..', '\\', '//', ';', '?', '#', '*', 'Bearer', 'Bearer ', '\r\n', '\uffff', '\ud800'),
  fc.string({ maxLength: 4096 }).map((s) => s.repeat(4)),
);
const b64url = fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split('')), maxLength: 200 });
const tokenLike = fc.oneof(
  b64url,
  fc.tuple(b64url, b64url, b64url).map((parts) => parts.join('.')),
  fc.tuple(b64url, b64url).map((parts) => parts.join('.')),
  fc.nat({ max: TOKEN.length - 1 }).map((n) => TOKEN.slice(0, n)),
  nasty,
);
const pathLike = fc.oneof(
  fc.constantFrom('/tools/run', '/tools/../admin', '/admin', '/jwt/x', '/%2e%2e/admin', '/tools/%2F..%2Fadmin', '/tools/run?x=1', '/tools/run#f'),
  fc.tuple(fc.constantFrom('/', '\\', '', '//'), nasty).map(([a, b]) => a + b),
  nasty,
);
const hostLike = fc.oneof(fc.constantFrom('api.example', 'API.EXAMPLE.', 'api.example:80', '[::1]', '127.0.0.1', '0x7f.1', 'a@b', 'api.example:99999'), nasty);
const methodLike = fc.oneof(fc.constantFrom('GET', 'POST', 'get', 'CONNECT', 'OPTIONS'), nasty);
const headerName = fc.oneof(fc.constantFrom('authorization', 'x-chio-capability-token', 'cookie', ':path', ':authority', 'x-forwarded-for', 'traceparent'), fc.string({ maxLength: 40 }));
const headersLike = fc.dictionary(headerName, fc.oneof(nasty, tokenLike, tokenLike.map((t) => `Bearer ${t}`)), { maxKeys: 12 });

/** A CheckRequest, then broken in structure: fields dropped, wrong types, absurd numbers. */
const checkRequest = fc
  .record({
    method: methodLike, path: pathLike, host: hostLike, headers: headersLike,
    principal: fc.option(nasty, { nil: undefined }),
    mangle: fc.constantFrom('none', 'none', 'no-http', 'no-attributes', 'headers-array', 'path-number', 'no-source', 'huge-port', 'null-request'),
  })
  .map(({ mangle, ...o }): CheckRequest => {
    const req = checkOf({ ...o, ...(o.principal !== undefined ? { principal: o.principal } : {}) }) as unknown as { attributes: Record<string, any> };
    const http = req.attributes.request.http;
    if (mangle === 'no-http') delete req.attributes.request.http;
    if (mangle === 'no-attributes') delete (req as Partial<typeof req>).attributes;
    if (mangle === 'headers-array') http.headers = Object.entries(http.headers);
    if (mangle === 'path-number') http.path = 42;
    if (mangle === 'no-source') delete req.attributes.source;
    if (mangle === 'huge-port') req.attributes.source.address.socket_address.port_value = 2 ** 40;
    if (mangle === 'null-request') req.attributes.request = null;
    return req as unknown as CheckRequest;
  });

describe('the decision core under hostile CheckRequests', () => {
  it('always decides, with a reason, and never reports an internal error', async () => {
    await fc.assert(
      fc.asyncProperty(checkRequest, async (request) => {
        const { pipeline, internalErrors } = pipelineOf(SET);
        const decision = await pipeline.decide(request, later());
        expect(['allow', 'deny']).toContain(decision.verdict);
        if (decision.verdict === 'deny') expect(decision.reason?.length ?? 0).toBeGreaterThan(0);
        expect(internalErrors).toEqual([]);
      }),
      { numRuns: RUNS },
    );
  });

  it('never allows without a credential that verifies (random, truncated and mangled tokens)', async () => {
    const mangled = fc.tuple(fc.nat({ max: TOKEN.length - 2 }), fc.constantFrom(...'AQgw-_'.split(''))).map(([i, ch]) => {
      // Never the last character of a base64url segment: its low bits may not count.
      const at = TOKEN[i + 1] === '.' ? i - 1 : i;
      return TOKEN[at] === ch || TOKEN[at] === '.' ? `${TOKEN}x` : TOKEN.slice(0, at) + ch + TOKEN.slice(at + 1);
    });
    const where = fc.constantFrom('x-chio-capability-token', 'authorization');
    await fc.assert(
      fc.asyncProperty(fc.oneof(tokenLike, mangled, fc.constant(ISTIO_JWT.slice(0, -3) + 'abc')), where, fc.constantFrom('/tools/run', '/jwt/x'), async (token, header, path) => {
        const { pipeline } = pipelineOf(SET);
        const method = path.startsWith('/jwt') ? 'GET' : 'POST';
        const value = header === 'authorization' ? `Bearer ${token}` : token;
        const decision = await pipeline.decide(checkOf({ method, path, headers: { [header]: value } }), later());
        expect(decision.verdict, `${header}: ${value.slice(0, 80)}`).toBe('deny');
      }),
      { numRuns: RUNS },
    );
  });

  it('allows the real token (the property above is not vacuous)', async () => {
    const { pipeline } = pipelineOf(SET);
    expect((await pipeline.decide(checkOf({ headers: { 'x-chio-capability-token': TOKEN } }), later())).verdict).toBe('allow');
  });
});

// ---- parsers ----------------------------------------------------------------------------

const bytes = fc.uint8Array({ maxLength: 512 });
const jsonish = fc.oneof(fc.json(), fc.jsonValue().map((v) => JSON.stringify(v)), fc.string({ maxLength: 300 }));
const noteish = fc.oneof(
  fc.string({ maxLength: 400 }),
  fc.tuple(fc.string({ maxLength: 40 }), fc.nat(), b64url, fc.string({ maxLength: 40 }), b64url).map(([origin, n, hash, name, sig]) => `${origin}\n${n}\n${hash}=\n\n\u2014 ${name} ${sig}\n`),
);

describe('parsers under random input', () => {
  it('parseCanonical refuses with a ChioError', () => {
    fc.assert(fc.property(fc.oneof(bytes, jsonish.map((s) => new TextEncoder().encode(s))), (input) => refusesTyped(() => parseCanonical(input))), { numRuns: RUNS });
  });

  it('capability tokens are refused with a ChioError', () => {
    const trust = policySetOf().issuers;
    fc.assert(
      fc.property(tokenLike, (token) => {
        refusesTyped(() => decodeCapabilityToken(token));
        refusesTyped(() => verifyCapability(token, trust, NOW_MS / 1000));
      }),
      { numRuns: RUNS },
    );
  });

  it('signed notes, checkpoints and verifier keys are refused with a ChioError', () => {
    const verifier = parseVerifierKey(ISSUER.verifierKey);
    fc.assert(
      fc.property(noteish, (text) => {
        refusesTyped(() => openNote(text, [verifier]));
        refusesTyped(() => parseCheckpoint(text));
        refusesTyped(() => openCheckpoint(text, verifier));
        refusesTyped(() => parseVerifierKey(text));
      }),
      { numRuns: RUNS },
    );
  });

  it('policy files of random YAML and JSON are refused with a ChioError', () => {
    const dir = mkdtempSync(join(tmpdir(), 'chio-fuzz-policy-'));
    const keyDir = join(dir, 'keys');
    generateKeys(keyDir, 'fuzz.local/log');
    const yamlish = fc.oneof(
      jsonish,
      fc.string({ maxLength: 300 }),
      fc.record({ apiVersion: fc.constantFrom('security.istio.io/v1', 'json.kyverno.io/v1alpha1', 'chio.dev/v1', 'x'), kind: fc.constantFrom('AuthorizationPolicy', 'ValidatingPolicy', 'RequestAuthentication', 'Capabilities', 'Other'), metadata: fc.anything(), spec: fc.anything() })
        .map((doc) => JSON.stringify(doc)),
    );
    let n = 0;
    fc.assert(
      fc.property(yamlish, (text) => {
        const file = join(dir, `p${n++}.yaml`);
        writeFileSync(file, text);
        refusesTyped(() => loadPolicySetFiles([file], keyDir));
      }),
      { numRuns: Math.min(RUNS, 200) },
    );
  });
});
