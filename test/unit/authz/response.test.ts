import { describe, expect, it } from 'vitest';
import { allowed, denied, type Decision, type DecisionFacts } from '../../../src/decision/decision.js';
import { HEADERS_TO_REMOVE, toCheckResponse, toUnstoredResponse } from '../../../src/authz/response.js';
import { GRPC, type ChioErrorCode, type DenialGuard } from '../../../src/errors/index.js';
import type { CheckResponse, HeaderValueOption } from '../../../src/authz/wire.js';
import { GENESIS_PREV } from '../../../src/receipt/receipt.js';
import { draftOf, kernelOf, signReceipt } from '../receipt/helpers.js';

const POLICY_HASH = `sha256:${'5e'.repeat(32)}`;
const RECEIPT = signReceipt(draftOf(0), { chain: 'authz-1', seq: 1, prev: GENESIS_PREV }, kernelOf(4));
const REQUEST = { method: 'POST', host: 'api.example', path: '/tools/run' };

const FACTS: DecisionFacts = { shadow: false, policyHash: POLICY_HASH, request: REQUEST, subject: {}, evidence: [], credentialHeaders: [] };
const denyOf = (guard: DenialGuard, code: ChioErrorCode, reason: string): Decision => denied(guard, { code, reason }, FACTS);
const ALLOW = allowed(FACTS);
const FORBIDDEN = denyOf('Policy', 'POLICY_NO_MATCH', 'no ALLOW policy matched');
const UNAUTHENTICATED = denyOf('Capability', 'CAPABILITY_MALFORMED', 'capability token is missing');

/** envoy.config.core.v3.HeaderValueOption with OVERWRITE_IF_EXISTS_OR_ADD (2). */
const hvo = (key: string, value: string): HeaderValueOption => ({ header: { key, value }, append_action: 2 });
const valueOf = (headers: HeaderValueOption[] | undefined, key: string) => headers?.find((h) => h.header.key === key)?.header.value;
const chioFields = (r: CheckResponse) => r.dynamic_metadata?.fields.chio;
/** Chio's headers an allow does not set: a client's own copy of each is removed before upstream. */
const UNSET_ON_ALLOW = ['x-chio-shadow-verdict', 'x-chio-denial-guard', 'x-chio-denial-reason'];

