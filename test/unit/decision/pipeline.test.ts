import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MAX_RECEIPT_PATH_CHARS, MAX_RECEIPT_TEXT_CHARS } from '../../../src/decision/pipeline.js';
import { toReceiptDraft, type Decision } from '../../../src/decision/decision.js';
import { CORRECTION_ROOM_BYTES, signNext } from '../../../src/chain/sign-next.js';
import { GENESIS_PREV, MAX_RECEIPT_BYTES } from '../../../src/receipt/receipt.js';
import { kernelOf } from '../receipt/helpers.js';
import { IssuerTrust } from '../../../src/credentials/capability.js';
import type { PolicySet } from '../../../src/policy/policy-set.js';
import { NOW_MS, capabilityToken, checkOf, later, pipelineOf, policySetOf, withCapability } from './fixtures.js';

/** A Check with these headers as Envoy would put them, names not lower-cased on the way (checkOf does). */
function withRawHeaders(headers: Record<string, string>) {
  const request = checkOf();
  request.attributes!.request!.http!.headers = headers;
  return request;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const SET = policySetOf();

const decide = (request: Parameters<ReturnType<typeof pipelineOf>['pipeline']['decide']>[0], policies: PolicySet = SET) =>
  pipelineOf(policies).pipeline.decide(request, later());

describe('DecisionPipeline.decide', () => {
  describe('when the request is malformed', () => {
    it.each([
      ['an encoded slash in the path', checkOf({ path: '/tools/a%2fb' }), 'path has an encoded slash'],
      ['a control character in the host', checkOf({ host: 'api\u0001.example' }), 'host has a control character'],
      ['a path longer than 16 KiB', checkOf({ path: `/${'a'.repeat(16 * 1024)}` }), 'path longer than 16384 bytes'],
      // toLowerCase would make it x-chio-capability-token: a name no upstream reads as that one.
      ['a header name with a Kelvin sign', withRawHeaders({ 'x-chio-capability-to\u212Aen': 'abc' }), 'a header name is not an HTTP token'],
      ['a header name with a space', checkOf({ headers: { 'x chio': 'abc' } }), 'a header name is not an HTTP token'],
    ])('denies %s by guard Request with REQUEST_MALFORMED, HTTP 403 and what was wrong', async (_name, request, reason) => {
      const d = await decide(request);
      expect(d).toEqual({
        verdict: 'deny', guard: 'Request', code: 'REQUEST_MALFORMED', reason, httpStatus: 403, shadow: false,
        // Never forwarded should shadow mode answer allow: no guard looked at the credentials.
        policyHash: SET.hash, request: {}, subject: {}, evidence: [{ guard: 'Request', verdict: 'deny' }], credentialHeaders: ['x-chio-capability-token', 'authorization'], decidedAt: NOW_MS,
      } satisfies Decision);
    });

    it('records the deny with shadow: true in shadow mode', async () => {
      const { pipeline } = pipelineOf(SET, { mode: 'shadow' });
      expect(await pipeline.decide(checkOf({ path: '/a%2f' }), later())).toMatchObject({ verdict: 'deny', guard: 'Request', shadow: true });
    });
  });

  describe('when reading the request fails for a reason that is not bad input', () => {
    it('denies by guard Internal without telling the client why, and reports the error', async () => {
      const request = checkOf();
      // A header list that is not a list: a bug-shaped failure, not a MALFORMED one.
      request.attributes!.request!.http!.header_map = { headers: {} as never };
      const { pipeline, internalErrors } = pipelineOf(SET);
      const d = await pipeline.decide(request, later());
      expect(d).toMatchObject({ verdict: 'deny', guard: 'Internal', code: 'DECISION_FAILED', reason: 'internal error' });
      expect(internalErrors).toHaveLength(1);
      expect(internalErrors[0]).toBeInstanceOf(TypeError);
    });
  });

  describe('the request it records', () => {
    it('holds method, host, path and the peers, and never a header or a credential', async () => {
      const token = capabilityToken();
      const d = await decide(checkOf({ path: '/tools/run', headers: withCapability(token), principal: 'cluster.local/ns/a/sa/b', sourceAddress: '10.1.1.1:1234' }));
      expect(d.request).toEqual({
        kind: 'http', id: expect.any(String), method: 'POST', host: 'api.example', path: '/tools/run', protocol: 'HTTP/1.1',
        source_principal: 'cluster.local/ns/a/sa/b', source_address: '10.1.1.1:1234', destination_address: '10.0.0.3:8080',
      });
      expect(JSON.stringify(d)).not.toContain(token);
    });

    it('keeps only the SHA-256 of the query string, which may carry credentials', async () => {
      const d = await decide(checkOf({ path: '/tools/run?access_token=secret&x=1' }));
      expect(d.request.path).toBe('/tools/run');
      expect(d.request.query_sha256).toBe(sha256('?access_token=secret&x=1'));
      expect(JSON.stringify(d)).not.toContain('secret');
    });

    it(`cuts a path longer than ${MAX_RECEIPT_PATH_CHARS} characters and keeps the SHA-256 of the whole`, async () => {
      const path = `/tools/${'p'.repeat(MAX_RECEIPT_PATH_CHARS)}`;
      const d = await decide(checkOf({ path }));
      expect(d.request).toMatchObject({ path: path.slice(0, MAX_RECEIPT_PATH_CHARS), path_truncated: true, path_sha256: sha256(path) });
    });

    it('records a valid W3C traceparent as sent, and leaves out an invalid one', async () => {
      const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
      expect((await decide(checkOf({ headers: { traceparent } }))).request.traceparent).toBe(traceparent);
      const invalid = await decide(checkOf({ headers: { traceparent: traceparent.toUpperCase() } }));
      expect(invalid.request).not.toHaveProperty('traceparent');
      expect(JSON.stringify(invalid)).not.toContain('4BF92F');
      expect((await decide(checkOf())).request).not.toHaveProperty('traceparent');
    });

    it('records an IPv6 socket address in brackets, with or without its port', async () => {
      const tcp = (address: string, port_value: number) => decide({ attributes: { source: { address: { socket_address: { address, port_value } } } } });
      expect((await tcp('2001:db8::1:5', 40000)).request).toEqual({ kind: 'tcp', source_address: '[2001:db8::1:5]:40000' });
      expect((await tcp('2001:db8::1:5', 0)).request).toEqual({ kind: 'tcp', source_address: '[2001:db8::1:5]' });
    });

    // A trusted issuer's token may carry an id and subject of thousands of characters, recorded
    // in `subject` and in the Capability evidence: with a long principal and request id, that
    // receipt was over MAX_RECEIPT_BYTES less its correction's room, refused, and the Check 503.
    it(`cuts a credential's id and subject to ${MAX_RECEIPT_TEXT_CHARS} characters, and the receipt of the largest request fits`, async () => {
      // As long as an 8 KiB token holds (a token's id and subject are at most 1024 characters).
      const token = capabilityToken({ id: '€'.repeat(500), subject: '€'.repeat(1024) });
      // The request's fields at their bounds in bytes, each byte a `"` that JSON writes as two.
      const wide = { path: `/tools/${'p'.repeat(MAX_RECEIPT_PATH_CHARS)}`, principal: '"'.repeat(1024), sourceAddress: `${'"'.repeat(256)}:1`, destinationAddress: `${'"'.repeat(256)}:2` };
      const request = checkOf({ ...wide, headers: withCapability(token) });
      request.attributes!.request!.http!.id = '"'.repeat(MAX_RECEIPT_TEXT_CHARS);
      const d = await decide(request);
      expect(d.verdict).toBe('allow');
      expect(d.subject).toMatchObject({ capability_id: '€'.repeat(MAX_RECEIPT_TEXT_CHARS), subject: '€'.repeat(MAX_RECEIPT_TEXT_CHARS) });
      expect(d.evidence.find((e) => e.guard === 'Capability')?.details).toEqual({ capability_id: '€'.repeat(MAX_RECEIPT_TEXT_CHARS), subject: '€'.repeat(MAX_RECEIPT_TEXT_CHARS) });
      const refused: string[] = [];
      const kernel = kernelOf(5);
      signNext({ chain: 'c', kernelKey: kernel.verifierKey, signer: kernel.signer }, { seq: 0, id: GENESIS_PREV }, [toReceiptDraft(d, new Date(NOW_MS).toISOString())], MAX_RECEIPT_BYTES - CORRECTION_ROOM_BYTES, (_, err) => refused.push(err.message));
      expect(refused).toEqual([]);
    });

    it('says only what a TCP check knows', async () => {
      const d = await decide({ attributes: { source: { address: { socket_address: { address: '10.0.0.9', port_value: 40000 } } } } });
      expect(d.request).toEqual({ kind: 'tcp', source_address: '10.0.0.9:40000' });
    });
  });

  describe('the policy set', () => {
    it('is read anew for every Check, and its hash recorded', async () => {
      let current = SET;
      const { pipeline } = pipelineOf(() => current);
      expect((await pipeline.decide(checkOf({ headers: withCapability() }), later())).policyHash).toBe(SET.hash);
      current = { ...SET, hash: `sha256:${'cd'.repeat(32)}` };
      expect((await pipeline.decide(checkOf({ headers: withCapability() }), later())).policyHash).toBe(current.hash);
    });

    it('does not lend capability verifications from one set to the next: a dropped issuer is no longer trusted', async () => {
      let current = SET;
      const { pipeline } = pipelineOf(() => current);
      expect((await pipeline.decide(checkOf({ headers: withCapability() }), later())).verdict).toBe('allow');
      current = { ...SET, issuers: new IssuerTrust([]) };
      expect(await pipeline.decide(checkOf({ headers: withCapability() }), later())).toMatchObject({ verdict: 'deny', code: 'CAPABILITY_UNTRUSTED_ISSUER' });
    });
  });

  describe('the deadline', () => {
    it('is handed to the JWT authenticator, which must not wait past it', async () => {
      const deadlines: number[] = [];
      const jwt = { authenticate: async (_input: unknown, deadline: number) => (deadlines.push(deadline), { verdict: 'skip' as const }) };
      const { pipeline } = pipelineOf({ ...SET, jwt: jwt as unknown as PolicySet['jwt'] });
      await pipeline.decide(checkOf({ headers: withCapability() }), 123_456);
      expect(deadlines).toEqual([123_456]);
    });
  });
});