describe('toCheckResponse', () => {
  describe('when the decision is allow', () => {
    const response = toCheckResponse(ALLOW, RECEIPT);
    const three = [hvo('x-chio-receipt-id', RECEIPT.id), hvo('x-chio-policy-hash', POLICY_HASH), hvo('x-chio-verdict', 'allow')];

    it('answers exactly the SPEC §2 allow contract', () => {
      expect(response).toEqual({
        status: { code: 0 },
        ok_response: { headers: three, headers_to_remove: ['x-chio-capability-token', ...UNSET_ON_ALLOW], response_headers_to_add: three },
        dynamic_metadata: {
          fields: {
            chio: { structValue: { fields: { verdict: { stringValue: 'allow' }, policy_hash: { stringValue: POLICY_HASH }, receipt_id: { stringValue: RECEIPT.id } } } },
          },
        },
      });
      expect(GRPC.OK).toBe(0);
      expect(HEADERS_TO_REMOVE).toEqual(['x-chio-capability-token']);
    });

    it('sets append_action 2 (OVERWRITE_IF_EXISTS_OR_ADD) on every header, to upstream and to the client', () => {
      const all = [...response.ok_response!.headers, ...response.ok_response!.response_headers_to_add];
      expect(all).toHaveLength(6);
      for (const h of all) expect(h.append_action).toBe(2);
    });

    it('has no denied_response', () => {
      expect(response.denied_response).toBeUndefined();
    });
  });

  describe('when the decision is shadow', () => {
    it('answers allow with x-chio-shadow-verdict: deny for a would-be deny', () => {
      const response = toCheckResponse({ ...FORBIDDEN, shadow: true }, RECEIPT);
      expect(response.status.code).toBe(GRPC.OK);
      expect(response.denied_response).toBeUndefined();
      const expected = [
        hvo('x-chio-receipt-id', RECEIPT.id), hvo('x-chio-policy-hash', POLICY_HASH), hvo('x-chio-verdict', 'allow'), hvo('x-chio-shadow-verdict', 'deny'),
      ];
      // x-chio-shadow-verdict is set here, so it is not removed: Envoy removes after it sets.
      expect(response.ok_response).toEqual({ headers: expected, headers_to_remove: ['x-chio-capability-token', 'x-chio-denial-guard', 'x-chio-denial-reason'], response_headers_to_add: expected });
      // The access log records the would-be decision, as the receipt does.
      expect(chioFields(response)).toEqual({
        structValue: {
          fields: { verdict: { stringValue: 'deny' }, policy_hash: { stringValue: POLICY_HASH }, receipt_id: { stringValue: RECEIPT.id }, guard: { stringValue: 'Policy' } },
        },
      });
    });

    it('answers allow with x-chio-shadow-verdict: allow for a would-be allow', () => {
      const response = toCheckResponse({ ...ALLOW, shadow: true }, RECEIPT);
      expect(response.status.code).toBe(GRPC.OK);
      expect(valueOf(response.ok_response?.headers, 'x-chio-shadow-verdict')).toBe('allow');
      expect(valueOf(response.ok_response?.response_headers_to_add, 'x-chio-shadow-verdict')).toBe('allow');
      expect(valueOf(response.ok_response?.headers, 'x-chio-verdict')).toBe('allow');
    });
  });

  describe('when the decision is deny, forbidden', () => {
    const response = toCheckResponse(FORBIDDEN, RECEIPT);

    it('answers grpc 7 and HTTP 403 with the SPEC §2 deny headers and body', () => {
      const body = JSON.stringify({ verdict: 'deny', guard: 'Policy', reason: 'no ALLOW policy matched', receipt_id: RECEIPT.id });
      expect(response).toEqual({
        status: { code: 7, message: 'no ALLOW policy matched' },
        denied_response: {
          status: { code: 403 },
          headers: [
            hvo('x-chio-verdict', 'deny'),
            hvo('x-chio-denial-guard', 'Policy'),
            hvo('x-chio-denial-reason', 'no ALLOW policy matched'),
            hvo('x-chio-receipt-id', RECEIPT.id),
            hvo('content-type', 'application/json'),
          ],
          body,
        },
        dynamic_metadata: {
          fields: {
            chio: {
              structValue: {
                fields: { verdict: { stringValue: 'deny' }, policy_hash: { stringValue: POLICY_HASH }, receipt_id: { stringValue: RECEIPT.id }, guard: { stringValue: 'Policy' } },
              },
            },
          },
        },
      });
      expect(GRPC.PERMISSION_DENIED).toBe(7);
    });

    it('has a JSON body with exactly verdict, guard, reason and receipt_id', () => {
      expect(JSON.parse(response.denied_response!.body)).toEqual({ verdict: 'deny', guard: 'Policy', reason: 'no ALLOW policy matched', receipt_id: RECEIPT.id });
    });

    it('has no ok_response', () => {
      expect(response.ok_response).toBeUndefined();
    });
  });

  describe('when the decision is deny, unauthenticated', () => {
    it('answers grpc 16 and HTTP 401', () => {
      const response = toCheckResponse(UNAUTHENTICATED, RECEIPT);
      expect(GRPC.UNAUTHENTICATED).toBe(16);
      expect(response.status).toEqual({ code: 16, message: 'capability token is missing' });
      expect(response.denied_response?.status).toEqual({ code: 401 });
      expect(valueOf(response.denied_response?.headers, 'x-chio-denial-guard')).toBe('Capability');
      expect(valueOf(response.denied_response?.headers, 'x-chio-receipt-id')).toBe(RECEIPT.id);
    });
  });

  describe('when the pipeline failed (DECISION_FAILED)', () => {
    it('answers grpc 7, HTTP 403, guard Internal and reason "internal error"', () => {
      const response = toCheckResponse(denyOf('Internal', 'DECISION_FAILED', 'internal error'), RECEIPT);
      expect(response.status.code).toBe(7);
      expect(response.denied_response?.status).toEqual({ code: 403 });
      expect(valueOf(response.denied_response?.headers, 'x-chio-denial-guard')).toBe('Internal');
      expect(valueOf(response.denied_response?.headers, 'x-chio-denial-reason')).toBe('internal error');
      expect(JSON.parse(response.denied_response!.body)).toMatchObject({ guard: 'Internal', reason: 'internal error' });
    });
  });

  describe('when the decision consumed credential headers', () => {
    it('removes them before upstream on an allow, with x-chio-capability-token always', () => {
      const response = toCheckResponse(allowed({ ...FACTS, credentialHeaders: ['authorization', 'x-chio-capability-token'] }), RECEIPT);
      expect(response.ok_response?.headers_to_remove).toEqual(['x-chio-capability-token', 'authorization', ...UNSET_ON_ALLOW]);
    });
  });

  describe('when a CEL policy denies with headers and no body', () => {
    const policyResponse = { headers: [{ key: 'content-type', value: 'text/plain' }, { key: 'www-authenticate', value: 'Bearer' }], headersToRemove: [], responseHeaders: [], body: '' };
    const response = toCheckResponse({ ...denyOf('Policy', 'POLICY_DENIED', 'denied'), policyResponse }, RECEIPT);

    it("sends Chio's JSON body with one content-type, its own, and the policy's other headers", () => {
      // Envoy sets every denied header in turn, so two content-types would both reach the client.
      expect(response.denied_response?.headers.filter((h) => h.header.key === 'content-type')).toEqual([hvo('content-type', 'application/json')]);
      expect(valueOf(response.denied_response?.headers, 'www-authenticate')).toBe('Bearer');
      expect(JSON.parse(response.denied_response!.body)).toMatchObject({ verdict: 'deny', guard: 'Policy' });
    });
  });

  describe('when a CEL policy allows with query parameters and a header kept empty', () => {
    const policyResponse = {
      headers: [{ key: 'x-trace', value: '', keepEmptyValue: true }],
      headersToRemove: [],
      responseHeaders: [],
      queryParametersToSet: [{ key: 'tenant', value: 'blue%20team' }],
      queryParametersToRemove: ['debug'],
    };
    const response = toCheckResponse({ ...ALLOW, policyResponse }, RECEIPT);
    it('sets and removes them upstream (query_parameters_to_set, query_parameters_to_remove)', () => {
      expect(response.ok_response?.query_parameters_to_set).toEqual([{ key: 'tenant', value: 'blue%20team' }]);
      expect(response.ok_response?.query_parameters_to_remove).toEqual(['debug']);
    });
    it('marks the empty header keep_empty_value, and no other', () => {
      expect(response.ok_response?.headers[0]).toEqual({ ...hvo('x-trace', ''), keep_empty_value: true });
      expect(response.ok_response?.headers.slice(1).every((h) => h.keep_empty_value === undefined)).toBe(true);
    });
    it('sends no query fields on an allow whose policy changes none', () => {
      expect(toCheckResponse(ALLOW, RECEIPT).ok_response).not.toHaveProperty('query_parameters_to_set');
    });
  });

  describe('when the reason holds CR/LF, controls or non-ASCII characters', () => {
    it.each([
      ['CR LF (header injection)', 'bad token\r\nx-chio-verdict: allow', 'bad token??x-chio-verdict: allow'],
      ['a lone LF', 'a\nb', 'a?b'],
      ['a tab and NUL', 'a\tb\0c', 'a?b?c'],
      ['DEL', 'a\x7fb', 'a?b'],
      ['Latin-1', 'café', 'caf?'],
      ['an astral character (two UTF-16 units)', 'ok 😀', 'ok ??'],
    ])('replaces each unsafe UTF-16 unit by "?" in the header for %s, and keeps the body exact', (_name, reason, safe) => {
      const response = toCheckResponse(denyOf('Policy', 'POLICY_DENIED', reason), RECEIPT);
      expect(valueOf(response.denied_response?.headers, 'x-chio-denial-reason')).toBe(safe);
      for (const h of response.denied_response!.headers) expect(h.header.value).toMatch(/^[\x20-\x7e]*$/);
      expect(response.denied_response!.headers.filter((h) => h.header.key === 'x-chio-verdict')).toEqual([hvo('x-chio-verdict', 'deny')]);
      expect(JSON.parse(response.denied_response!.body).reason).toBe(reason);
    });
  });
});

describe('toUnstoredResponse', () => {
  describe.each([
    ['an allow', ALLOW],
    ['a forbidden deny', FORBIDDEN],
    ['an unauthenticated deny', UNAUTHENTICATED],
    ['a shadow deny', { ...FORBIDDEN, shadow: true }],
  ] as const)('when the receipt for %s could not be stored', (_name, decision) => {
    const response = toUnstoredResponse(decision);

    it('denies with HTTP 503, grpc 7 and guard ReceiptLedger', () => {
      expect(response.status).toEqual({ code: 7, message: 'receipt could not be stored' });
      expect(response.ok_response).toBeUndefined();
      expect(response.denied_response?.status).toEqual({ code: 503 });
      expect(response.denied_response?.headers).toEqual([
        hvo('x-chio-verdict', 'deny'),
        hvo('x-chio-denial-guard', 'ReceiptLedger'),
        hvo('x-chio-denial-reason', 'receipt could not be stored'),
        hvo('content-type', 'application/json'),
      ]);
    });

    it('names no receipt id: not in headers, body or metadata', () => {
      expect(valueOf(response.denied_response?.headers, 'x-chio-receipt-id')).toBeUndefined();
      expect(JSON.parse(response.denied_response!.body)).toEqual({ verdict: 'deny', guard: 'ReceiptLedger', reason: 'receipt could not be stored' });
      expect(response.dynamic_metadata).toEqual({
        fields: {
          chio: { structValue: { fields: { verdict: { stringValue: 'deny' }, policy_hash: { stringValue: POLICY_HASH }, guard: { stringValue: 'ReceiptLedger' } } } },
        },
      });
    });
  });
});
